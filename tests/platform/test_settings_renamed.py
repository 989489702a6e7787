"""A renamed setting's former name is still read, with a deprecation warning (settings are read at import:
each case imports them in a fresh interpreter)."""

import os
import subprocess
import sys

import pytest

PRINT_RETENTION = "import crush.settings as s; print(s.CRUSH_RETENTION_DAYS)"


def _settings_import(**variables: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if "RETENTION_DAYS" not in key}
    return subprocess.run(
        [sys.executable, "-c", PRINT_RETENTION],
        env={**env, "SECRET_KEY": "test-only", **variables},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variables", "days", "warned"),
    [
        ({}, "30", False),
        ({"CRUSH_RETENTION_DAYS": "7"}, "7", False),
        ({"RETENTION_DAYS": "9"}, "9", True),
        ({"CRUSH_RETENTION_DAYS": "7", "RETENTION_DAYS": "9"}, "7", False),
    ],
)
def test_settings_retention_days_reads_the_former_name_with_a_warning(
    variables: dict[str, str], days: str, warned: bool
) -> None:
    answer = _settings_import(**variables)

    assert answer.stdout.strip() == days
    assert ("RETENTION_DAYS is deprecated: set CRUSH_RETENTION_DAYS instead" in answer.stderr) is warned
