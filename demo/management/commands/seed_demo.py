"""Load a demo program with one login per role. Safe to run again: nothing is duplicated."""

from __future__ import annotations

import random
import secrets
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from base.services import membership_grant
from bench.large import build_large_network
from clients.models import (
    AppointmentKind,
    AppointmentStatus,
    AssignmentRole,
    CaseloadAssignment,
    Client,
    ClinicalAppointment,
    Clinician,
    Consent,
    ConsentScope,
    Discipline,
)
from core.models import Organization, Program, Role, Site, User
from demo.between_visits import build_between_visits
from demo.interop_demo import build_interop
from demo.portal_demo import build_portal
from demo.program_demo import build_program_running, consent_variety, years_before
from demo.schedule import build_schedule
from security.mfa import has_totp, totp_enrol
from sessions.models import (
    Attendance,
    AttendanceStatus,
    FeedbackCategory,
    FeedbackItem,
    FeedbackReply,
    Modality,
    PeerSession,
    SessionKind,
    SessionStatus,
    Urgency,
)
from sessions.services import feedback_acknowledge, feedback_reply, feedback_send
from supporters.models import Certification, CredentialType, OnCallShift, Supporter

DEMO_SLUG = "riverside-peer"
FIRST = ["Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Rowan", "Drew"]
LAST = ["Rivera", "Chen", "Okafor", "Nguyen", "Smith", "Garcia", "Patel", "Kowalski", "Haddad", "Brown", "Lopez"]
# Self-reported characteristics: (answer, weight); "" is not asked, "declined" the client's choice.
RACE_ANSWERS: list[tuple[list[str], int]] = [
    (["white"], 9),
    (["black_african_american"], 6),
    (["hispanic_latino"], 5),
    (["hispanic_latino", "white"], 2),
    (["asian"], 2),
    (["american_indian_alaska_native"], 1),
    (["middle_eastern_north_african"], 1),
    (["black_african_american", "native_hawaiian_pacific_islander"], 1),
    (["declined"], 2),
    ([], 3),
]
SINGLE_ANSWERS: dict[str, list[tuple[str, int]]] = {
    "gender_identity": [
        ("woman", 10),
        ("man", 11),
        ("transgender_woman", 1),
        ("non_binary", 1),
        ("declined", 2),
        ("", 3),
    ],
    "veteran": [("no", 20), ("yes", 3), ("declined", 1), ("", 4)],
    "housing": [("stable", 14), ("temporary", 5), ("homeless", 4), ("institution", 1), ("declined", 1), ("", 3)],
    "employment": [
        ("unemployed", 9),
        ("part_time", 5),
        ("full_time", 5),
        ("not_in_labor_force", 5),
        ("declined", 1),
        ("", 3),
    ],
    "coverage": [("medicaid", 14), ("medicare", 4), ("private", 3), ("uninsured", 3), ("declined", 1), ("", 3)],
}


def demo_characteristics(rng: random.Random) -> dict[str, Any]:
    """A realistic spread of answers for one demo client, some declined and some not asked."""

    def pick(answers: list[tuple[Any, int]]) -> Any:
        return rng.choices([a for a, _ in answers], weights=[w for _, w in answers])[0]

    return {"race_ethnicity": list(pick(RACE_ANSWERS))} | {name: pick(a) for name, a in SINGLE_ANSWERS.items()}


def demo_password() -> str:
    """A random demo password kept outside git, reused on every run so it stays printed-and-valid."""
    path = Path(settings.BASE_DIR) / ".demo_password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


class Command(BaseCommand):
    help = "Create (or refresh) the demo program and its four demo logins."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--password", help="Password for the demo users (default: generated, kept in .demo_password)"
        )
        parser.add_argument(
            "--ehr-inbox-port",
            type=int,
            help="point the demo program's EHR endpoint at the demo EHR inbox on this loopback port "
            "(manage.py ehr_inbox; make run does both)",
        )
        parser.add_argument(
            "--scale",
            choices=["small", "large"],
            default="small",
            help="small: the demo program (default); large: adds a state-wide network built with COPY "
            "(see docs/scale.md)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The logins are printed last, after the demo's transaction commits: the e-mails it
        # sends on commit (the console backend under make run) come before them, not after.
        self.summary: list[str] = []
        self._seed_demo(options)
        for line in self.summary:
            self.stdout.write(line)
        if options["scale"] == "large":
            # Outside the demo's transaction: the large build commits table by table.

            build_large_network(stdout=self.stdout)

    @transaction.atomic
    def _seed_demo(self, options: dict[str, Any]) -> None:
        password = options["password"] or demo_password()
        org, _ = Organization.objects.get_or_create(slug="riverside", defaults={"name": "Riverside Community Health"})
        program, created = Program.objects.get_or_create(
            slug=DEMO_SLUG,
            defaults={"organization": org, "name": "Riverside Peer Support", "timezone": "America/New_York"},
        )
        users = {}
        for role, first, last in [
            (Role.COORDINATOR, "Dana", "Whitfield"),
            (Role.SUPPORTER, "Marcus", "Bell"),
            (Role.CLINICIAN, "Priya", "Raman"),
            (Role.FUNDER, "Grant", "Hollis"),
        ]:
            user, _ = User.objects.get_or_create(
                username=f"demo-{role.value}",
                defaults={"first_name": first, "last_name": last, "email": f"demo-{role.value}@example.org"},
            )
            user.set_password(password)
            user.save()
            membership_grant(user=user, program=program, role=role)
            users[role] = user
        if created:
            self._build_program(program, users)
            # The demo writes sessions directly; give their attendances their billing units.
            call_command("recompute_billing_units", program=program.slug, stdout=self.stdout)
        if not CredentialType.objects.filter(program=program).exists():
            self._build_program_running(program, users)
        if not FeedbackItem.objects.filter(program=program).exists():
            self._build_feedback(program, users)
            consent_variety(program, supporter_user=users[Role.SUPPORTER])
        between_visits: list[str] = []
        if not OnCallShift.objects.filter(program=program).exists():
            between_visits = build_between_visits(program, users=users)
        self.summary.append(self.style.SUCCESS(f"Demo program '{program.name}' ({program.slug}) is ready."))
        self.summary.append("Sign in at http://127.0.0.1:8000/ as any of:")
        for role, user in users.items():
            self.summary.append(f"  {user.username:<18} ({role.label})")
        self.summary.extend(build_portal(program, users=users, password=password))
        self.summary.append(f"Password for all of them: {password}")
        self.summary.extend(between_visits)
        self.summary.extend(build_schedule(program))
        self.summary.extend(build_interop(program, users=users, ehr_inbox_port=options.get("ehr_inbox_port")))
        self._enrol_mfa(users)

    def _enrol_mfa(self, users: dict[Role, User]) -> None:
        """Coordinators and clinicians must use two-factor sign-in. The demo users get
        an authenticator whose secret is printed (add it to any TOTP app), and
        `manage.py demo_totp <username>` prints the current code."""

        self.summary.append("Two-factor sign-in (required for the coordinator and the clinician):")
        for role in (Role.COORDINATOR, Role.CLINICIAN):
            user = users[role]
            if has_totp(user):
                self.summary.append(
                    f"  {user.username:<18} already enrolled; current code: python manage.py demo_totp {user.username}"
                )
                continue
            secret = totp_enrol(user)
            self.summary.append(
                f"  {user.username:<18} TOTP secret {secret} (or run: python manage.py demo_totp {user.username})"
            )

    def _build_program(self, program: Program, users: dict[Role, User]) -> None:
        rng = random.Random(20260101)
        tz = program.tzinfo
        today = program.local_today()
        sites = [
            Site.objects.create(program=program, external_id="S-NORTH", name="North Clinic", address="12 River Rd"),
            Site.objects.create(program=program, external_id="S-SOUTH", name="South Clinic", address="80 Harbor St"),
        ]
        supporters = []
        for i in range(4):
            user = users[Role.SUPPORTER] if i == 0 else None
            first, last = (user.first_name, user.last_name) if user else (FIRST[i + 4], LAST[i + 3])
            supporter = Supporter.objects.create(
                program=program,
                user=user,
                external_id=f"SUP-{i + 1}",
                first_name=first,
                last_name=last,
                email=f"sup{i + 1}@riverside.example.org",
                site=sites[i % 2],
                max_caseload=12,
                languages=["en", "es"] if i % 2 else ["en"],
            )
            Certification.objects.create(
                supporter=supporter,
                certification_type="State Certified Peer Specialist",
                number=f"CPS-{1000 + i}",
                issuing_body="State Certification Board",
                issued_on=today - timedelta(days=700),
                expires_on=today + timedelta(days=[400, 45, 200, -10][i]),
            )
            supporters.append(supporter)
        clinicians = []
        for i, discipline in enumerate([Discipline.PSYCHIATRY, Discipline.SOCIAL_WORK, Discipline.COUNSELING]):
            user = users[Role.CLINICIAN] if i == 0 else None
            first, last = (user.first_name, user.last_name) if user else (FIRST[i + 8], LAST[i + 7])
            clinicians.append(
                Clinician.objects.create(
                    program=program,
                    user=user,
                    external_id=f"CLN-{i + 1}",
                    first_name=first,
                    last_name=last,
                    email=f"clin{i + 1}@riverside.example.org",
                    discipline=discipline,
                )
            )
        start_of_history = today - timedelta(days=180)
        # Its own generator, so the rest of the demo (and its counts) stays as it was.
        traits = random.Random(20261204)
        for i in range(30):
            client = Client.objects.create(
                program=program,
                external_id=f"MRN-{10001 + i}",
                first_name=rng.choice(FIRST),
                last_name=rng.choice(LAST),
                date_of_birth=years_before(today, rng.randint(19, 70)),
                preferred_language="es" if i % 5 == 0 else "en",
                site=sites[i % 2],
                **demo_characteristics(traits),
            )
            client.care_team.add(clinicians[i % 3])
            enrolled = start_of_history + timedelta(days=rng.randint(0, 60))
            supporter = supporters[i % 4]
            CaseloadAssignment.objects.create(
                client=client, supporter=supporter, start_date=enrolled, role=AssignmentRole.PRIMARY
            )
            if i % 6 == 0:
                CaseloadAssignment.objects.create(
                    client=client,
                    supporter=supporters[(i + 1) % 4],
                    start_date=enrolled,
                    role=AssignmentRole.SECONDARY,
                )
            day = enrolled
            n = 0
            while day < today + timedelta(days=14):
                n += 1
                kind = (
                    AppointmentKind.INTAKE
                    if n == 1
                    else rng.choice(
                        [AppointmentKind.ROUTINE] * 8
                        + [AppointmentKind.EMERGENCY_VISIT, AppointmentKind.INPATIENT_DISCHARGE]
                    )
                )
                when = datetime.combine(day, time(rng.choice([9, 10, 11, 14, 15])), tzinfo=tz)
                if day >= today:
                    status = AppointmentStatus.SCHEDULED
                else:
                    status = rng.choice(
                        [AppointmentStatus.ATTENDED] * 6
                        + [AppointmentStatus.NO_SHOW, AppointmentStatus.CANCELLED_BY_CLIENT]
                    )
                ClinicalAppointment.objects.create(
                    program=program,
                    external_id=f"APT-{client.external_id}-{n}",
                    client=client,
                    clinician=clinicians[i % 3],
                    start=when,
                    kind=kind,
                    status=status,
                )
                peer_day = day + timedelta(days=rng.randint(2, 9))
                if peer_day < today and rng.random() < 0.7:
                    session = PeerSession.objects.create(
                        program=program,
                        supporter=supporter,
                        kind=SessionKind.ONE_TO_ONE,
                        start=datetime.combine(peer_day, time(rng.choice([10, 13, 16])), tzinfo=tz),
                        duration_minutes=rng.choice([20, 30, 45, 60]),
                        modality=rng.choice(list(Modality)),
                        location="",
                    )
                    Attendance.objects.create(
                        session=session,
                        client=client,
                        status=rng.choice([AttendanceStatus.COMPLETED] * 5 + [AttendanceStatus.ATTEMPTED]),
                    )
                day += timedelta(days=rng.randint(10, 28))
        # Consents to share with the care team for all but every fifth client, so the demo
        # shows both a feedback item that consent allows and one it refuses.
        for i, client in enumerate(Client.objects.filter(program=program).order_by("id")):
            if i % 5 != 4:
                Consent.objects.create(
                    client=client,
                    scope=ConsentScope.CARE_TEAM,
                    purpose="Coordination of care with the clinic",
                    effective_on=start_of_history,
                    signed_on=start_of_history,
                    signed_by_name="Client",
                    revocation_statement_included=True,
                )
        # A weekly recovery group run by the demo supporter, with mixed attendance.
        group_clients = list(Client.objects.filter(program=program).order_by("id")[:8])
        for week in range(12):
            group_day = today - timedelta(days=7 * week + 2)
            session = PeerSession.objects.create(
                program=program,
                supporter=supporters[0],
                kind=SessionKind.GROUP,
                start=datetime.combine(group_day, time(18), tzinfo=tz),
                duration_minutes=90,
                modality=Modality.IN_PERSON,
                location="North Clinic, room 2",
                dropin_count=week % 4,  # people who came without a client record: counted, never billed
            )
            Attendance.objects.bulk_create(
                Attendance(
                    session=session,
                    client=c,
                    status=rng.choice(
                        [AttendanceStatus.COMPLETED] * 3 + [AttendanceStatus.NO_SHOW, AttendanceStatus.CANCELLED]
                    ),
                )
                for c in group_clients
            )
        # Notes: demo-supporter signs within two days, so their past months are signed (and
        # co-signed by the coordinator, for when the program asks for it) and bill; every eighth
        # note of the last weeks is left unsigned, for the 72-hour queue and their home, and the
        # last week's signed notes await the coordinator's co-signature (the supervision queue).
        # The other supporters have no sign-in in the demo, so their notes stay unsigned.
        recent = datetime.combine(today - timedelta(days=21), time.min, tzinfo=tz)
        last_week = datetime.combine(today - timedelta(days=7), time.min, tzinfo=tz)
        held = PeerSession.objects.filter(
            program=program, status=SessionStatus.HELD, supporter__user__isnull=False
        ).select_related("supporter")
        for n, session in enumerate(held.order_by("start", "id")):
            if session.start >= recent and n % 8 == 0:
                continue
            session.narrative = session.narrative or "Checked in on the week; agreed the next step together."
            session.signed_at = min(session.start + timedelta(hours=2 + n % 40), timezone.now())
            session.signed_by = session.supporter.user
            session.signed_credential = "State Certified Peer Specialist"
            if session.start < last_week:
                session.cosigned_at = min(session.signed_at + timedelta(days=1), timezone.now())
                session.cosigned_by = users[Role.COORDINATOR]
            session.save(
                update_fields=["narrative", "signed_at", "signed_by", "signed_credential", "cosigned_at", "cosigned_by"]
            )
        # The gap ahead (continuity.md §6): scheduled peer sessions for two clients in three in the
        # coming week (a few by video), and next week's group; the others keep an unplanned gap
        # for the worklist. A separate generator, so the history above stays as it was.
        planner = random.Random(20261201)
        for i, client in enumerate(Client.objects.filter(program=program).order_by("id")):
            if i % 3 == 2:
                continue
            video = i % 4 == 1
            session = PeerSession.objects.create(
                program=program,
                supporter=supporters[i % 4],
                kind=SessionKind.ONE_TO_ONE,
                start=datetime.combine(
                    today + timedelta(days=planner.randint(1, 6)), time(planner.choice([10, 13, 16])), tzinfo=tz
                ),
                duration_minutes=45,
                modality=Modality.VIDEO if video else Modality.PHONE,
                status=SessionStatus.SCHEDULED,
                video_url=f"https://video.example.org/room/{planner.randrange(10**8):08d}" if video else "",
            )
            Attendance.objects.create(session=session, client=client, status=AttendanceStatus.SCHEDULED)
        group = PeerSession.objects.create(
            program=program,
            supporter=supporters[0],
            kind=SessionKind.GROUP,
            start=datetime.combine(today + timedelta(days=5), time(18), tzinfo=tz),
            duration_minutes=90,
            modality=Modality.IN_PERSON,
            location="North Clinic, room 2",
            status=SessionStatus.SCHEDULED,
        )
        Attendance.objects.bulk_create(
            Attendance(session=group, client=c, status=AttendanceStatus.SCHEDULED) for c in group_clients
        )

    def _build_feedback(self, program: Program, users: dict[Role, User]) -> None:
        """An inbox for the demo clinician (and the feedback inbox benchmark): five routine
        items about each consenting client on their care team, from the client's primary
        supporter; some acknowledged, some answered."""
        clinician = Clinician.objects.get(program=program, user=users[Role.CLINICIAN])
        categories = [c for c in FeedbackCategory.values if c != FeedbackCategory.SAFETY]
        n = 0
        for client in clinician.clients.filter(consents__isnull=False).distinct().order_by("id"):
            assignment = client.assignments.filter(role=AssignmentRole.PRIMARY).select_related("supporter").first()
            if assignment is None:
                continue
            for k in range(5):
                item = feedback_send(
                    author=assignment.supporter,
                    client=client,
                    recipients=[clinician],
                    category=categories[(n + k) % len(categories)],
                    urgency=Urgency.ROUTINE,
                    text=f"Demo feedback {k + 1}: what came up in this week's session, for the care team.",
                )
                if k % 2 == 0:
                    feedback_acknowledge(item=item, user=users[Role.CLINICIAN])
                if k == 0:
                    feedback_reply(item=item, user=users[Role.CLINICIAN], text="Thanks, noted for the next visit.")
                self._backdate_feedback(item, days_ago=3 + ((n * 5 + k) * 7) % 150, waited_hours=2 + 11 * ((n + k) % 9))
            n += 1

    @staticmethod
    def _backdate_feedback(item: FeedbackItem, *, days_ago: int, waited_hours: int) -> None:
        """Spread the demo's items over the past months (reports need a history), with varied
        times to acknowledgment, some past the deadline."""
        shift = timedelta(days=days_ago)
        FeedbackItem.objects.filter(pk=item.pk).update(
            created_at=F("created_at") - shift, deadline=F("deadline") - shift
        )
        acknowledged = item.created_at - shift + timedelta(hours=waited_hours)
        FeedbackItem.objects.filter(pk=item.pk, acknowledged_at__isnull=False).update(acknowledged_at=acknowledged)
        FeedbackReply.objects.filter(item=item).update(created_at=acknowledged)

    def _build_program_running(self, program: Program, users: dict[Role, User]) -> None:
        """Credentials, supervision, goals, outcome measures, resources (incl. 988) and a referral."""
        build_program_running(program, coordinator=users[Role.COORDINATOR], supporter_user=users[Role.SUPPORTER])
