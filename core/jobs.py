"""Background jobs that never stay stuck: a lease with a heartbeat (issue 14.6).

A job row (an ImportJob, a FunderReport) is claimed by the worker that runs it: the claim is a
fresh token and a heartbeat time, written by a conditional update, so two deliveries of one
task never run it twice. While it runs, a thread beside it renews the heartbeat on its own
database connection. A worker that dies (killed, out of memory, the machine gone) stops the
heartbeat; `reap_stale_jobs` marks such jobs failed and interrupted, and a job no worker ever
picked up is marked the same after QUEUE_WAIT. The worker's last write — the job's outcome,
in the same transaction as the records it writes — is conditional on still holding the claim,
so a job reaped while its worker was merely slow rolls back and leaves nothing half done.
Interrupted jobs can be retried from their page.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=15)
# A job whose heartbeat is older than this has lost its worker.
LEASE = timedelta(seconds=90)
# A job queued this long without any worker claiming it is failed too (the queue is down).
QUEUE_WAIT = timedelta(minutes=30)

INTERRUPTED_MESSAGE = _("The worker stopped before the job finished; nothing was written. You can retry it.")
NOT_PICKED_UP_MESSAGE = _("No worker picked the job up; nothing was written. You can retry it.")


class LostClaim(Exception):
    """The job was reaped (or claimed by another worker) while this one ran it."""


class LeasedJob(models.Model):
    claim = models.UUIDField(null=True, blank=True, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    interrupted = models.BooleanField(default=False, editable=False)
    # When the job was last handed to the queue (created, confirmed, retried).
    queued_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        abstract = True

    @property
    def interrupted_message(self) -> str:
        """Why an interrupted job stopped, for its page."""
        return str(NOT_PICKED_UP_MESSAGE if not self.attempts else INTERRUPTED_MESSAGE)


def requeue_fields() -> dict[str, object]:
    """What handing a job to the queue again resets (confirm, retry)."""
    return {"claim": None, "heartbeat_at": None, "interrupted": False, "queued_at": timezone.now()}


def claim_job(
    model: type[Any], pk: object, *, statuses: Iterable[str], set_status: str | None = None
) -> uuid.UUID | None:
    """Claim a runnable job for this worker: one in `statuses` whose heartbeat is absent or
    stale (a live one belongs to another worker). The token, or None if someone else holds it."""
    token = uuid.uuid4()
    now = timezone.now()
    changes: dict[str, object] = {"claim": token, "heartbeat_at": now, "attempts": F("attempts") + 1}
    if set_status is not None:
        changes["status"] = set_status
    claimed = (
        model.objects.filter(pk=pk, status__in=list(statuses))
        .filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - LEASE))
        .update(**changes)
    )
    return token if claimed else None


def holds_claim(model: type[Any], pk: object, token: uuid.UUID, *, statuses: Iterable[str]) -> bool:
    """Inside the job's final transaction: lock the row and check the claim is still ours."""
    return model.objects.select_for_update().filter(pk=pk, claim=token, status__in=list(statuses)).exists()


@contextmanager
def heartbeat(model: type[Any], pk: object, token: uuid.UUID, *, every: timedelta = HEARTBEAT_EVERY) -> Iterator[None]:
    """Renew the job's heartbeat every `every` while the block runs, from a thread with its own
    connection (the worker's may be inside a long transaction). A beat that cannot be written
    (SQLite's single writer is busy) is skipped; a job shorter than `every` writes none."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every.total_seconds()):
                try:
                    model.objects.filter(pk=pk, claim=token).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    logger.info("heartbeat skipped for %s %s", model._meta.label_lower, pk)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-{model._meta.model_name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every.total_seconds() + 30)


def reap_stale_jobs(
    model: type[Any],
    *,
    running: Iterable[str],
    failed_status: str,
    now: datetime | None = None,
    extra: dict[str, object] | None = None,
) -> list[object]:
    """Mark failed (and interrupted) the jobs whose worker is gone: running with a stale
    heartbeat, or never claimed within QUEUE_WAIT. Returns their ids. Safe to run anywhere
    and twice at once (one conditional update per job)."""
    now = now or timezone.now()
    stale = Q(heartbeat_at__lt=now - LEASE) | Q(heartbeat_at__isnull=True, queued_at__lt=now - QUEUE_WAIT)
    reaped = []
    for pk in list(model.objects.filter(stale, status__in=list(running)).values_list("pk", flat=True)):
        try:
            done = (
                model.objects.filter(pk=pk, status__in=list(running))
                .filter(stale)
                .update(status=failed_status, interrupted=True, claim=None, **(extra or {}))
            )
        except DatabaseError:  # SQLite: the worker still holds the write lock, so it is alive
            continue
        if done:
            logger.warning("%s %s: worker gone, marked failed", model._meta.label_lower, pk)
            reaped.append(pk)
    return reaped


def dispatch(task: Any, *args: Any, in_thread: bool) -> None:
    """Hand a job to its Celery task after the transaction that created it commits: to the broker
    when there is one; without one (`make run`, tests) in a thread beside the request (so a page
    returns at once) when `in_thread`, else here and now."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        task.delay(*args)
    elif in_thread:
        threading.Thread(target=_run_in_thread, args=(task, args), daemon=True).start()
    else:
        task.apply(args=args)


def _run_in_thread(task: Any, args: tuple[Any, ...]) -> None:
    try:
        task.apply(args=args)
    finally:
        connection.close()
