"""Test settings: the real crush.settings, with the environment defaults a test run needs.

Anything already in the environment (CI's DATABASE_URL, CELERY_BROKER_URL, AWS_*) wins.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("CRUSH_ALLOW_PRIVATE_URLS", "true")
os.environ.setdefault("CRUSH_VAR_DIR", tempfile.mkdtemp(prefix="crush-test-var-"))
# Synchronous jobs search without time pressure, as asynchronous ones do: what a test asserts of their outputs
# must not depend on the machine's speed (a test of the budget itself sets it small).
os.environ.setdefault("CRUSH_SYNC_SEARCH_SECONDS", "270")
# No request waits for a download that the eager tasks of a test transaction never run
# (the live-worker tests set it).
os.environ.setdefault("CRUSH_URL_SIZE_WAIT_SECONDS", "0")

from crush.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast admin-user creation in tests
