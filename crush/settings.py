"""All configuration comes from environment variables (see README "Configuration" and .env.example).

Infrastructure left unset falls back to the embedded defaults (SQLite, files and an embedded broker under
./var/); a value that is set but wrong fails at start-up with ImproperlyConfigured.
"""

import logging
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("CRUSH_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
if env.bool("CRUSH_READ_DOT_ENV", default=False):
    environ.Env.read_env(BASE_DIR / ".env")


def _int_renamed(name: str, *, old_name: str, default: int) -> int:
    """`name`; else its former name `old_name`, still read, with a deprecation warning; else `default`."""
    if name not in os.environ and old_name in os.environ:
        logging.getLogger(__name__).warning("%s is deprecated: set %s instead", old_name, name)
        return env.int(old_name)
    return env.int(name, default=default)


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY and (VAR_DIR / "secret_key").is_file():  # the embedded default `make run` generated
    SECRET_KEY = (VAR_DIR / "secret_key").read_text().strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (make run generates one in ./var)."
        )
    SECRET_KEY = "insecure-debug-only-key"  # noqa: S105 - only reachable with DEBUG on
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])


def _surface_hosts(value: str) -> dict[str, str]:
    """`api.imagerecycle.com=imagerecycle,images.example.com=crush` -> {host: surface name}."""
    names = {
        "crush": "crushpics",
        "crushpics": "crushpics",
        "imagerecycle": "imagerecycle",
        "tinify": "tinify",
        "kraken": "kraken",
    }
    hosts: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        host, _, name = item.partition("=")
        host, name = host.strip().lower().rstrip("."), name.strip().lower()
        if not host or name not in names:
            raise ImproperlyConfigured(
                f"CRUSH_SURFACE_HOSTS: {item!r} must be host=surface, surface one of "
                + ", ".join(sorted(names))
            )
        hosts[host] = names[name]
    return hosts


# Surfaces served at the root path for these Host names (crush.api.surfaces.hosts); they are allowed hosts.
CRUSH_SURFACE_HOSTS = _surface_hosts(env.str("CRUSH_SURFACE_HOSTS", default=""))
ALLOWED_HOSTS += [host for host in CRUSH_SURFACE_HOSTS if host not in ALLOWED_HOSTS]

INSTALLED_APPS = [
    "crush.apps.CrushAdminConfig",  # django.contrib.admin with the landing page of crush/admin_site.py
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "compression",
    "webhooks",
]

MIDDLEWARE = [
    "crush.api.surfaces.hosts.SurfaceHostMiddleware",  # first: every layer after it sees the surface's path
    "crush.middleware.RequestIdMiddleware",
    "crush.middleware.RequireHttpsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "crush.middleware.CsrfExceptApiMiddleware",  # CSRF on the admin, not on token/key-authenticated APIs
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "crush.urls"
WSGI_APPLICATION = "crush.wsgi.application"
APPEND_SLASH = False  # API routes match with and without the slash themselves; never redirect a POST

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "crush" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database: SQLite under ./var by default, DATABASE_URL (postgres://…) in production
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'crush.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets the web process read while a worker writes; IMMEDIATE avoids lock-upgrade deadlocks.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache (rate limiting, shared by every process): Redis in production, files under ./var otherwise
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_default_cache = (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else f"filecache://{VAR_DIR / 'cache'}"
)
CACHES = {"default": env.cache("CACHE_URL", default=_default_cache)}
if "redis" in CACHES["default"]["BACKEND"]:
    # A Redis that is away costs a request one second at most (the rate limit then fails open).
    CACHES["default"].setdefault("OPTIONS", {}).update({"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1})

# --- Celery: embedded filesystem broker under ./var by default, Redis in production
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's prefork pool, but one whose pool processes may be killed at any moment without stalling the rest:
# on the embedded broker (no event loop) a process killed while waiting for a job stalled the worker for good.
CELERY_WORKER_POOL = "crush.prefork:TaskPool"
CELERY_WORKER_MAX_TASKS_PER_CHILD = env.int(
    "CRUSH_WORKER_MAX_TASKS_PER_CHILD", default=200
)  # bounds libvips memory
# A new pool process must report up within this or it is killed and replaced. It inherits the engine loaded
# (crush/celery.py) and reports up in well under a second; the margin covers a machine under load.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env.float("CRUSH_WORKER_PROC_ALIVE_TIMEOUT_SECONDS", default=60.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Broker outages: workers and beat reconnect forever (never exit); an API request publishing a job gives up
# after about a second and keeps the job, marked unpublished, for the next worker that connects
# (compression.services.queue_repair).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.3,
    "interval_max": 0.5,
}
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    # Periodic upkeep has a queue of its own, consumed by the webhooks worker (Procfile), so that long
    # compression jobs filling the compression workers cannot delay the sweeper that re-enqueues lost jobs.
    "compression.tasks.stuck_jobs_sweep_task": {"queue": "maintenance"},
    "compression.tasks.expired_files_purge_task": {"queue": "maintenance"},
    # image_url downloads of asynchronous jobs: I/O, on the webhooks worker's threads, not behind compression.
    "compression.tasks.original_image_fetch_task": {"queue": "fetch"},
    "compression.tasks.*": {"queue": "compression"},
    "webhooks.tasks.*": {"queue": "webhooks"},
    "accounts.tasks.quota_months_open_task": {"queue": "maintenance"},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict] = {}
if CELERY_BROKER_URL.startswith("filesystem"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "control", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # An idle consumer looks for messages this often (kombu's default, 1 s, is what a synchronous job
        # waited on average half of before a worker took it); each look is one directory listing.
        "polling_interval": 0.1,
    }
elif CELERY_BROKER_URL.startswith("redis"):
    # Must exceed the hard job time limit, or Redis redelivers a job that is still running.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CRUSH_BROKER_VISIBILITY_TIMEOUT_SECONDS", default=3600),
    }
else:
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL must be redis://… or rediss://… (or unset for the embedded broker)"
    )

# --- storage: local files under ./var/media by default, S3 (or MinIO/moto) when a bucket is set
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="us-east-1")
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
AWS_DEFAULT_ACL = None
AWS_QUERYSTRING_AUTH = True
AWS_QUERYSTRING_EXPIRE = 300  # presigned download links live five minutes
AWS_S3_FILE_OVERWRITE = True  # keys are deterministic: a re-run job overwrites its own output
MEDIA_ROOT = VAR_DIR / "media"
if AWS_STORAGE_BUCKET_NAME:
    _files_storage: dict[str, object] = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    _files_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
STORAGES = {
    "default": _files_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # collectstatic target; whitenoise wants it to exist
WHITENOISE_USE_FINDERS = True  # serves admin and Swagger UI assets without a collectstatic step

# --- uploads: large files go to a temporary file, not memory
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 2**20
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("CRUSH_MAX_INPUT_BYTES", default=100 * 2**20)
FILE_UPLOAD_TEMP_DIR = None

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- HTTPS: plain-HTTP API calls get 403 (never a redirect, which would leak the token)
CRUSH_REQUIRE_HTTPS = env.bool("CRUSH_REQUIRE_HTTPS", default=False)
# X-Forwarded-Proto is believed only from these proxies (IP addresses or networks).
CRUSH_TRUSTED_PROXIES = env.list("CRUSH_TRUSTED_PROXIES", default=["127.0.0.1/32", "::1/128"])

# --- outbound requests (image_url downloads, webhooks)
CRUSH_ALLOW_PRIVATE_URLS = env.bool("CRUSH_ALLOW_PRIVATE_URLS", default=False)
CRUSH_FETCH_CONNECT_TIMEOUT_SECONDS = env.float("CRUSH_FETCH_CONNECT_TIMEOUT_SECONDS", default=5.0)
CRUSH_FETCH_READ_TIMEOUT_SECONDS = env.float("CRUSH_FETCH_READ_TIMEOUT_SECONDS", default=30.0)
CRUSH_FETCH_TOTAL_TIMEOUT_SECONDS = env.float(
    "CRUSH_FETCH_TOTAL_TIMEOUT_SECONDS", default=60.0
)  # whole download

# --- input limits, checked before any pixel is decoded
CRUSH_MAX_INPUT_BYTES = DATA_UPLOAD_MAX_MEMORY_SIZE  # hard cap above every account's file_max_size
CRUSH_MAX_PIXELS = env.int("CRUSH_MAX_PIXELS", default=100_000_000)  # 100 MP: a 10000×10000 poster
CRUSH_MAX_FRAMES = env.int("CRUSH_MAX_FRAMES", default=1000)  # long screencast GIFs stay under this
CRUSH_MAX_PDF_PAGES = env.int("CRUSH_MAX_PDF_PAGES", default=2000)  # large manuals
CRUSH_MAX_SVG_BYTES = env.int("CRUSH_MAX_SVG_BYTES", default=5 * 2**20)  # SVG is parsed fully in memory
CRUSH_JOB_TIME_LIMIT_SECONDS = env.int("CRUSH_JOB_TIME_LIMIT_SECONDS", default=300)
# A job not ended this long after its last claim is taken to be lost (dead worker, lost message) and
# enqueued again by the sweeper; it must exceed the job time limit or a running job would be run twice.
CRUSH_JOB_LEASE_SECONDS = env.int("CRUSH_JOB_LEASE_SECONDS", default=CRUSH_JOB_TIME_LIMIT_SECONDS + 120)
CRUSH_JOB_MAX_ATTEMPTS = env.int(
    "CRUSH_JOB_MAX_ATTEMPTS", default=3
)  # a file that keeps crashing workers fails
CRUSH_SWEEP_INTERVAL_SECONDS = env.int("CRUSH_SWEEP_INTERVAL_SECONDS", default=60)
# A synchronous request (/v1/compress, ImageRecycle POST images) waits this long for its job (run by a `sync`
# worker), then answers with the job as it stands; it goes on as an asynchronous job.
CRUSH_SYNC_WAIT_SECONDS = env.float("CRUSH_SYNC_WAIT_SECONDS", default=60.0)
# The engine time of a synchronous job (all its outputs): its searches stop at their share of it with their
# best output meeting the quality floor, else the lossless result, else the input (anytime search). 3.5 s
# keeps a sync `balanced` answer for inputs up to 12 MP within 5 s (p95): clients time out after 10 s.
# Google Cloud Storage's JSON API, where a Tinify `store` with `service: gcs` uploads (another address: an
# operator's or a test's stand-in only; customers never choose it).
CRUSH_GCS_ENDPOINT = env.str("CRUSH_GCS_ENDPOINT", default="https://storage.googleapis.com")
if not CRUSH_GCS_ENDPOINT.startswith(("https://", "http://")):
    raise ImproperlyConfigured("CRUSH_GCS_ENDPOINT must be an http(s) URL")
# An asynchronous image_url submit waits this long for the download, so that it answers the original's size.
CRUSH_URL_SIZE_WAIT_SECONDS = env.float("CRUSH_URL_SIZE_WAIT_SECONDS", default=10.0)
if CRUSH_URL_SIZE_WAIT_SECONDS < 0:
    raise ImproperlyConfigured("CRUSH_URL_SIZE_WAIT_SECONDS must be 0 or more")
CRUSH_SYNC_SEARCH_SECONDS = env.float("CRUSH_SYNC_SEARCH_SECONDS", default=3.5)
if CRUSH_SYNC_SEARCH_SECONDS <= 0:
    raise ImproperlyConfigured("CRUSH_SYNC_SEARCH_SECONDS must be more than 0")
# On SIGTERM (or Ctrl-C on `make run`) a worker lets its jobs run this long, then hands the rest back to the
# queue. 60 s covers most jobs without making a deploy wait for the rare 5-minute one (crush/celery.py).
CRUSH_WORKER_GRACE_SECONDS = env.int("CRUSH_WORKER_GRACE_SECONDS", default=60)
if CRUSH_WORKER_GRACE_SECONDS < 0:
    raise ImproperlyConfigured("CRUSH_WORKER_GRACE_SECONDS must be 0 or more")
CELERY_TASK_ANNOTATIONS = {
    "compression.tasks.original_image_process_task": {"time_limit": CRUSH_JOB_TIME_LIMIT_SECONDS},
}
CELERY_BEAT_SCHEDULE["compression-stuck-jobs-sweep"] = {
    "task": "compression.tasks.stuck_jobs_sweep_task",
    "schedule": CRUSH_SWEEP_INTERVAL_SECONDS,
}
CELERY_BEAT_SCHEDULE["compression-expired-files-purge"] = {
    "task": "compression.tasks.expired_files_purge_task",
    "schedule": 3600,
}
CRUSH_MAX_RESIZE_STYLES = 10

# --- accounts
# Downloads redirect to a presigned S3 URL instead of streaming through the app (bucket reachable by clients)
CRUSH_FILES_REDIRECT_TO_S3 = env.bool("CRUSH_FILES_REDIRECT_TO_S3", default=False)
CRUSH_RETENTION_DAYS = _int_renamed("CRUSH_RETENTION_DAYS", old_name="RETENTION_DAYS", default=30)
CRUSH_DEFAULT_PLAN_BYTES = env.int("CRUSH_DEFAULT_PLAN_BYTES", default=1024 * 2**20)  # 1 GiB a month
CRUSH_DEFAULT_FILE_MAX_SIZE_BYTES = env.int("CRUSH_DEFAULT_FILE_MAX_SIZE_BYTES", default=32 * 2**20)
CRUSH_RATE_LIMIT = env.str("CRUSH_RATE_LIMIT", default="1200/min")  # per API token or key
# Hourly: the month's reset (subscription_updated) reaches accounts uploading nothing yet within the hour; a
# missed run is caught up by the next.
CELERY_BEAT_SCHEDULE["accounts-quota-months-open"] = {
    "task": "accounts.tasks.quota_months_open_task",
    "schedule": 3600,
}

# --- webhooks (Standard Webhooks delivery to callback URLs)
# The whole POST, connection included (API.md).
CRUSH_WEBHOOK_TIMEOUT_SECONDS = env.float("CRUSH_WEBHOOK_TIMEOUT_SECONDS", default=15.0)
# Waits before retries 1–9 (the Standard Webhooks schedule, about 3 days in all); then the delivery failed.
CRUSH_WEBHOOK_RETRY_SCHEDULE_SECONDS = [
    int(seconds)
    for seconds in env.list(
        "CRUSH_WEBHOOK_RETRY_SCHEDULE_SECONDS",
        default=[5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400],
    )
]
CRUSH_WEBHOOK_RETRY_SCALE = env.float("CRUSH_WEBHOOK_RETRY_SCALE", default=1.0)  # multiplies each wait
# A callback URL whose every delivery failed for this long is disabled (5 days).
CRUSH_WEBHOOK_DISABLE_AFTER_FAILING_SECONDS = env.int(
    "CRUSH_WEBHOOK_DISABLE_AFTER_FAILING_SECONDS", default=5 * 86400
)
CRUSH_WEBHOOK_SWEEP_INTERVAL_SECONDS = env.int("CRUSH_WEBHOOK_SWEEP_INTERVAL_SECONDS", default=30)
# A due delivery whose broker message has not run this long after it should have is enqueued again.
CRUSH_WEBHOOK_REQUEUE_AFTER_SECONDS = env.int("CRUSH_WEBHOOK_REQUEUE_AFTER_SECONDS", default=60)
CELERY_BEAT_SCHEDULE["webhooks-deliveries-requeue-lost"] = {
    "task": "webhooks.tasks.deliveries_requeue_lost_task",
    "schedule": CRUSH_WEBHOOK_SWEEP_INTERVAL_SECONDS,
}
CELERY_BEAT_SCHEDULE["webhooks-events-prune"] = {
    "task": "webhooks.tasks.webhook_events_prune_task",
    "schedule": 86400,
}

# --- REST framework and OpenAPI
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "crush.api.jsonbody.BoundedJSONParser",
        "crush.api.multipart.Utf8HeadersMultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    # Each surface's base view (crush.api.views.SurfaceApi) brings its own exception handler.
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"token": CRUSH_RATE_LIMIT},
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Crush API",
    "DESCRIPTION": "Image & PDF compression: the Crush.pics-compatible /v1/ and the ImageRecycle surfaces.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["crush.api.schema.one_path_per_route"],
    "ENUM_NAME_OVERRIDES": {"CompressionTypeEnum": ["lossy", "lossless", "balanced"]},
}

# --- logging: one line per record, with the request id
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "crush.middleware.RequestIdLogFilter"}},
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}
