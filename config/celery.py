"""The Celery app every background job uses.

Settings are the CELERY_* keys of Django's settings. With no CELERY_BROKER_URL in
the environment, tasks run eagerly in the calling process (CELERY_TASK_ALWAYS_EAGER),
so `make run` and the tests need no broker; production sets the URL and runs
`celery -A config worker`.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
