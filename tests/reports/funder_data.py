"""A small deterministic program history for funder report tests (Q1 2026 and before)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from clients.models import AppointmentKind, AppointmentStatus
from reports.funder.periods import Period
from sessions.models import AttendanceStatus, Modality, SessionKind
from supporters.models import Certification
from tests.factories import (
    AppointmentFactory,
    AssignmentFactory,
    AttendanceFactory,
    ClientFactory,
    PeerSessionFactory,
)

Q1_2026 = Period(date(2026, 1, 1), date(2026, 3, 31), "quarter")
MODALITIES = [Modality.IN_PERSON] * 6 + [Modality.PHONE] * 3 + [Modality.VIDEO]


def build_history(cast, clients: int = 24) -> list:
    """`clients` clients enrolled from 2025-12-01 (a few discharged in March),
    fortnightly appointments, peer contacts in most gaps, one small group."""
    program = cast.program
    supporters = [cast.supporter, cast.other_supporter]
    for supporter in supporters:
        Certification.objects.create(
            supporter=supporter, certification_type="CPS", number=f"CPS-{supporter.pk}",
            issued_on=date(2024, 1, 1), expires_on=date(2027, 1, 1),
        )
    people = []
    for i in range(clients):
        client = ClientFactory(program=program, first_name="Zebulon", last_name=f"Quartermaine{i}",
                               external_id=f"MRN-88{i:03d}", date_of_birth=date(1971, 4, 9))
        end = date(2026, 3, 10) if i % 8 == 0 else None
        AssignmentFactory(client=client, supporter=supporters[i % 2], start_date=date(2025, 12, 1), end_date=end)
        people.append(client)
        for week in range(0, 16, 2):
            when = datetime(2026, 1, 5, 15, 0, tzinfo=UTC) + timedelta(weeks=week, hours=i)
            kind = AppointmentKind.EMERGENCY_VISIT if (week == 2 and i % 3 == 0) else AppointmentKind.ROUTINE
            status = AppointmentStatus.NO_SHOW if (week + i) % 7 == 0 else AppointmentStatus.ATTENDED
            AppointmentFactory(client=client, start=when, kind=kind, status=status)
            if (week + i) % 3:
                session = PeerSessionFactory(
                    supporter=supporters[i % 2], start=when + timedelta(days=4), duration_minutes=45,
                    modality=MODALITIES[(week + i) % len(MODALITIES)],
                )
                AttendanceFactory(session=session, client=client, status=AttendanceStatus.COMPLETED)
    group = PeerSessionFactory(supporter=cast.supporter, start=datetime(2026, 2, 11, 23, 0, tzinfo=UTC),
                               duration_minutes=90, kind=SessionKind.GROUP, modality=Modality.IN_PERSON)
    for client in people[:4]:
        AttendanceFactory(session=group, client=client, status=AttendanceStatus.COMPLETED)
    return people
