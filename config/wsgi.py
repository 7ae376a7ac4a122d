import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()
# Import every view module now (the URLconf imports them all, WeasyPrint's 3 s among them), not on
# each process's first request: gunicorn preloads this module in its master (preload_app), so the
# workers fork with it done, and a worker started after a recycle (max_requests) answers its first
# request in milliseconds instead of 2-5 s (docs/scale.md, "Profiles"). Opens no database connection.
get_resolver().url_patterns  # noqa: B018 - evaluated for its imports
