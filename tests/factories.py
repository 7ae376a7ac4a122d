"""Factories for every core record; tests build small programs from these."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import factory

from accounts.models import Organization, Program, Site, User
from clients.models import (
    AppointmentKind,
    AppointmentStatus,
    AssignmentRole,
    CaseloadAssignment,
    Client,
    ClinicalAppointment,
    Clinician,
)
from sessions.models import Attendance, AttendanceStatus, Modality, PeerSession
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


class AttendanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attendance

    session = factory.SubFactory(PeerSessionFactory)
    client = factory.SubFactory(ClientFactory, program=factory.SelfAttribute("..session.program"))
    status = AttendanceStatus.COMPLETED


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
