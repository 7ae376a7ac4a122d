"""Background tasks of the clients app, for Celery's autodiscovery (they live beside their services)."""

from __future__ import annotations

from clients.services import run_import_job as run_import_job
