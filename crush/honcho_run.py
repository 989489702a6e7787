"""`make run`: honcho, waiting for the workers' graceful stop before it kills anything.

On Ctrl-C (or SIGTERM) honcho sends SIGTERM to every Procfile process group, then SIGKILLs whatever still runs
5 seconds after the first process has exited (`honcho.manager.KILL_WAIT`, which no option changes). A
compression worker may take CRUSH_WORKER_GRACE_SECONDS to finish its jobs or hand them back
(crush/celery.py GracefulStop), so that wait is raised to the grace period plus a margin.

Usage: python -m crush.honcho_run <honcho arguments>, e.g. `start --port 8000`.
"""

import os
import sys

# Time for a worker to hand its jobs back, publish their messages and close its broker connection.
MARGIN_SECONDS = 15


def kill_wait_seconds() -> int:
    from django.conf import settings

    return int(settings.CRUSH_WORKER_GRACE_SECONDS) + MARGIN_SECONDS


def main() -> None:
    from honcho import manager
    from honcho.command import main as honcho_main

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crush.settings")
    manager.KILL_WAIT = kill_wait_seconds()  # type: ignore[attr-defined]
    honcho_main(sys.argv[1:])  # exits with honcho's return code


if __name__ == "__main__":
    main()
