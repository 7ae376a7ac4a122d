"""Benchmarks on loopback: production-like (DEBUG off, no toolbar, same middleware),
plus the bare comparison views under /bench/. Never used in production: only
`bench/run.py` and `make bench` select this module."""

import secrets
import warnings

from .base import *  # noqa: F403
from .base import env

DEBUG = False
BENCH = True
SECRET_KEY = env("SECRET_KEY", default=None) or secrets.token_urlsafe(50)
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

# whitenoise warns once per worker when collectstatic has not run; the API needs no static files.
warnings.filterwarnings("ignore", message="No directory at")
