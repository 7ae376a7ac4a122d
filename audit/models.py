"""The audit trail's tables: events, append-only for the application, and the chain head.

Each row's hash is SHA-256 over its canonical fields plus the previous row's hash
(`canonical_payload`, `chain_hash`); recording and verification are in audit/records.py.
The tables keep the names they had in the old accounts app (accounts_auditevent,
accounts_auditchainhead): the PostgreSQL append-only trigger and the database roles name them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.scoping import role_program_ids

GENESIS_HASH = "0" * 64
# The chain of events about no single program (none, or several: a coordinator's list across programs).
PROGRAMLESS_CHAIN = 0


def chain_of(program_id: int | None) -> int:
    """The chain an event with this `program_id` (one program, or None) is appended to."""
    return PROGRAMLESS_CHAIN if program_id is None else program_id


class AppendOnlyError(Exception):
    """Raised when application code tries to change or remove an audit row."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("Audit events cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Audit events cannot be deleted.")

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        raise AppendOnlyError("Audit events cannot be changed.")

    def bulk_create(self, *args: Any, **kwargs: Any) -> list:
        raise AppendOnlyError("Audit events are written one by one through audit_record(), to keep the chain.")

    def visible_to(self, user) -> AuditEventQuerySet:
        """Coordinators read the trail of their own programs; nobody else reads it."""
        programs = role_program_ids(user).coordinator
        if not programs:
            return self.none()
        q = Q(program_id__in=programs)
        for program_id in programs:
            q |= Q(program_ids__contains=f",{program_id},")
        return self.filter(q)

    def for_client(self, client_id: int) -> AuditEventQuerySet:
        return self.for_clients([client_id])

    def for_clients(self, client_ids: Iterable[int]) -> AuditEventQuerySet:
        """Events that concern any of these clients (as the one client, or among a list's)."""
        q = Q(pk__in=[])
        for client_id in client_ids:
            q |= Q(client_id=client_id) | Q(client_ids__contains=f",{client_id},")
        return self.filter(q)


class AuditEvent(models.Model):
    """One audited action. Ids are stored as plain integers, not foreign keys:
    the trail must outlive (and never cascade from) the rows it mentions."""

    at = models.DateTimeField(db_index=True)
    user_id = models.BigIntegerField(null=True)
    username = models.CharField(max_length=150, blank=True)
    roles = models.CharField(max_length=200, blank=True, help_text=_("The user's roles in the program, at the time."))
    program_id = models.BigIntegerField(null=True)
    # ",3,7," so one LIKE finds a program or client among several (list calls).
    program_ids = models.TextField(blank=True)
    client_id = models.BigIntegerField(null=True)
    client_ids = models.TextField(blank=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=100)
    emergency = models.BooleanField(default=False)
    ip = models.GenericIPAddressField(null=True)
    user_agent = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # Which chain the row links into: the program's id, PROGRAMLESS_CHAIN for an event about no
    # single program; NULL for rows written while there was one chain for the installation.
    chain = models.BigIntegerField(null=True, editable=False)

    objects = AuditEventQuerySet.as_manager()
    record_numbers: str  # not a field: the audit page sets it (audit.views)

    class Meta:
        db_table = "accounts_auditevent"
        indexes = [
            models.Index(fields=["program_id", "at"], name="audit_program_at_idx"),
            models.Index(fields=["client_id", "at"], name="audit_client_at_idx"),
            models.Index(fields=["user_id", "at"], name="audit_user_at_idx"),
            models.Index(fields=["action", "at"], name="audit_action_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.object_type} {self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Audit events cannot be deleted.")

    def canonical(self) -> str:
        return canonical_payload(
            at=self.at,
            user_id=self.user_id,
            username=self.username,
            roles=self.roles,
            program_id=self.program_id,
            program_ids=self.program_ids,
            client_id=self.client_id,
            client_ids=self.client_ids,
            object_type=self.object_type,
            object_id=self.object_id,
            action=self.action,
            emergency=self.emergency,
            ip=self.ip,
            user_agent=self.user_agent,
            detail=self.detail,
        )

    def compute_hash(self) -> str:
        return chain_hash(self.prev_hash, self.canonical())


class AuditChainHead(models.Model):
    """One row per chain: its last event's id and hash and its length. Locked by every writer
    of that chain, so the chain is linear; compared by the verifier, so truncation is visible.
    `chain` is the program's id, PROGRAMLESS_CHAIN, or NULL for the installation's one chain
    of the rows written before chains per program (row id 1)."""

    chain = models.BigIntegerField(null=True, unique=True)
    last_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    count = models.BigIntegerField(default=0)

    class Meta:
        db_table = "accounts_auditchainhead"

    def __str__(self) -> str:
        return f"audit chain {self.chain} head #{self.last_id}"


def _utc_iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_payload(**fields: Any) -> str:
    fields = dict(fields)
    fields["at"] = _utc_iso(fields["at"])
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def chain_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()
