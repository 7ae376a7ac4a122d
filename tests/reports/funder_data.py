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
            supporter=supporter,
            certification_type="CPS",
            number=f"CPS-{supporter.pk}",
            issued_on=date(2024, 1, 1),
            expires_on=date(2027, 1, 1),
        )
    people = []
    for i in range(clients):
        client = ClientFactory(
            program=program,
            first_name="Zebulon",
            last_name=f"Quartermaine{i}",
            external_id=f"MRN-88{i:03d}",
            date_of_birth=date(1971, 4, 9),
        )
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
                    supporter=supporters[i % 2],
                    start=when + timedelta(days=4),
                    duration_minutes=45,
                    modality=MODALITIES[(week + i) % len(MODALITIES)],
                )
                AttendanceFactory(session=session, client=client, status=AttendanceStatus.COMPLETED)
    group = PeerSessionFactory(
        supporter=cast.supporter,
        start=datetime(2026, 2, 11, 23, 0, tzinfo=UTC),
        duration_minutes=90,
        kind=SessionKind.GROUP,
        modality=Modality.IN_PERSON,
    )
    for client in people[:4]:
        AttendanceFactory(session=group, client=client, status=AttendanceStatus.COMPLETED)
    return people


def barc10():
    """The shipped BARC-10 (a data migration); put back if a flushed database lost it."""
    import importlib

    from django.apps import apps as django_apps

    from clients.models import Instrument

    importlib.import_module("clients.migrations.0003_barc10_instrument").add_barc10(django_apps, None)
    return Instrument.objects.get(program__isnull=True, code="barc-10")


def add_outcomes_feedback_and_supervision(cast, people: list) -> dict:
    """On top of build_history: billing units, 40 feedback items, goals, BARC-10 re-measures
    and supervision of 24 active supporters in Q1 2026, with every count either 0 or over 10
    so the expected figures are all printed. Returns what the test should find."""
    from clients.models import GoalStatus
    from sessions.billing import billing_recompute
    from sessions.models import Attendance, FeedbackItem, FeedbackReply, ProgramSessionRules
    from supporters.models import Supporter
    from tests.factories import (
        FeedbackItemFactory,
        InstrumentFactory,
        OutcomeMeasureFactory,
        RecoveryGoalFactory,
        SupervisionSessionFactory,
        SupporterFactory,
    )

    program = cast.program
    tz = program.tzinfo
    # These sessions carry no notes: bill them unsigned, so the figures have units to show.
    ProgramSessionRules.objects.update_or_create(program=program, defaults={"units_need_signed_note": False})
    rows = Attendance.objects.filter(session__program=program).values_list("client_id", "session__start")
    billing_recompute(program=program, client_ids={c for c, _ in rows}, days={s.astimezone(tz).date() for _, s in rows})

    # Feedback: 22 progress updates and 18 adherence barriers sent in February; 25 acknowledged
    # within a day (deadline 48 h), 15 after 100 hours; 20 with a clinician's reply.
    sent_at = datetime(2026, 2, 2, 14, 0, tzinfo=UTC)
    for i in range(40):
        item = FeedbackItemFactory(
            author=cast.supporter,
            program=program,
            client=people[i % len(people)],
            category="progress_update" if i < 22 else "adherence_barrier",
            deadline=sent_at + timedelta(days=i, hours=48),
        )
        item.recipients.add(cast.clinician)
        waited = timedelta(hours=24) if i < 25 else timedelta(hours=100)
        FeedbackItem.objects.filter(pk=item.pk).update(
            created_at=sent_at + timedelta(days=i),
            acknowledged_at=sent_at + timedelta(days=i) + waited,
            acknowledged_by=cast.clinician_user,
        )
        if i % 2 == 0:
            FeedbackReply.objects.create(item=item, author=cast.clinician_user, text="Thanks, noted.")
        elif i == 1:
            FeedbackReply.objects.create(item=item, author=cast.supporter.user, text="Adding a detail.")
    # An item from April is outside the period.
    late = FeedbackItemFactory(author=cast.supporter, program=program, client=people[0])
    FeedbackItem.objects.filter(pk=late.pk).update(created_at=datetime(2026, 4, 3, 12, 0, tzinfo=UTC))

    # Goals: 12 set in February (11 met in March), one met back in December.
    for i in range(12):
        goal = RecoveryGoalFactory(client=people[i])
        achieved = date(2026, 3, 1 + i) if i < 11 else None
        RecoveryGoalFactory._meta.model.objects.filter(pk=goal.pk).update(
            created_at=datetime(2026, 2, 10, 15, 0, tzinfo=UTC),
            status=GoalStatus.ACHIEVED if achieved else GoalStatus.ACTIVE,
            achieved_on=achieved,
        )
    old = RecoveryGoalFactory(client=people[20])
    RecoveryGoalFactory._meta.model.objects.filter(pk=old.pk).update(
        created_at=datetime(2025, 11, 1, 15, 0, tzinfo=UTC), status=GoalStatus.ACHIEVED, achieved_on=date(2025, 12, 15)
    )

    # BARC-10: 12 clients measured in November (30) and again in February (36); client 12 only has
    # an intake in the period; client 13 is re-measured in April (after the period); a
    # program-defined instrument does not count.
    barc = barc10()
    for i in range(12):
        OutcomeMeasureFactory(
            client=people[i], instrument=barc, administered_on=date(2025, 11, 20), responses=[3] * 10, total=30
        )
        OutcomeMeasureFactory(
            client=people[i], instrument=barc, administered_on=date(2026, 2, 20), responses=[4] * 6 + [3] * 4, total=36
        )
    OutcomeMeasureFactory(
        client=people[12], instrument=barc, administered_on=date(2026, 1, 20), responses=[2] * 10, total=20
    )
    OutcomeMeasureFactory(
        client=people[13], instrument=barc, administered_on=date(2025, 12, 1), responses=[2] * 10, total=20
    )
    OutcomeMeasureFactory(
        client=people[13], instrument=barc, administered_on=date(2026, 4, 2), responses=[6] * 10, total=60
    )
    own = InstrumentFactory(program=program)
    for day in (date(2025, 12, 1), date(2026, 2, 1)):
        OutcomeMeasureFactory(client=people[14], instrument=own, administered_on=day)

    # Supervision: 22 more supporters with a secondary assignment, so 24 are active. The policy
    # asks 2 h a month: 12 supporters get 2 h in each month of Q1 (met), 12 get one hour (not).
    extra = [SupporterFactory(program=program) for _ in range(22)]
    for i, supporter in enumerate(extra):
        AssignmentFactory(
            client=people[i], supporter=supporter, role="secondary", start_date=date(2025, 12, 1), end_date=None
        )
    active = [cast.supporter, cast.other_supporter, *extra]
    for month in (1, 2, 3):
        session = SupervisionSessionFactory(
            program=program,
            supervisor=cast.coordinator,
            held_on=date(2026, month, 10),
            duration_minutes=120,
            format="group",
        )
        session.supervisees.set(active[:12])
    single = SupervisionSessionFactory(
        program=program, supervisor=cast.coordinator, held_on=date(2026, 2, 20), duration_minutes=60, format="group"
    )
    single.supervisees.set(active[12:])
    # Supervision in April does not count for Q1.
    after = SupervisionSessionFactory(
        program=program, supervisor=cast.coordinator, held_on=date(2026, 4, 20), duration_minutes=480, format="group"
    )
    after.supervisees.set(active[12:])
    assert Supporter.objects.filter(program=program).count() >= 24
    return {"supporters_active": 24}
