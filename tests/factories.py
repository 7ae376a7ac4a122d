"""Factories for every core record; tests build small programs from these."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import factory

from clients.models import (
    AppointmentKind,
    AppointmentStatus,
    AssignmentRole,
    CaseloadAssignment,
    Client,
    ClinicalAppointment,
    Clinician,
    CollectionPoint,
    Consent,
    ConsentScope,
)
from clients.models import GoalProgress as GoalProgress_model
from clients.models import Instrument as Instrument_model
from clients.models import OutcomeMeasure as OutcomeMeasure_model
from clients.models import RecoveryGoal as RecoveryGoal_model
from clients.models import Referral as Referral_model
from core.models import Organization, Program, Site, User
from sessions.models import (
    Attendance,
    AttendanceStatus,
    FeedbackItem,
    Modality,
    Notification,
    PeerSession,
    Recurrence,
    SessionKind,
    SessionSeries,
)
from supporters.models import CEHours as CEHours_model
from supporters.models import LivedExperience as LivedExperience_model
from supporters.models import ProgramPolicy as ProgramPolicy_model
from supporters.models import SupervisionSession as SupervisionSession_model
from supporters.models import Supporter


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("correct horse battery staple")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    organization = factory.SubFactory(OrganizationFactory)
    slug = factory.Sequence(lambda n: f"program-{n}")
    name = factory.Sequence(lambda n: f"Program {n}")
    timezone = "America/New_York"


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    program = factory.SubFactory(ProgramFactory)
    external_id = factory.Sequence(lambda n: f"SITE-{n}")
    name = factory.Sequence(lambda n: f"Site {n}")


class SupporterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supporter

    program = factory.SubFactory(ProgramFactory)
    external_id = factory.Sequence(lambda n: f"SUP-{n}")
    first_name = "Sam"
    last_name = factory.Sequence(lambda n: f"Supporter{n}")
    email = factory.Sequence(lambda n: f"sup{n}@example.org")
    max_caseload = 20
    languages = factory.LazyFunction(lambda: ["en"])


class ClinicianFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinician

    program = factory.SubFactory(ProgramFactory)
    external_id = factory.Sequence(lambda n: f"CLN-{n}")
    first_name = "Casey"
    last_name = factory.Sequence(lambda n: f"Clinician{n}")
    email = factory.Sequence(lambda n: f"cln{n}@example.org")
    discipline = "psychiatry"


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    program = factory.SubFactory(ProgramFactory)
    external_id = factory.Sequence(lambda n: f"MRN-{n}")
    first_name = "Jordan"
    last_name = factory.Sequence(lambda n: f"Client{n}")
    date_of_birth = date(1980, 5, 17)
    preferred_language = "en"


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaseloadAssignment

    client = factory.SubFactory(ClientFactory)
    supporter = factory.SubFactory(SupporterFactory, program=factory.SelfAttribute("..client.program"))
    start_date = factory.LazyFunction(lambda: date.today() - timedelta(days=30))  # noqa: DTZ011
    end_date = None
    role = AssignmentRole.PRIMARY


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClinicalAppointment

    client = factory.SubFactory(ClientFactory)
    program = factory.SelfAttribute("client.program")
    external_id = factory.Sequence(lambda n: f"APT-{n}")
    start = factory.LazyFunction(lambda: datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    kind = AppointmentKind.ROUTINE
    status = AppointmentStatus.ATTENDED


class PeerSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PeerSession

    supporter = factory.SubFactory(SupporterFactory)
    program = factory.SelfAttribute("supporter.program")
    start = factory.LazyFunction(lambda: datetime(2026, 3, 5, 15, 0, tzinfo=UTC))
    duration_minutes = 30
    modality = Modality.IN_PERSON


class SessionSeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SessionSeries

    supporter = factory.SubFactory(SupporterFactory)
    program = factory.SelfAttribute("supporter.program")
    kind = SessionKind.GROUP
    modality = Modality.VIDEO
    duration_minutes = 60
    recurrence = Recurrence.WEEKLY
    starts_on = date(2027, 1, 5)
    start_time = time(18, 0)
    count = 1


class AttendanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attendance

    session = factory.SubFactory(PeerSessionFactory)
    client = factory.SubFactory(ClientFactory, program=factory.SelfAttribute("..session.program"))
    status = AttendanceStatus.COMPLETED


class ConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consent

    client = factory.SubFactory(ClientFactory)
    scope = ConsentScope.CARE_TEAM
    purpose = "Coordination of care"
    effective_on = factory.LazyFunction(lambda: date.today() - timedelta(days=10))  # noqa: DTZ011
    signed_on = factory.LazyFunction(lambda: date.today() - timedelta(days=10))  # noqa: DTZ011
    signed_by_name = "Client"
    revocation_statement_included = True


class FeedbackItemFactory(factory.django.DjangoModelFactory):
    """An item as delivered; tests of the sending rules go through sessions.services.feedback_send."""

    class Meta:
        model = FeedbackItem

    author = factory.SubFactory(SupporterFactory)
    program = factory.SelfAttribute("author.program")
    client = factory.SubFactory(ClientFactory, program=factory.SelfAttribute("..author.program"))
    category = "progress_update"
    urgency = "routine"
    text = "Doing better with the bus pass."
    deadline = factory.LazyFunction(lambda: datetime(2026, 3, 12, 15, 0, tzinfo=UTC))


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    recipient = factory.SubFactory(UserFactory)
    kind = "feedback_reply"
    link = "/feedback/1/"


# --- running the program (supporters/ and clients/ additions) ---------------------------------

from clients.models import Resource, ResourceCategory  # noqa: E402
from supporters.models import Certification, CredentialKind, CredentialType  # noqa: E402


class CredentialTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CredentialType

    program = factory.SubFactory(ProgramFactory)
    name = factory.Sequence(lambda n: f"Certified Peer Specialist {n}")
    kind = CredentialKind.STATE
    issuing_body = "State Certification Board"
    renewal_period_months = 24
    ce_hours_required = 20
    category_hours_required = factory.LazyFunction(lambda: {"ethics": "6"})


class CertificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Certification

    supporter = factory.SubFactory(SupporterFactory)
    credential_type = factory.SubFactory(CredentialTypeFactory, program=factory.SelfAttribute("..supporter.program"))
    certification_type = factory.LazyAttribute(lambda c: c.credential_type.name if c.credential_type else "CPS")
    number = factory.Sequence(lambda n: f"CPS-{n}")
    issued_on = factory.LazyFunction(lambda: date.today() - timedelta(days=365))  # noqa: DTZ011
    expires_on = factory.LazyFunction(lambda: date.today() + timedelta(days=365))  # noqa: DTZ011


class ResourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Resource

    program = factory.SubFactory(ProgramFactory)
    name = factory.Sequence(lambda n: f"Resource {n}")
    category = ResourceCategory.HOUSING
    phone = "555-0100"
    languages = factory.LazyFunction(lambda: ["en"])


class CEHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CEHours_model

    certification = factory.SubFactory(CertificationFactory)
    category = "ethics"
    hours = 2
    completed_on = factory.LazyFunction(lambda: date.today() - timedelta(days=10))  # noqa: DTZ011
    title = "Boundaries in peer work"


class SupervisionSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupervisionSession_model

    program = factory.SubFactory(ProgramFactory)
    supervisor = factory.SubFactory(UserFactory)
    held_on = factory.LazyFunction(lambda: date.today() - timedelta(days=3))  # noqa: DTZ011
    duration_minutes = 60
    format = "individual"


class LivedExperienceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LivedExperience_model

    supporter = factory.SubFactory(SupporterFactory)
    areas = factory.LazyFunction(lambda: ["veteran"])


class ProgramPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProgramPolicy_model

    program = factory.SubFactory(ProgramFactory)


class RecoveryGoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RecoveryGoal_model

    client = factory.SubFactory(ClientFactory)
    program = factory.SelfAttribute("client.program")
    goal = "Find a part-time job near the bus line"
    domain = "employment"


class GoalProgressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GoalProgress_model

    goal = factory.SubFactory(RecoveryGoalFactory)
    note = "Applied to two places."


class InstrumentFactory(factory.django.DjangoModelFactory):
    """A program-defined instrument (the shipped library has no program)."""

    class Meta:
        model = Instrument_model

    program = factory.SubFactory(ProgramFactory)
    code = factory.Sequence(lambda n: f"own-scale-{n}")
    name = "Our own three-item check-in"
    items = factory.LazyFunction(lambda: ["Sleep", "Hope", "Connection"])
    item_min = 1
    item_max = 5


class OutcomeMeasureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutcomeMeasure_model

    client = factory.SubFactory(ClientFactory)
    program = factory.SelfAttribute("client.program")
    instrument = factory.SubFactory(InstrumentFactory, program=factory.SelfAttribute("..client.program"))
    administered_on = factory.LazyFunction(lambda: date.today() - timedelta(days=1))  # noqa: DTZ011
    responses = factory.LazyFunction(lambda: [3, 4, 2])
    total = 9


class ReferralFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Referral_model

    client = factory.SubFactory(ClientFactory)
    program = factory.SelfAttribute("client.program")
    resource = factory.SubFactory(ResourceFactory, program=factory.SelfAttribute("..client.program"))
    referred_on = factory.LazyFunction(lambda: date.today() - timedelta(days=2))  # noqa: DTZ011


class CollectionPointFactory(factory.django.DjangoModelFactory):
    """A time point added to a program's protocol (every program has the defaults already)."""

    class Meta:
        model = CollectionPoint

    program = factory.SubFactory(ProgramFactory)
    code = factory.Sequence(lambda n: f"point-{n}")
    label = "Three-month check-in"
    instrument = factory.SubFactory(InstrumentFactory, program=factory.SelfAttribute("..program"))
    anchor = "enrollment"
    offset_days = 91
    window_before = 14
    window_after = 14


# --- between clinic visits (issue 17) ---------------------------------------------------------

from sessions.models import FollowUpTask as FollowUpTask_model  # noqa: E402
from sessions.models import TaskKind  # noqa: E402
from supporters.models import OnCallShift as OnCallShift_model  # noqa: E402


class FollowUpTaskFactory(factory.django.DjangoModelFactory):
    """A task as opened; tests of the opening rules go through sessions.services.task_open."""

    class Meta:
        model = FollowUpTask_model

    client = factory.SubFactory(ClientFactory)
    program = factory.SelfAttribute("client.program")
    assignee = factory.SubFactory(SupporterFactory, program=factory.SelfAttribute("..client.program"))
    kind = TaskKind.NO_SHOW
    source = factory.Sequence(lambda n: f"session:{n}")
    since = factory.LazyFunction(lambda: datetime(2026, 3, 5, 15, 0, tzinfo=UTC))
    due_at = factory.LazyFunction(lambda: datetime(2026, 3, 7, 15, 0, tzinfo=UTC))


class OnCallShiftFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OnCallShift_model

    supporter = factory.SubFactory(SupporterFactory)
    program = factory.SelfAttribute("supporter.program")
    starts_at = factory.LazyFunction(lambda: datetime(2026, 3, 5, 13, 0, tzinfo=UTC))
    ends_at = factory.LazyFunction(lambda: datetime(2026, 3, 6, 1, 0, tzinfo=UTC))
    phone = "+16175550100"
