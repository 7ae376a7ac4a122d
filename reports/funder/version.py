"""The code version stored with every generated report."""

from __future__ import annotations

import functools
import subprocess  # noqa: S404 - fixed argument list, no shell
from pathlib import Path

from django.conf import settings

# Bump when the figures or their layout change meaning; kept with each report.
REPORT_CODE_VERSION = "funder-report/2"


@functools.cache
def code_version() -> str:
    """REPORT_CODE_VERSION plus `git describe` when the code runs from a checkout."""
    try:
        described = subprocess.run(  # noqa: S603
            ["git", "describe", "--always", "--dirty", "--tags"],  # noqa: S607
            cwd=Path(settings.BASE_DIR),
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        described = ""
    return f"{REPORT_CODE_VERSION} {described}".strip()
