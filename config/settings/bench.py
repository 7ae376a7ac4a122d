"""Benchmarks on loopback: production-like (DEBUG off, no toolbar, same middleware),
plus the bare comparison views under /bench/. Never used in production: only
`bench/run.py` and `make bench` select this module."""

import warnings

from .base import *  # noqa: F403

# The development keys (.secret_key, .field_encryption_key or the environment), as manage.py uses:
# notes and feedback that `seed_demo --scale large` encrypted must decrypt under the benchmark too.
from .local import SALT_KEY, SECRET_KEY  # noqa: F401

DEBUG = False
BENCH = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

# whitenoise warns once per worker when collectstatic has not run; the API needs no static files.
warnings.filterwarnings("ignore", message="No directory at")
