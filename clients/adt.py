"""Discharges and emergency visits from the hospital in real time: HL7 v2 ADT messages
(issue 20 item 3; docs/adt.md).

`adt_receive` is the one door: it parses a message with python-hl7, stores it (AdtMessage)
and records what it means in the same transaction, and returns the acknowledgment to send.
The MLLP listener (`manage.py adt_listener`) only frames bytes and calls it, so a message is
acknowledged (AA) only once it is committed; a listener killed before the commit leaves
nothing, and the sender's resend is taken once. A control id (MSH-10) seen before changes
nothing and is acknowledged again.

What a message means (the continuity engine's transition events, continuity.md §2):

| event | patient class (PV1-2) | recorded |
|---|---|---|
| A03 discharge | I (inpatient) | an attended inpatient discharge at PV1-45 (else EVN-2, else MSH-7) |
| A01, A03, A04 | E (emergency) | an attended emergency visit at PV1-44 (else EVN-2, else MSH-7) |
| A08 update | any | the times of an appointment recorded from the same visit (PV1-19) |
| A01, A04 | other | nothing (an admission or a registration is not a transition) |

The client is matched by record number (PID-3, first repetition's ID) in the listener's
program. Unknown record numbers are held for review (`AdtStatus.HELD`); `adt_retry_held`
matches them again after the client is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import hl7
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import actions
from audit.records import audit_write
from clients.models import (
    AdtMessage,
    AdtStatus,
    AppointmentKind,
    AppointmentStatus,
    Client,
    ClinicalAppointment,
)
from core.models import Program

SUPPORTED_EVENTS = ("A01", "A03", "A04", "A08")
ACK_APPLICATION = "PEER-SUPPORT"


class AdtError(Exception):
    """A message we cannot take: `code` is the acknowledgment (AR: rejected as malformed or not
    supported; AE: an application error), `reason` the text for MSA-3 (no patient data)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class AdtFacts:
    control_id: str
    event: str
    record_number: str
    patient_class: str
    visit_number: str
    admitted_at: datetime | None
    discharged_at: datetime | None
    event_at: datetime | None


@dataclass(frozen=True)
class AdtResult:
    ack: str  # the acknowledgment message, ER7 with \r segment separators
    code: str  # AA, AE or AR
    message: AdtMessage | None


def _field(message: hl7.Message, segment: str, field: int, component: int = 1) -> str:
    """A field's first repetition's component as text, "" when absent."""
    try:
        return str(message.extract_field(segment, 1, field, 1, component) or "").strip()
    except (KeyError, IndexError):
        return ""


def _hl7_time(text: str) -> datetime | None:
    """An HL7 DTM (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ]); without an offset, UTC is assumed only
    when the program's zone is not known here: the caller localises naive values."""
    if not text:
        return None
    try:
        return hl7.parse_datetime(text)
    except ValueError as exc:
        raise AdtError("AR", f"Not an HL7 date and time: {text[:20]}") from exc


def parse_adt(raw: str) -> tuple[hl7.Message, AdtFacts]:
    text = raw.replace("\r\n", "\r").replace("\n", "\r").strip("\r\x0b\x1c")
    if not text.startswith("MSH"):
        raise AdtError("AR", "The message does not start with an MSH segment.")
    try:
        message = hl7.parse(text)
        message_type = _field(message, "MSH", 9, 1)
        event = _field(message, "MSH", 9, 2)
        control_id = _field(message, "MSH", 10)
    except (hl7.ParseException, KeyError, IndexError, ValueError) as exc:
        raise AdtError("AR", "The message could not be parsed.") from exc
    if not control_id:
        raise AdtError("AR", "MSH-10 (message control id) is empty.")
    if message_type != "ADT":
        raise AdtError("AR", f"Only ADT messages are taken here, not {message_type[:3] or 'an empty type'}.")
    if event not in SUPPORTED_EVENTS:
        raise AdtError("AR", f"ADT^{event[:3]} is not supported (A01, A03, A04, A08).")
    facts = AdtFacts(
        control_id=control_id[:64],
        event=event,
        record_number=_field(message, "PID", 3, 1),
        patient_class=_field(message, "PV1", 2, 1).upper(),
        visit_number=_field(message, "PV1", 19, 1),
        admitted_at=_hl7_time(_field(message, "PV1", 44)),
        discharged_at=_hl7_time(_field(message, "PV1", 45)),
        event_at=_hl7_time(_field(message, "EVN", 2)) or _hl7_time(_field(message, "MSH", 7)),
    )
    if not facts.record_number:
        raise AdtError("AR", "PID-3 (the patient's record number) is empty.")
    return message, facts


def _ack(message: hl7.Message | None, code: str, text: str, control_id: str) -> str:
    now = timezone.now().astimezone(UTC).strftime("%Y%m%d%H%M%S")
    reply = f"ACK{now}{control_id}"[-20:]
    if message is not None:
        ack = message.create_ack(code, message_id=reply, application=ACK_APPLICATION)
        ack.segment("MSA").append(hl7.Field(message.separators[2], [text[:80]]))
        return str(ack)
    # No usable MSH to answer from: a minimal ACK naming what we could read.
    return "\r".join(
        [f"MSH|^~\\&|{ACK_APPLICATION}||||{now}||ACK|{reply}|P|2.5.1", f"MSA|{code}|{control_id}|{text[:80]}"]
    )


def _kind_and_time(facts: AdtFacts) -> tuple[str, datetime] | None:
    if facts.patient_class == "E" and facts.event in ("A01", "A03", "A04"):
        at = facts.admitted_at or facts.event_at
        return (AppointmentKind.EMERGENCY_VISIT, at) if at else None
    if facts.patient_class == "I" and facts.event == "A03":
        at = facts.discharged_at or facts.event_at
        return (AppointmentKind.INPATIENT_DISCHARGE, at) if at else None
    return None


def _visit_key(facts: AdtFacts, kind: str) -> str:
    return f"adt:{facts.visit_number or facts.control_id}:{kind}"[:64]


def _localise(value: datetime, program: Program) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=program.tzinfo)


def _apply(record: AdtMessage, facts: AdtFacts, program: Program) -> None:
    """Match the client and record the transition event (inside the caller's transaction)."""
    client = Client.objects.filter(program=program, external_id=facts.record_number).first()
    record.client = client
    record.processed_at = timezone.now()
    if client is None:
        record.status, record.reason = AdtStatus.HELD, "No client with this record number in the program."
        return
    record.status = AdtStatus.ACCEPTED
    if facts.event == "A08":
        changed = []
        for kind in (AppointmentKind.EMERGENCY_VISIT, AppointmentKind.INPATIENT_DISCHARGE):
            appointment = ClinicalAppointment.objects.filter(
                program=program, external_id=_visit_key(facts, kind)
            ).first()
            at = facts.admitted_at if kind == AppointmentKind.EMERGENCY_VISIT else facts.discharged_at
            if appointment is not None and at is not None:
                appointment.start = _localise(at, program)
                appointment.save(update_fields=["start"])
                audit_write(appointment, actions.UPDATED, detail={"via": "adt", "event": facts.event})
                changed.append(appointment)
        record.appointment = changed[0] if changed else None
        record.reason = "" if changed else "Nothing recorded from this visit to update."
        return
    mapped = _kind_and_time(facts)
    if mapped is None:
        record.reason = "Not a discharge or an emergency visit: nothing to record."
        return
    kind, at = mapped
    appointment, created = ClinicalAppointment.objects.update_or_create(
        program=program,
        external_id=_visit_key(facts, kind),
        defaults={
            "client": client,
            "start": _localise(at, program),
            "kind": kind,
            "status": AppointmentStatus.ATTENDED,
        },
    )
    audit_write(
        appointment, actions.CREATED if created else actions.UPDATED, detail={"via": "adt", "event": facts.event}
    )
    record.appointment = appointment


def adt_receive(*, program: Program, raw: str) -> AdtResult:
    """Store and apply one message; the acknowledgment to send back."""
    try:
        message, facts = parse_adt(raw)
    except AdtError as exc:
        # Stored too (every message is), without a control id: the sender is told why.
        record = AdtMessage.objects.create(program=program, raw=raw, status=AdtStatus.REJECTED, reason=exc.reason)
        return AdtResult(_ack(None, exc.code, exc.reason, ""), exc.code, record)
    try:
        with transaction.atomic():
            seen = AdtMessage.objects.select_for_update().filter(program=program, control_id=facts.control_id).first()
            if seen is not None:
                return AdtResult(_ack(message, "AA", "Already received.", facts.control_id), "AA", seen)
            record = AdtMessage(
                program=program,
                control_id=facts.control_id,
                event=facts.event,
                raw=raw,
                record_number=facts.record_number,
            )
            _apply(record, facts, program)
            record.save()
    except IntegrityError:
        # The same message on two connections at once: the other one stored it.
        seen = AdtMessage.objects.get(program=program, control_id=facts.control_id)
        return AdtResult(_ack(message, "AA", "Already received.", facts.control_id), "AA", seen)
    except Exception:  # noqa: BLE001 - any failure to store is the sender's cue to resend
        return AdtResult(
            _ack(message, "AE", "Could not store the message; send it again.", facts.control_id), "AE", None
        )
    return AdtResult(_ack(message, "AA", record.reason or "Accepted.", facts.control_id), "AA", record)


def adt_retry_held(*, program: Program) -> int:
    """Match the held messages again (after clients were added or imported); how many now apply."""
    applied = 0
    for record in AdtMessage.objects.filter(program=program, status=AdtStatus.HELD).order_by("received_at", "id"):
        with transaction.atomic():
            _message, facts = parse_adt(record.raw)
            _apply(record, facts, program)
            record.save()
            applied += record.status == AdtStatus.ACCEPTED
    return applied
