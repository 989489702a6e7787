import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crush.settings")
django_application = get_wsgi_application()

from crush.api.surfaces.hosts import SurfaceHostApplication  # noqa: E402 - after Django is set up
from crush.request_body import ChunkedBodyMiddleware  # noqa: E402

# gunicorn (make run, docker) serves this; SurfaceHostApplication serves a surface at the root of a host
# listed in CRUSH_SURFACE_HOSTS, ChunkedBodyMiddleware gives Django chunked request bodies.
application = SurfaceHostApplication(ChunkedBodyMiddleware(django_application))
