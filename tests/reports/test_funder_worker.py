"""A real Celery worker, on the Redis at 127.0.0.1:6379 (db 15), generates a report."""

from __future__ import annotations

import socket
import threading
import uuid

import pytest
from celery.signals import task_postrun, task_prerun

from config.celery import app as celery_app
from reports.models import FunderReport, ReportStatus
from reports.services import funder_report_request
from tests.reports.funder_data import Q1_2026, build_history

REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_is_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def reset_producer_pool() -> None:
    # What Celery itself does after a fork; there is no public call for it.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def redis_worker(settings, tmp_path):
    if not redis_is_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379; start it to run the real-worker test.")
    from celery.contrib.testing.worker import start_worker

    settings.MEDIA_ROOT = tmp_path / "media"
    # A queue of our own: other suites on this machine may use the same Redis database.
    queue = f"funder-test-{uuid.uuid4().hex[:12]}"
    keys = ("broker_url", "task_always_eager", "result_backend", "task_routes")
    saved = {key: celery_app.conf[key] for key in keys}
    celery_app.conf.update(
        broker_url=REDIS_URL,
        task_always_eager=False,
        result_backend=None,
        task_routes={"reports.generate_funder_report": {"queue": queue}},
    )
    # Drop the producer pool an earlier (eager) test may have built for the default broker.
    reset_producer_pool()
    try:
        with start_worker(
            celery_app, pool="solo", concurrency=1, perform_ping_check=False, queues=[queue], shutdown_timeout=30
        ):
            yield
    finally:
        celery_app.conf.update(**saved)
        reset_producer_pool()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_generates_the_report_through_redis(cast, redis_worker):
    build_history(cast)
    finished = threading.Event()
    ran_in = []

    def started(sender=None, **kwargs):  # noqa: ANN001
        if sender.name == "reports.generate_funder_report":
            ran_in.append(threading.current_thread().name)

    def done(sender=None, **kwargs):  # noqa: ANN001
        if sender.name == "reports.generate_funder_report":
            finished.set()

    task_prerun.connect(started, weak=False)
    task_postrun.connect(done, weak=False)
    try:
        report = funder_report_request(program=cast.program, period=Q1_2026, user=cast.coordinator)
        # Wait on the worker's signal instead of polling: the test database may be an
        # in-memory SQLite shared between threads, which does not like concurrent writers.
        assert finished.wait(timeout=120), "the worker did not finish the job"
    finally:
        task_prerun.disconnect(started)
        task_postrun.disconnect(done)
    assert ran_in and ran_in[0] != threading.main_thread().name
    report.refresh_from_db()
    assert report.status == ReportStatus.READY, (report.status, report.error)
    assert report.pdf_sha256 and report.pages >= 8 and report.progress == 100
    assert FunderReport.objects.count() == 1
