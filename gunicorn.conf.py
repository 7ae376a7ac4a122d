"""gunicorn settings, all from the environment: `gunicorn -c gunicorn.conf.py` (see docs/scale.md).

Several worker processes per machine, each with its own database connections
(or its own small pool with DB_POOL=true); add machines behind a load balancer
for more. Access logs are off by default: request paths carry record ids.
"""

import multiprocessing
import os

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# The usual starting point for a CPU-bound Django app: two per core, plus one.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
backlog = 2048
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
# Load the app once in the master: workers fork with it already imported (faster start,
# shared memory). Database connections and pools are opened lazily, after the fork.
preload_app = True
