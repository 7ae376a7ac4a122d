"""Celery application. With no CELERY_BROKER_URL, tasks run inline (eager), so
`make run` needs no extra server; production sets the broker (Redis)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
