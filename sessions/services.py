"""Writes for peer sessions."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from sessions.models import Attendance, PeerSession, SessionKind


@transaction.atomic
def peer_session_save(
    *, session: PeerSession, attendances: list[dict[str, Any]] | None, fields: dict[str, Any]
) -> PeerSession:
    """Create or update a session with its attendance list (replaced whole when given)."""
    for name, value in fields.items():
        setattr(session, name, value)
    if attendances is not None:
        clients = [a["client"] for a in attendances]
        if len({c.pk for c in clients}) != len(clients):
            raise ValidationError({"attendances": ["Each client can attend a session once."]})
        if any(c.program_id != session.supporter.program_id for c in clients):
            raise ValidationError({"attendances": ["Every client must be in the supporter's program."]})
        if session.kind == SessionKind.ONE_TO_ONE and len(attendances) != 1:
            raise ValidationError({"attendances": ["A one-to-one session has exactly one client."]})
        if not attendances:
            raise ValidationError({"attendances": ["A session needs at least one client."]})
    session.program_id = session.supporter.program_id
    session.save()
    if attendances is not None:
        session.attendances.all().delete()
        Attendance.objects.bulk_create(
            Attendance(session=session, client=a["client"], status=a["status"]) for a in attendances
        )
    return session
