"""Demo data for running the program, called by accounts' seed_demo (kept here so the
seed command only grows by a few lines). Goes through the services, like real use."""

from __future__ import annotations

import importlib
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.apps import apps as django_apps
from django.db.models import Min

from base.services import program_cosignature_set
from clients.models import (
    AssignmentRole,
    CaseloadAssignment,
    Client,
    CollectionAnchor,
    CollectionPoint,
    Consent,
    Instrument,
    RecoveryGoal,
    Resource,
    ResourceCategory,
)
from clients.services import (
    client_preference_set,
    collection_point_save,
    consent_revoke,
    goal_progress_add,
    goal_save,
    outcome_measure_record,
    referral_create,
    referral_update,
    resource_save,
)
from core.models import Program, User
from sessions.models import PeerSession, SessionStatus
from supporters.models import Certification, CredentialKind, CredentialType, LapsedPolicy, Supporter
from supporters.services import (
    ce_hours_log,
    credential_type_save,
    lived_experience_set,
    program_policy_save,
    supervision_session_save,
)


def years_before(day: date, years: int) -> date:
    """The same day `years` earlier; 29 February becomes the 28th in a common year (the demo
    runs on any day, leap days included)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def build_program_running(program: Program, *, coordinator: User, supporter_user: User) -> None:
    today = program.local_today()
    state = credential_type_save(
        credential_type=CredentialType(program=program),
        fields={
            "name": "State Certified Peer Specialist",
            "kind": CredentialKind.STATE,
            "issuing_body": "State Certification Board",
            "renewal_period_months": 24,
            "ce_hours_required": Decimal(20),
            "category_hours_required": {"ethics": "6"},
        },
    )
    credential_type_save(
        credential_type=CredentialType(program=program),
        fields={
            "name": "NCPRSS",
            "kind": CredentialKind.NATIONAL,
            "issuing_body": "NAADAC",
            "renewal_period_months": 24,
            "ce_hours_required": Decimal(40),
            "category_hours_required": {"ethics": "6"},
        },
    )
    credential_type_save(
        credential_type=CredentialType(program=program),
        fields={
            "name": "Riverside WRAP facilitator",
            "kind": CredentialKind.PROGRAM,
            "issuing_body": "Riverside",
            "renewal_period_months": 12,
            "ce_hours_required": Decimal(4),
        },
    )
    Certification.objects.filter(
        supporter__program=program, credential_type__isnull=True, certification_type=state.name
    ).update(credential_type=state)
    # Block: the demo shows a lapsed credential stopping an assignment.
    program_policy_save(
        program=program,
        fields={
            "lapsed_credential_policy": LapsedPolicy.BLOCK,
            "supervision_hours_per_month": Decimal(2),
            "extra_lived_experience_areas": [{"code": "foster-care", "label": "Foster care"}],
        },
    )
    supporters = list(Supporter.objects.filter(program=program).order_by("external_id"))
    if not supporters:
        return
    own = next((s for s in supporters if s.user_id == supporter_user.pk), supporters[0])
    cert = own.certifications.order_by("-expires_on").first()
    if cert is not None:
        ce_hours_log(
            certification=cert,
            category="ethics",
            hours=Decimal(3),
            completed_on=today - timedelta(days=40),
            title="Ethics and boundaries in peer work",
        )
        ce_hours_log(
            certification=cert,
            category="general",
            hours=Decimal("6.5"),
            completed_on=today - timedelta(days=20),
            title="Motivational interviewing basics",
        )
    areas = [["substance_use_recovery", "parenting"], ["veteran", "mental_health_recovery"], ["homelessness"], []]
    for supporter, disclosed in zip(supporters, areas, strict=False):
        if disclosed:
            lived_experience_set(supporter=supporter, areas=disclosed)
    # Six months of supervision, so reports have a history; the fourth supporter falls behind.
    month_start = today.replace(day=1)
    for _ in range(6):
        month_start = (month_start - timedelta(days=1)).replace(day=1)
        for supporter in supporters[:3]:
            supervision_session_save(
                program=program,
                supervisor=coordinator,
                supervisees=[supporter],
                held_on=month_start + timedelta(days=8),
                duration_minutes=60,
                format="individual",
                topics="Caseload review; self-care",
            )
        supervision_session_save(
            program=program,
            supervisor=coordinator,
            supervisees=supporters[:3],
            held_on=month_start + timedelta(days=11),
            duration_minutes=75,
            format="group",
            topics="Sharing recovery stories safely",
        )
    # Two new clients waiting for a supporter; one asked for a veteran peer who speaks Spanish.
    site = supporters[1].site
    waiting = Client.objects.create(
        program=program,
        external_id="MRN-20001",
        first_name="Luis",
        last_name="Ortega",
        date_of_birth=years_before(today, 41),
        preferred_language="es",
        site=site,
        veteran="yes",
        housing="temporary",
    )
    client_preference_set(client=waiting, requested_lived_experience=["veteran"])
    Client.objects.create(
        program=program,
        external_id="MRN-20002",
        first_name="Mia",
        last_name="Sandoval",
        date_of_birth=years_before(today, 29),
        preferred_language="en",
        site=site,
    )
    resource_save(
        resource=Resource(program=program),
        fields={
            "name": "988 Suicide & Crisis Lifeline",
            "category": ResourceCategory.CRISIS,
            "phone": "988",
            "website": "https://988lifeline.org",
            "hours": "24/7",
            "languages": ["en", "es"],
            "is_crisis_line": True,
            "notes": "Call or text 988.",
        },
    )
    housing = resource_save(
        resource=Resource(program=program),
        fields={
            "name": "Riverside Housing Help Desk",
            "category": ResourceCategory.HOUSING,
            "phone": "555-0142",
            "address": "40 Mill St",
            "hours": "Mon–Fri 9–17",
            "languages": ["en", "es"],
        },
    )
    pantry = resource_save(
        resource=Resource(program=program),
        fields={
            "name": "Harbor Food Pantry",
            "category": ResourceCategory.FOOD,
            "phone": "555-0177",
            "hours": "Tue, Thu 10–14",
            "languages": ["en"],
        },
    )
    own_clients = list(
        Client.objects.filter(
            assignments__in=CaseloadAssignment.objects.filter(supporter=own, role=AssignmentRole.PRIMARY).active_on(
                today
            )
        ).order_by("id")[:3]
    )
    # The library row comes from a data migration; a flushed test database (live-server
    # tests) loses it, so put it back with the same code the migration runs.

    importlib.import_module("clients.migrations.0003_barc10_instrument").add_barc10(django_apps, None)
    barc10 = Instrument.objects.get(program__isnull=True, code="barc-10")
    for i, client in enumerate(own_clients):
        goal = goal_save(
            goal=RecoveryGoal(),
            by=supporter_user,
            fields={
                "client": client,
                "goal": ["Have my own place by spring", "Get back to work part-time", "Reconnect with my sister"][i],
                "domain": ["housing", "employment", "relationships"][i],
                "steps": ["Call the housing desk", "Gather ID and income papers"],
            },
        )
        session = client.attendances.select_related("session").order_by("-session__start").first()
        goal_progress_add(
            goal=goal,
            author=supporter_user,
            note="Talked through the first step.",
            peer_session=session.session if session else None,
        )
        if i < 2:
            start = today - timedelta(days=120)
            outcome_measure_record(
                client=client,
                instrument=barc10,
                administered_on=start,
                responses=[3, 2, 3, 4, 3, 2, 3, 3, 4, 3],
                by=supporter_user,
            )
            outcome_measure_record(
                client=client,
                instrument=barc10,
                administered_on=start + timedelta(days=90),
                responses=[4, 3, 4, 4, 4, 3, 4, 3, 5, 4],
                by=supporter_user,
            )
    _program_outcomes(program, barc10, supporter_user, today, exclude={c.pk for c in own_clients})
    if own_clients:
        referral = referral_create(
            client=own_clients[0],
            resource=housing,
            referred_on=today - timedelta(days=12),
            reason="Looking for stable housing",
            follow_up_on=today - timedelta(days=5),
            by=supporter_user,
        )
        referral_update(
            referral=referral,
            status="contacted",
            note="Client called the desk; intake booked.",
            follow_up_on=today + timedelta(days=7),
        )
    _referral_histories(program, own, housing=housing, pantry=pantry, by=supporter_user, today=today)
    _note_supervision(program, coordinator=coordinator, supporter=own)


def _referral_histories(
    program: Program, supporter: Supporter, *, housing: Resource, pantry: Resource, by: User, today: date
) -> None:
    """Referrals over the past months for the demo supporter's other clients (the first has its
    housing referral above), some followed up, some closed, so each client page's timeline shows
    every kind of entry."""
    clients = list(
        Client.objects.filter(
            assignments__in=CaseloadAssignment.objects.filter(supporter=supporter).active_on(today)
        ).order_by("id")
    )[1:]
    for i, client in enumerate(clients):
        referred_on = today - timedelta(days=25 + 17 * i)
        referral = referral_create(
            client=client,
            resource=pantry if i % 2 else housing,
            referred_on=referred_on,
            reason="Asked for help with food" if i % 2 else "Behind on rent",
            follow_up_on=referred_on + timedelta(days=7),
            by=by,
        )
        if i % 3 == 1:
            referral_update(referral=referral, status="connected", note="Receiving the service.")
        elif i % 3 == 2:
            referral_update(referral=referral, status="closed", outcome="met", note="Need met.")


def _note_supervision(program: Program, *, coordinator: User, supporter: Supporter) -> None:
    """Notes need a supervisor's co-signature here; the coordinator supervises `supporter` (the
    supervision above), and two of the supporter's latest notes are signed, awaiting it."""
    program_cosignature_set(program=program, required=True, by=coordinator)
    latest = PeerSession.objects.filter(supporter=supporter, status=SessionStatus.HELD).order_by("-start")[:2]
    for session in latest:
        # Written directly, as the demo's sessions are (the demo credential may have lapsed).
        session.narrative = "Talked through the week and the plan for the Tuesday group."
        session.signed_at = session.start + timedelta(hours=2)
        session.signed_by = supporter.user
        session.save(update_fields=["narrative", "signed_at", "signed_by"])


GOALS = [
    ("Keep my appointments with the clinic", "health"),
    ("Walk every morning", "mental_health"),
    ("Open a bank account", "finances"),
    ("Join the Tuesday recovery group", "community"),
]


def _program_outcomes(program: Program, barc10: Instrument, by: User, today: date, *, exclude: set[int]) -> None:
    """Goals met and BARC-10 re-measures across the caseload over the past months, for the reports."""
    clients = list(
        Client.objects.filter(program=program, assignments__isnull=False)
        .exclude(pk__in=exclude)
        .distinct()
        .order_by("id")
    )
    enrolled_on = dict(
        CaseloadAssignment.objects.filter(client__in=clients)
        .values("client_id")
        .annotate(first=Min("start_date"))
        .values_list("client_id", "first")
    )
    for i, client in enumerate(clients):
        text, domain = GOALS[i % len(GOALS)]
        goal = goal_save(goal=RecoveryGoal(), by=by, fields={"client": client, "goal": text, "domain": domain})
        met_on = today - timedelta(days=20 + 7 * i)
        # Demo history: the goal was set before it was met (created_at is otherwise today).
        set_at = datetime.combine(met_on - timedelta(days=45), time(12), tzinfo=program.tzinfo)
        RecoveryGoal.objects.filter(pk=goal.pk).update(created_at=set_at)
        if i % 3 != 2:  # two goals in three are met, spread over the last five months
            goal_save(goal=goal, by=by, fields={"status": "achieved", "achieved_on": met_on})
        if i % 2 == 0:
            base = 20 + i % 7
            first = [base // 10 + (k % 2) for k in range(10)]
            later = [min(6, v + (1 if (k + i) % 3 else 0)) for k, v in enumerate(first)]
            # Against the program's collection protocol (below): most baselines inside their 30
            # days, a few late; the three-month check-in spread either side of its window.
            enrolled = enrolled_on[client.pk]
            intake = enrolled + timedelta(days=(i * 7) % 40)
            again = min(today, enrolled + timedelta(days=90 + (i * 11) % 60 - 20))
            outcome_measure_record(client=client, instrument=barc10, administered_on=intake, responses=first, by=by)
            if again > intake:
                outcome_measure_record(client=client, instrument=barc10, administered_on=again, responses=later, by=by)
    # The program adds a three-month check-in to the SUPRT-style defaults every program gets
    # (clients.collection): with six months of history it is the follow-up that has come due.
    collection_point_save(
        point=CollectionPoint(program=program),
        fields={
            "code": "check-in-3m",
            "label": "Three-month check-in (± 21 days)",
            "instrument": barc10,
            "anchor": CollectionAnchor.ENROLLMENT,
            "offset_days": 91,
            "window_before": 21,
            "window_after": 21,
            "counts_toward_followup": True,
            "position": 1,
        },
    )


def consent_variety(program: Program, *, supporter_user: User) -> None:
    """Every consent status on the demo supporter's caseload: of the clients with a consent, the
    last one revoked ten days ago and the one before it expiring in three weeks (after the demo's
    feedback was sent under them)."""
    today = program.local_today()
    supporter = Supporter.objects.filter(program=program, user=supporter_user).first()
    if supporter is None:
        return
    consenting = list(
        Client.objects.filter(
            assignments__in=CaseloadAssignment.objects.filter(supporter=supporter).active_on(today),
            consents__isnull=False,
        )
        .distinct()
        .order_by("id")
    )
    if len(consenting) < 3:
        return
    expiring, revoked = consenting[-2], consenting[-1]
    Consent.objects.filter(client=expiring).update(expires_on=today + timedelta(days=21))
    for consent in Consent.objects.filter(client=revoked):
        consent_revoke(
            consent=consent, revoked_on=today - timedelta(days=10), reason="The client asked to stop sharing."
        )
