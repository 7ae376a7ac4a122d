"""HL7 v2.5.1 ADT messages as hospitals send them (tests/clients/hl7/), through the one service
the MLLP listener calls: what is stored, what is recorded as a transition event, what is
answered, and what a resend changes (nothing)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import hl7
import pytest

from audit.models import AuditEvent
from clients.adt import ack, parse_hl7
from clients.models import AdtMessage, AdtSource, AdtStatus, AppointmentKind, AppointmentStatus, ClinicalAppointment
from clients.services import adt_message_dismiss, adt_message_match, adt_message_receive, adt_messages_rematch
from tests.factories import ClientFactory

SAMPLES = Path(__file__).parent / "hl7"


def sample(name: str, mrn: str, **replace: str) -> str:
    """A sample file as it travels: segments separated by carriage returns."""
    text = (SAMPLES / name).read_text().replace("{mrn}", mrn)
    for old, new in replace.items():
        text = text.replace(old, new)
    return "\r".join(line for line in text.splitlines() if line)


def receive(cast, name: str, mrn: str | None = None, **replace: str):
    return adt_message_receive(program=cast.program, raw=sample(name, mrn or cast.mine.external_id, **replace))


def acked(cast, raw: str) -> hl7.Message:
    outcome = adt_message_receive(program=cast.program, raw=raw)
    try:
        message = parse_hl7(raw, cast.program)[0]
    except Exception:  # noqa: BLE001 - the listener answers unreadable messages too
        message = None
    return hl7.parse(ack(message, outcome.code, outcome.reason, condition=outcome.condition))


def test_an_inpatient_discharge_is_recorded_as_an_attended_transition_at_the_discharge_time(cast):
    outcome = receive(cast, "a03_inpatient_discharge.hl7")
    assert outcome.code == "AA"
    appointment = ClinicalAppointment.objects.get(client=cast.mine)
    assert appointment.kind == AppointmentKind.INPATIENT_DISCHARGE
    assert appointment.status == AppointmentStatus.ATTENDED
    assert appointment.start == datetime(2026, 10, 3, 19, 0, tzinfo=UTC)  # PV1-45, -05:00
    message = AdtMessage.objects.get()
    assert (message.status, message.event, message.client, message.appointment) == (
        AdtStatus.ACCEPTED,
        "A03",
        cast.mine,
        appointment,
    )


def test_the_raw_message_and_the_record_number_are_encrypted_at_rest(cast):
    receive(cast, "a03_inpatient_discharge.hl7")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT raw, record_number FROM clients_adtmessage")
        raw, record_number = cursor.fetchone()
    assert cast.mine.external_id not in raw and "Doe^Jordan" not in raw
    assert cast.mine.external_id not in record_number
    assert AdtMessage.objects.get().record_number == cast.mine.external_id


def test_a_resent_message_is_accepted_again_and_changes_nothing(cast):
    first = receive(cast, "a03_inpatient_discharge.hl7")
    events = AuditEvent.objects.count()
    again = receive(cast, "a03_inpatient_discharge.hl7")
    assert again.code == "AA" and again.duplicate and again.message == first.message
    assert again.reason == "Already received."
    assert ClinicalAppointment.objects.count() == 1
    assert AdtMessage.objects.count() == 1
    assert AuditEvent.objects.count() == events


def test_an_emergency_registration_and_its_discharge_are_one_emergency_visit_at_arrival(cast):
    assert receive(cast, "a04_emergency_registration.hl7").code == "AA"
    assert receive(cast, "a03_emergency_discharge.hl7").code == "AA"
    visit = ClinicalAppointment.objects.get(client=cast.mine)
    assert visit.kind == AppointmentKind.EMERGENCY_VISIT
    assert visit.start == datetime(2026, 10, 6, 3, 0, tzinfo=UTC)  # PV1-44 22:00 -05:00
    assert AdtMessage.objects.filter(status=AdtStatus.ACCEPTED, appointment=visit).count() == 2


def test_an_emergency_admission_records_the_emergency_visit(cast):
    assert receive(cast, "a01_emergency_admit.hl7").code == "AA"
    visit = ClinicalAppointment.objects.get(client=cast.mine)
    assert (visit.kind, visit.start) == (AppointmentKind.EMERGENCY_VISIT, datetime(2026, 10, 1, 13, 15, tzinfo=UTC))


def test_an_inpatient_admission_is_not_a_transition(cast):
    outcome = receive(cast, "a01_emergency_admit.hl7", **{"PV1|1|E|": "PV1|1|I|"})
    assert outcome.code == "AA"
    assert "nothing to record" in outcome.reason
    assert not ClinicalAppointment.objects.exists()
    assert AdtMessage.objects.get().status == AdtStatus.ACCEPTED


def test_a_minimal_discharge_without_optional_segments_takes_the_message_time(cast):
    outcome = receive(cast, "a03_minimal.hl7")
    assert outcome.code == "AA"
    visit = ClinicalAppointment.objects.get(client=cast.mine)
    # MSH-7 without an offset: the hospital's wall clock in the program's zone (New York, EDT).
    assert visit.start == datetime(2026, 10, 3, 19, 0, tzinfo=UTC)


def test_an_update_moves_the_recorded_discharge_time_and_nothing_else(cast):
    receive(cast, "a03_inpatient_discharge.hl7")
    assert receive(cast, "a08_update.hl7").code == "AA"
    visit = ClinicalAppointment.objects.get(client=cast.mine)
    assert visit.start == datetime(2026, 10, 3, 18, 30, tzinfo=UTC)
    assert visit.kind == AppointmentKind.INPATIENT_DISCHARGE


def test_an_update_for_a_visit_never_recorded_changes_nothing(cast):
    outcome = receive(cast, "a08_update.hl7")
    assert outcome.code == "AA" and "nothing changed" in outcome.reason
    assert not ClinicalAppointment.objects.exists()


def test_an_unknown_record_number_is_held_for_review_and_accepted(cast):
    outcome = receive(cast, "a03_inpatient_discharge.hl7", mrn="NOT-A-CLIENT")
    assert outcome.code == "AA"
    held = AdtMessage.objects.get()
    assert held.status == AdtStatus.HELD and held.client is None
    assert not ClinicalAppointment.objects.exists()


def test_a_held_message_matches_once_the_client_is_added(cast):
    receive(cast, "a03_inpatient_discharge.hl7", mrn="MRN-LATE")
    client = ClientFactory(program=cast.program, external_id="MRN-LATE")
    assert adt_messages_rematch(program=cast.program, user=cast.coordinator) == 1
    message = AdtMessage.objects.get()
    assert message.status == AdtStatus.ACCEPTED and message.client == client
    assert message.reviewed_by == cast.coordinator
    assert ClinicalAppointment.objects.get().client == client


def test_a_coordinator_matches_a_held_message_to_the_client_it_is_about(cast):
    receive(cast, "a03_inpatient_discharge.hl7", mrn="HOSP-77")
    message = adt_message_match(message=AdtMessage.objects.get(), client=cast.theirs, user=cast.coordinator)
    assert message.status == AdtStatus.ACCEPTED and message.client == cast.theirs
    assert ClinicalAppointment.objects.get().client == cast.theirs
    assert AuditEvent.objects.filter(action="clients.adt_message.updated", client_id=cast.theirs.pk).exists()


def test_a_held_message_cannot_be_matched_to_another_programs_client(cast):
    from django.core.exceptions import ValidationError

    receive(cast, "a03_inpatient_discharge.hl7", mrn="HOSP-77")
    with pytest.raises(ValidationError):
        adt_message_match(message=AdtMessage.objects.get(), client=cast.foreign, user=cast.coordinator)
    assert not ClinicalAppointment.objects.exists()


def test_a_dismissed_message_records_nothing(cast):
    receive(cast, "a03_inpatient_discharge.hl7", mrn="HOSP-77")
    adt_message_dismiss(message=AdtMessage.objects.get(), user=cast.coordinator)
    assert AdtMessage.objects.get().status == AdtStatus.DISMISSED
    assert adt_messages_rematch(program=cast.program) == 0


def test_writes_are_audited_without_identifiers_in_the_detail(cast):
    receive(cast, "a03_inpatient_discharge.hl7")
    events = list(AuditEvent.objects.filter(client_id=cast.mine.pk).order_by("id"))
    assert [e.action for e in events] == ["clients.appointment.created", "clients.adt_message.created"]
    for event in events:
        assert event.detail["via"] == "adt"
        assert event.program_id == cast.program.pk
        assert cast.mine.external_id not in str(event.detail)


@pytest.mark.parametrize(
    ("raw", "code", "condition", "reason"),
    [
        ("garbage that is not HL7", "AR", "100", "does not start with an MSH"),
        ("MSH|^~\\&|HIS|H|||20261003||ORU^R01|C1|P|2.5.1\rPID|||X", "AR", "200", "Only ADT"),
        ("MSH|^~\\&|HIS|H|||20261003||ADT^A02|C2|P|2.5.1\rPID|||X", "AR", "201", "A02"),
        ("MSH|^~\\&|HIS|H|||20261003||ADT^A03|C3|P|9.9\rPID|||X", "AR", "203", "version"),
        ("MSH|^~\\&|HIS|H|||20261003||ADT^A03||P|2.5.1\rPID|||X", "AR", "101", "MSH-10"),
        ("MSH|^~\\&|HIS|H|||20261003||ADT^A03|C4|P|2.5.1\rPV1||I", "AE", "100", "no PID"),
        ("MSH|^~\\&|HIS|H|||20261003||ADT^A03|C5|P|2.5.1\rPID|1||\rPV1||I", "AE", "101", "PID-3"),
        (
            "MSH|^~\\&|HIS|H|||20261003||ADT^A03|C6|P|2.5.1\rPID|||X\rPV1||I|" + "|" * 42 + "2026-13-45",
            "AE",
            "102",
            "PV1-45",
        ),
    ],
)
def test_a_message_we_cannot_take_is_answered_with_the_reason_and_stored_as_rejected(
    cast, raw, code, condition, reason
):
    answer = acked(cast, raw)
    msa = answer.segment("MSA")
    assert str(msa(1)) == code
    assert reason in str(msa(3))
    assert str(answer.segment("ERR")(3)(1)(1)) == condition
    stored = AdtMessage.objects.get()
    assert stored.status == AdtStatus.REJECTED and reason in stored.reason
    assert not ClinicalAppointment.objects.exists()


def test_a_discharge_in_the_future_is_an_error_in_content(cast):
    outcome = receive(cast, "a03_inpatient_discharge.hl7", **{"20261003140000-0500": "20991003140000-0500"})
    assert outcome.code == "AE"
    assert "future" in outcome.reason
    assert not ClinicalAppointment.objects.exists()


def test_a_rejected_message_corrected_and_resent_under_its_control_id_is_taken(cast):
    broken = receive(cast, "a03_inpatient_discharge.hl7", **{"20261003140000-0500": "20991003140000-0500"})
    assert broken.code == "AE"
    fixed = receive(cast, "a03_inpatient_discharge.hl7")
    assert fixed.code == "AA" and not fixed.duplicate
    assert ClinicalAppointment.objects.count() == 1


def test_the_acknowledgment_echoes_the_control_id_and_answers_the_sender(cast):
    answer = acked(cast, sample("a03_inpatient_discharge.hl7", cast.mine.external_id))
    assert str(answer.segment("MSA")(1)) == "AA"
    assert str(answer.segment("MSA")(2)) == "MSG-A03-0001"
    msh = answer.segment("MSH")
    assert str(msh(9)) == "ACK^A03^ACK"
    assert (str(msh(3)), str(msh(5))) == ("PEER-SUPPORT", "EPIC")
    with pytest.raises(KeyError):
        answer.segment("ERR")


def test_a_message_from_another_programs_feed_never_reaches_its_clients(cast):
    outcome = adt_message_receive(
        program=cast.other_program, raw=sample("a03_inpatient_discharge.hl7", cast.mine.external_id)
    )
    assert outcome.code == "AA"
    assert AdtMessage.objects.get().status == AdtStatus.HELD
    assert not ClinicalAppointment.objects.exists()


def test_messages_are_only_the_coordinators(cast):
    receive(cast, "a03_inpatient_discharge.hl7")
    assert AdtMessage.objects.visible_to(cast.coordinator).count() == 1
    for user in (cast.supporter_user, cast.clinician_user, cast.funder, cast.other_coordinator):
        assert not AdtMessage.objects.visible_to(user).exists()
    assert AdtMessage.objects.get().source == AdtSource.HL7V2


def test_the_coordinator_matches_a_held_message_on_the_hospital_messages_page(cast, client):
    receive(cast, "a03_inpatient_discharge.hl7", mrn="HOSP-77")
    client.force_login(cast.coordinator)
    url = f"/program/{cast.program.pk}/hospital-messages/"
    page = client.get(url)
    assert page.status_code == 200 and "HOSP-77" in page.content.decode() and "Doe Jordan Q" in page.content.decode()
    held = AdtMessage.objects.get()
    answer = client.post(url, {"action": "match", "message": held.pk, "record_number": cast.theirs.external_id})
    assert answer.status_code == 302
    assert ClinicalAppointment.objects.get().client == cast.theirs
    for user in (cast.supporter_user, cast.clinician_user, cast.other_coordinator):
        client.force_login(user)
        assert client.get(url).status_code == 404
