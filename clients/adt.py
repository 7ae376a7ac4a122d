"""Discharges and emergency visits from the hospital in real time (issue 20 item 3; docs/interop.md).

This module reads messages; `clients.services.adt_message_receive` stores and applies them.
Two formats say the same thing and become the same `VisitFacts`:

- an HL7 v2 ADT message (A01, A03, A04, A08; parsed with python-hl7), received over MLLP by
  `manage.py adt_listener`, answered with an original-mode acknowledgment (`ack`);
- a FHIR R4 Encounter POSTed to `/fhir/r4/Encounter` (class IMP or EMER; parsed with
  fhir.resources), answered by the FHIR API.

What a visit means for the continuity engine (docs/spec/continuity.md §2: a transition event
is an attended professional session of kind `inpatient_discharge` or `emergency_visit`):

- inpatient (PV1-2 `I`, class `IMP`), discharged (A03; an Encounter with `period.end`,
  `hospitalization.dischargeDisposition` or status finished): an inpatient discharge at the
  discharge time (PV1-45 / period.end, else EVN-2, else MSH-7);
- emergency (PV1-2 `E`, class `EMER`), A01, A03 or A04, any Encounter: one emergency visit at
  the arrival time (PV1-44 / period.start, else the event time): the visit's registration and
  its discharge are the same event;
- A08 (update), any class: the time of a visit already recorded, when the message gives it;
- anything else (an inpatient admission or registration, an Encounter still open): nothing:
  an admission is not a transition.

A visit is one appointment, keyed by its visit number (PV1-19 / Encounter.identifier) and kind,
so a registration followed by a discharge, or the same visit sent over both channels, records
one event. The client is matched by record number (PID-3 / the subject's identifier).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import hl7
from django.utils import timezone
from fhir.resources.R4B.encounter import Encounter
from pydantic import ValidationError as PydanticValidationError

from clients.models import AppointmentKind
from core.models import Program
from core.timezones import LocalTimeError, local_to_aware

SUPPORTED_EVENTS = ("A01", "A03", "A04", "A08")
SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8")
ACK_APPLICATION = "PEER-SUPPORT"
HL7_DTM = re.compile(
    r"[0-9]{4}(?:[0-9]{2}(?:[0-9]{2}(?:[0-9]{2}(?:[0-9]{2}(?:[0-9]{2}(?:\.[0-9]{1,4})?)?)?)?)?)?(?:[+-][0-9]{4})?"
)
INPATIENT, EMERGENCY = "I", "E"
FHIR_CLASSES = {"IMP": INPATIENT, "ACUTE": INPATIENT, "NONAC": INPATIENT, "EMER": EMERGENCY}
FHIR_CLASS_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

# HL7 table 0357 (message error condition codes) used in ERR-3.
ERR_SEGMENT_SEQUENCE = "100"
ERR_REQUIRED_FIELD_MISSING = "101"
ERR_DATA_TYPE = "102"
ERR_UNSUPPORTED_MESSAGE_TYPE = "200"
ERR_UNSUPPORTED_EVENT = "201"
ERR_UNSUPPORTED_VERSION = "203"
ERR_APPLICATION_INTERNAL = "207"


class AdtError(Exception):
    """A message we cannot take. `code` is the acknowledgment: AR (rejected: not a message we
    take — unreadable, another type, event or version — or we could not store it: send again)
    or AE (an error in its content: a missing or malformed field). `reason` is the text for
    MSA-3 / ERR-8 and the review page; it never quotes patient data."""

    def __init__(self, code: str, reason: str, condition: str = ERR_DATA_TYPE) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.condition = condition


@dataclass(frozen=True)
class VisitFacts:
    control_id: str  # MSH-10, or the Encounter's identifier as system|value
    event: str  # A01…A08, or the Encounter's class code
    record_number: str
    patient_class: str  # INPATIENT, EMERGENCY or another code
    visit_number: str
    admitted_at: datetime | None
    discharged_at: datetime | None
    event_at: datetime | None
    is_discharge: bool  # A03, or an Encounter that ended
    is_update: bool  # A08: times of a visit already recorded

    def transition(self) -> tuple[str, datetime | None, bool] | None:
        """(appointment kind, its time, whether the message gave that time itself), or None
        when the visit is not a transition event (see the module's table)."""
        if self.is_update:
            return None
        if self.patient_class == EMERGENCY:
            return AppointmentKind.EMERGENCY_VISIT, self.admitted_at or self.event_at, self.admitted_at is not None
        if self.patient_class == INPATIENT and self.is_discharge:
            return (
                AppointmentKind.INPATIENT_DISCHARGE,
                self.discharged_at or self.event_at,
                self.discharged_at is not None,
            )
        return None

    def visit_key(self, kind: str, at: datetime | None) -> str:
        """The appointment's external id: one per visit and kind. Without a visit number, the
        record number and the time (hashed: the record number stays out of the column)."""
        if self.visit_number:
            key = f"visit:{self.visit_number}:{kind}"
            if len(key) <= 64:
                return key
            basis = key
        else:
            basis = f"{self.record_number}|{kind}|{at.isoformat() if at else self.control_id}"
        return f"visit:{hashlib.sha256(basis.encode()).hexdigest()[:40]}:{kind[:9]}"


# --------------------------------------------------------------------------- HL7 v2


def _field(message: hl7.Message, segment: str, field: int, component: int = 1) -> str:
    """A field's first repetition's component as text, "" when the segment or field is absent."""
    try:
        return str(message.extract_field(segment, 1, field, 1, component) or "").strip()
    except (KeyError, IndexError):
        return ""


def _hl7_time(text: str, program: Program, name: str) -> datetime | None:
    """An HL7 DTM (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ]). Without an offset it is the hospital's wall
    clock, taken in the program's zone (the program and its hospital share one)."""
    if not text:
        return None
    # python-hl7 reads "2026-13-45" as 2026-01-01: the DTM's shape is checked first.
    if not HL7_DTM.fullmatch(text):
        raise AdtError("AE", f"{name} is not an HL7 date and time.", ERR_DATA_TYPE)
    try:
        value = hl7.parse_datetime(text)
    except ValueError as exc:
        raise AdtError("AE", f"{name} is not an HL7 date and time.", ERR_DATA_TYPE) from exc
    if value is None:
        return None
    return _aware(value, program, name)


def _aware(value: datetime, program: Program, name: str) -> datetime:
    if value.tzinfo is not None:
        return value
    try:
        return local_to_aware(value, program.tzinfo)
    except LocalTimeError as exc:
        raise AdtError("AE", f"{name} does not exist in the program's time zone.", ERR_DATA_TYPE) from exc


def decode(block: bytes) -> str:
    """MLLP carries bytes; HL7 v2 is ASCII, UTF-8 where MSH-18 says so, often Latin-1 elsewhere."""
    try:
        return block.decode("utf-8")
    except UnicodeDecodeError:
        return block.decode("latin-1")


def parse_hl7(raw: str, program: Program) -> tuple[hl7.Message, VisitFacts]:
    """Read an ADT message; AdtError for one we cannot take."""
    text = raw.replace("\r\n", "\r").replace("\n", "\r").strip("\r\x0b\x1c")
    if not text.startswith("MSH"):
        raise AdtError("AR", "The message does not start with an MSH segment.", ERR_SEGMENT_SEQUENCE)
    try:
        message = hl7.parse(text)
        message_type = _field(message, "MSH", 9, 1)
        event = _field(message, "MSH", 9, 2)
        control_id = _field(message, "MSH", 10)
        version = _field(message, "MSH", 12)
    except (hl7.ParseException, KeyError, IndexError, ValueError) as exc:
        raise AdtError("AR", "The message could not be parsed.", ERR_SEGMENT_SEQUENCE) from exc
    return message, _facts(message, message_type, event, control_id, version, program)


def _facts(
    message: hl7.Message, message_type: str, event: str, control_id: str, version: str, program: Program
) -> VisitFacts:
    if not control_id:
        raise AdtError("AR", "MSH-10 (message control id) is empty.", ERR_REQUIRED_FIELD_MISSING)
    if message_type != "ADT":
        raise AdtError(
            "AR",
            f"Only ADT messages are taken here, not {message_type[:3] or 'an empty type'}.",
            ERR_UNSUPPORTED_MESSAGE_TYPE,
        )
    if event not in SUPPORTED_EVENTS:
        raise AdtError("AR", f"ADT^{event[:3]} is not taken here (A01, A03, A04, A08).", ERR_UNSUPPORTED_EVENT)
    if version and version not in SUPPORTED_VERSIONS:
        raise AdtError("AR", f"HL7 version {version[:8]} is not taken here.", ERR_UNSUPPORTED_VERSION)
    try:
        message.segment("PID")
    except KeyError:
        raise AdtError("AE", "The message has no PID segment.", ERR_SEGMENT_SEQUENCE) from None
    record_number = _field(message, "PID", 3, 1)
    if not record_number:
        raise AdtError("AE", "PID-3 (the patient's record number) is empty.", ERR_REQUIRED_FIELD_MISSING)
    return VisitFacts(
        control_id=control_id[:200],
        event=event,
        record_number=record_number[:64],
        patient_class=_field(message, "PV1", 2, 1).upper(),
        visit_number=_field(message, "PV1", 19, 1)[:40],
        admitted_at=_hl7_time(_field(message, "PV1", 44), program, "PV1-44"),
        discharged_at=_hl7_time(_field(message, "PV1", 45), program, "PV1-45"),
        event_at=_hl7_time(_field(message, "EVN", 2), program, "EVN-2")
        or _hl7_time(_field(message, "MSH", 7), program, "MSH-7"),
        is_discharge=event == "A03",
        is_update=event == "A08",
    )


def _reply_control_id() -> str:
    return f"ACK{timezone.now().astimezone(UTC).strftime('%Y%m%d%H%M%S%f')}"[:20]


def ack(message: hl7.Message | None, code: str, text: str, *, condition: str = "") -> str:
    """The original-mode acknowledgment (ER7, segments joined by carriage returns): MSA with the
    code, the message's control id and `text`; an ERR segment (code, severity, text) unless AA."""
    text = text.replace("|", " ").replace("^", " ").replace("~", " ").replace("\\", " ").replace("&", " ")[:80]
    err = f"ERR|||{condition or ERR_APPLICATION_INTERNAL}^^HL70357|E||||{text}" if code != "AA" else ""
    if message is not None:
        try:
            reply = message.create_ack(code, message_id=_reply_control_id(), application=ACK_APPLICATION)
            segments = [str(reply.segment("MSH")), f"{reply.segment('MSA')}|{text}"]
            return "\r".join([*segments, err] if err else segments)
        except (KeyError, IndexError, ValueError):
            pass  # an MSH too broken to answer from: the minimal form below
    now = timezone.now().astimezone(UTC).strftime("%Y%m%d%H%M%S")
    control_id = _field(message, "MSH", 10)[:50] if message is not None else ""
    segments = [
        f"MSH|^~\\&|{ACK_APPLICATION}||||{now}||ACK|{_reply_control_id()}|P|2.5.1",
        f"MSA|{code}|{control_id}|{text}",
    ]
    return "\r".join([*segments, err] if err else segments)


# --------------------------------------------------------------------------- FHIR


def parse_fhir_encounter(raw: str, program: Program, record_number: str) -> VisitFacts:
    """Read a POSTed Encounter (the FHIR API resolved its subject to `record_number`); AdtError
    (AE) for one that is not a hospital visit we can record."""
    try:
        encounter = Encounter.model_validate(json.loads(raw))
    except (ValueError, PydanticValidationError) as exc:
        raise AdtError("AE", "The Encounter is not a valid FHIR R4 Encounter.", ERR_DATA_TYPE) from exc
    code = (encounter.class_fhir.code or "") if encounter.class_fhir else ""
    if code not in FHIR_CLASSES:
        raise AdtError("AE", "Encounter.class must be IMP or EMER (v3 ActCode).", ERR_DATA_TYPE)
    identifier = next((i for i in encounter.identifier or [] if i.value), None)
    if identifier is None:
        raise AdtError("AE", "Encounter.identifier (the visit number) is required.", ERR_REQUIRED_FIELD_MISSING)
    if encounter.status in ("planned", "cancelled", "entered-in-error"):
        raise AdtError("AE", f"An Encounter with status {encounter.status} is not a visit that happened.")
    period = encounter.period
    start = _aware(period.start, program, "period.start") if period and period.start else None
    end = _aware(period.end, program, "period.end") if period and period.end else None
    disposition = encounter.hospitalization.dischargeDisposition if encounter.hospitalization else None
    return VisitFacts(
        control_id=f"{identifier.system or ''}|{identifier.value}"[:200],
        event=code,
        record_number=record_number,
        patient_class=FHIR_CLASSES[code],
        visit_number=str(identifier.value)[:40],
        admitted_at=start,
        discharged_at=end,
        event_at=end or start,
        is_discharge=end is not None or disposition is not None or encounter.status == "finished",
        is_update=False,
    )
