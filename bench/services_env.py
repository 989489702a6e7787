"""What the pipeline and webhook benchmarks share: the environment of the Crush processes they start, and
the throw-away PostgreSQL database those use."""

import os

PG = "postgres://postgres@127.0.0.1:5432"


def crush_environment(*, database: str, broker_url: str, var_dir: str, **extra: str) -> dict[str, str]:
    """This process's environment without Crush/Django/AWS settings, plus the ones for a benchmark run."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CRUSH_", "DJANGO_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="crush.settings",
        DATABASE_URL=f"{PG}/{database}",
        CELERY_BROKER_URL=broker_url,
        SECRET_KEY="bench-only-secret-key",
        DEBUG="false",
        CRUSH_VAR_DIR=var_dir,
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def database_recreate(name: str, *, create: bool = True) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            connection.execute(f'CREATE DATABASE "{name}"')
