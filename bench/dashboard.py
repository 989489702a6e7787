"""Dashboard benchmark: GET /v1/dashboard for an account with 1,000,000 originals, in PostgreSQL.

Seeds (once; --reseed to start over) a platform-sized database with generate_series INSERTs:
- the benchmarked account (+ one sub-account): 1,000,000 originals over the last year, each with its
  `original` style and every fifth with a `thumb` style, and their consumption ledger — one row per
  (account, day, origin) over 365 days and six origins, the `files` summing to 1,000,000 and the
  `optimized_files` to 1,200,000 (the dashboard's counts are these sums);
- 2,000 other accounts with a year of ledger rows each (two origins), so the ledger index has to do its job.
Then times the endpoint through Django's test client (in process: URL routing, Bearer authentication,
throttling, selectors, serialization — no socket), warm and with the cache (throttle counters, nothing else)
emptied before each request.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crush_dashboard_bench .venv/bin/python bench/dashboard.py

(`make bench-dashboard` does the same.) The database is created when missing.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crush_dashboard_bench"
os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
os.environ.setdefault("CACHE_URL", "locmemcache://")
os.environ.setdefault("CRUSH_RATE_LIMIT", "1000000/min")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crush.settings")

import django  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

ORIGINALS = 1_000_000
THUMBS = ORIGINALS // 5  # every fifth original also has a `thumb` style
SUB_ACCOUNT_SHARE = 10  # every tenth original belongs to the sub-account
DAYS = 365
ORIGINS = ("file", "api", "url", "wp", "shopify", "shopify_article")
OTHER_ACCOUNTS = 2_000
REPORT_TYPES = ("week", "month", "six_months")
LOGIN = "bench-dashboard"


def ensure_database(url: str) -> None:
    name = str(psycopg.conninfo.conninfo_to_dict(url)["dbname"])
    with psycopg.connect(psycopg.conninfo.make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def seed(reseed: bool) -> None:
    from django.db import connection

    from accounts.models import Account, ConsumptionDay
    from accounts.services import account_create

    existing = Account.objects.filter(login=LOGIN).first()
    if existing and not reseed:
        if ConsumptionDay.objects.filter(account=existing, optimized_files__gt=0).exists():
            print(f"seed: account {LOGIN} exists, reusing it (--reseed to start over)")
            return
        print("seed: the ledger predates optimized_files, seeding again")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE accounts_account, accounts_consumptionday, compression_originalimage, "
            "compression_optimizedimage RESTART IDENTITY CASCADE"
        )
    account = account_create(login=LOGIN, plan_bytes=None)
    sub = account_create(login=f"{LOGIN}-sub", parent=account, plan_bytes=None)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_account (login, email, title, description, plan_code, plan_name, plan_price,
                plan_bytes, file_max_size, compression_type, compression_level_jpg, compression_level_png,
                compression_level_gif, is_active, created_at, updated_at)
            SELECT 'other-' || g, '', '', '', 'free', 'Free', 0, 1073741824, 33554432, 'balanced', 80, 80, 80,
                true, now(), now()
            FROM generate_series(1, %s) g
            """,
            [OTHER_ACCOUNTS],
        )
        # The benchmarked ledger: day d, origin o gets files (and thumbs) so that the year sums to ORIGINALS
        # (and THUMBS) exactly; optimized_files = the `original` style of each file + the thumbs.
        cells = DAYS * len(ORIGINS)
        cursor.execute(
            """
            INSERT INTO accounts_consumptionday (account_id, day, origin, files, optimized_files,
                bytes_before, bytes_after)
            SELECT CASE WHEN cell %% %s = 0 THEN %s ELSE %s END, day, origin, files, files + thumbs,
                files * 250000, files * 110000
            FROM (
                SELECT row_number() OVER () AS cell, (CURRENT_DATE - d) AS day, o AS origin,
                    %s / %s + CASE WHEN (d * %s + i - 1) < %s %% %s THEN 1 ELSE 0 END AS files,
                    %s / %s + CASE WHEN (d * %s + i - 1) < %s %% %s THEN 1 ELSE 0 END AS thumbs
                FROM generate_series(0, %s - 1) d, unnest(%s::text[]) WITH ORDINALITY AS t(o, i)
            ) cells
            """,
            [
                SUB_ACCOUNT_SHARE, sub.pk, account.pk,
                ORIGINALS, cells, len(ORIGINS), ORIGINALS, cells,
                THUMBS, cells, len(ORIGINS), THUMBS, cells,
                DAYS, list(ORIGINS),
            ],
        )  # fmt: skip
        cursor.execute(
            """
            INSERT INTO accounts_consumptionday (account_id, day, origin, files, optimized_files,
                bytes_before, bytes_after)
            SELECT a.id, CURRENT_DATE - d, o, 3, 4, 750000, 330000
            FROM accounts_account a, generate_series(0, %s - 1) d, unnest(ARRAY['file', 'shopify']) o
            WHERE a.login LIKE 'other-%%'
            """,
            [DAYS],
        )
        cursor.execute(
            """
            INSERT INTO compression_originalimage (account_id, status, compression_type, strip_tags, origin,
                resize, image_url, base_url, synchronous, filename, file_type, size, width, height, attempts,
                created_at, updated_at, ended_at, expire_at)
            SELECT CASE WHEN g %% %s = 0 THEN %s ELSE %s END, 'completed', 'balanced', true,
                (%s::text[])[1 + g %% %s], '[]', '', 'https://crush.example', false, 'photo-' || g || '.jpg',
                'image/jpeg', 250000, 1600, 1200, 1, ts, ts, ts, ts + interval '30 days'
            FROM (SELECT g, now() - (g * interval '31 seconds') AS ts FROM generate_series(1, %s) g) s
            """,
            [SUB_ACCOUNT_SHARE, sub.pk, account.pk, list(ORIGINS), len(ORIGINS), ORIGINALS],
        )
        cursor.execute(
            """
            INSERT INTO compression_optimizedimage (original_id, style, strategy, status, compression_type,
                size, file_type, filename, created_at, updated_at, expire_at)
            SELECT id, 'original', '', 'completed', 'balanced', 110000, 'image/jpeg', filename, created_at,
                updated_at, expire_at
            FROM compression_originalimage
            UNION ALL
            SELECT id, 'thumb', 'fit', 'completed', 'balanced', 9000, 'image/jpeg', filename, created_at,
                updated_at, expire_at
            FROM compression_originalimage WHERE id % 5 = 0
            """
        )
        cursor.execute("VACUUM ANALYZE")
    print(f"seed: {time.perf_counter() - started:.1f} s")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=100, help="timed requests per report type (≥ 50)")
    parser.add_argument("--cold-requests", type=int, default=10, help="timed requests, cache emptied")
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from accounts.models import Account, ConsumptionDay
    from accounts.services import api_token_create
    from compression.models import OptimizedImage, OriginalImage

    call_command("migrate", verbosity=0)
    seed(args.reseed)
    account = Account.objects.get(login=LOGIN)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(account=account).raw}")

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(" on ")[0]
    print(
        f"\n{version}; ledger rows {ConsumptionDay.objects.count():,}; originals "
        f"{OriginalImage.objects.count():,}; optimized images {OptimizedImage.objects.count():,}\n"
    )
    from accounts.selectors import image_counts

    with CaptureQueriesContext(connection) as queries:
        image_counts(account=account)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN ANALYZE " + queries[0]["sql"])
        plan = [row[0] for row in cursor.fetchall()]
    print("counts aggregate: " + "; ".join(line.strip() for line in plan if "Execution Time" in line) + "\n")
    print("| report_type | cache | requests | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|")
    for report_type in REPORT_TYPES:
        for cold in (False, True):
            timings = []
            for attempt in range((args.cold_requests if cold else args.requests) + 3):
                if cold:
                    cache.clear()
                started = time.perf_counter()
                response = client.get("/v1/dashboard", {"report_type": report_type})
                elapsed_ms = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, response.content
                if attempt >= 3:  # warm-up: connection, code paths
                    timings.append(elapsed_ms)
            stats = response.json()["stats"]
            assert stats["original_images_count"] == ORIGINALS, stats["original_images_count"]
            assert stats["optimized_images_count"] == ORIGINALS + THUMBS, stats["optimized_images_count"]
            print(
                f"| {report_type} | {'emptied before each' if cold else 'warm'} | {len(timings)} "
                f"| {statistics.median(timings):.1f} | {percentile(timings, 0.99):.1f} | {max(timings):.1f} |"
            )


if __name__ == "__main__":
    main()
