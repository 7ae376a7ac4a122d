"""Credential status, training hours, the lapsed-credential policy and reminders."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from base.services import membership_grant
from clients.models import CaseloadAssignment
from clients.services import assignment_save
from core.models import Role
from supporters.models import CEHours, CredentialReminder, LapsedPolicy, ProgramPolicy
from supporters.services import (
    CredentialStatus,
    ce_progress,
    credential_status,
    send_credential_reminders,
    supporter_is_lapsed,
    supporter_may_sign,
    supporter_may_take_clients,
)
from tests.factories import CertificationFactory, ClientFactory, CredentialTypeFactory

TODAY = date(2026, 6, 15)


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [
        (120, CredentialStatus.ACTIVE),
        (91, CredentialStatus.ACTIVE),
        (90, CredentialStatus.EXPIRING_90),
        (61, CredentialStatus.EXPIRING_90),
        (60, CredentialStatus.EXPIRING_60),
        (31, CredentialStatus.EXPIRING_60),
        (30, CredentialStatus.EXPIRING_30),
        (0, CredentialStatus.EXPIRING_30),
        (-1, CredentialStatus.LAPSED),
    ],
)
def test_it_computes_the_status_at_the_90_60_30_day_boundaries(days_left, expected):
    assert credential_status(TODAY + timedelta(days=days_left), TODAY) == expected


def test_a_credential_without_expiry_is_active():
    assert credential_status(None, TODAY) == CredentialStatus.ACTIVE


def lapse(supporter, policy: str | None = None):
    today = supporter.program.local_today()
    cert = CertificationFactory(
        supporter=supporter, issued_on=today - timedelta(days=800), expires_on=today - timedelta(days=1)
    )
    if policy:
        ProgramPolicy.objects.update_or_create(program=supporter.program, defaults={"lapsed_credential_policy": policy})
    return cert


def test_a_renewed_credential_is_not_lapsed(cast):
    old = lapse(cast.other_supporter)
    assert supporter_is_lapsed(cast.other_supporter)
    CertificationFactory(
        supporter=cast.other_supporter, credential_type=old.credential_type, certification_type=old.certification_type
    )
    assert not supporter_is_lapsed(cast.other_supporter)


def new_assignment(cast, supporter):
    client = ClientFactory(program=cast.program)
    return CaseloadAssignment(client=client, supporter=supporter, start_date=cast.program.local_today(), role="primary")


def test_a_lapsed_supporter_cannot_take_new_clients_when_the_program_blocks(cast):
    lapse(cast.other_supporter, LapsedPolicy.BLOCK)
    with pytest.raises(ValidationError) as caught:
        assignment_save(assignment=new_assignment(cast, cast.other_supporter))
    assert "supporter" in caught.value.message_dict
    assert supporter_may_sign(cast.other_supporter) is False


def test_a_lapsed_supporter_is_only_warned_when_the_program_warns(cast):
    lapse(cast.other_supporter, LapsedPolicy.WARN)
    allowed, message = supporter_may_take_clients(cast.other_supporter)
    assert allowed and "lapsed" in message
    assert assignment_save(assignment=new_assignment(cast, cast.other_supporter)).pk
    assert supporter_may_sign(cast.other_supporter) is True


def test_a_block_keeps_existing_assignments_editable(cast):
    lapse(cast.supporter, LapsedPolicy.BLOCK)
    current = cast.mine.assignments.get()
    current.end_date = cast.program.local_today()
    assert assignment_save(assignment=current).end_date == cast.program.local_today()


def test_the_api_refuses_an_assignment_to_a_blocked_supporter_with_a_400(cast, api_as):
    lapse(cast.other_supporter, LapsedPolicy.BLOCK)
    client = ClientFactory(program=cast.program)
    response = api_as(cast.coordinator).post(
        reverse("assignment-list"),
        {
            "client": client.pk,
            "supporter": cast.other_supporter.pk,
            "start_date": str(cast.program.local_today()),
            "role": "primary",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "lapsed" in response.json()["supporter"][0]


def test_a_supporter_logs_training_hours_on_their_own_credential(cast, api_as):
    cert = CertificationFactory(supporter=cast.supporter)
    api = api_as(cast.supporter_user)
    payload = {
        "certification": cert.pk,
        "category": "Ethics",
        "hours": "3.5",
        "completed_on": str(cast.program.local_today()),
        "title": "Boundaries refresher",
    }
    response = api.post(reverse("ce-hours-list"), payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["category"] == "ethics"
    assert CEHours.objects.get().hours == Decimal("3.50")


def test_a_supporter_cannot_log_hours_on_anothers_credential(cast, api_as):
    cert = CertificationFactory(supporter=cast.other_supporter)
    payload = {
        "certification": cert.pk,
        "category": "ethics",
        "hours": "2",
        "completed_on": str(cast.program.local_today()),
        "title": "x",
    }
    response = api_as(cast.supporter_user).post(reverse("ce-hours-list"), payload, format="json")
    assert response.status_code == 400  # the credential is not in their scope: "does not exist"
    assert "certification" in response.json()
    assert not CEHours.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("hours", "0"), ("hours", "-2"), ("hours", "250"), ("completed_on", "2999-01-01"), ("hours", "lots")],
)
def test_bad_training_hours_are_a_400_naming_the_field(cast, api_as, field, value):
    cert = CertificationFactory(supporter=cast.supporter)
    payload = {
        "certification": cert.pk,
        "category": "ethics",
        "hours": "2",
        "completed_on": str(cast.program.local_today()),
        "title": "x",
    }
    payload[field] = value
    response = api_as(cast.supporter_user).post(reverse("ce-hours-list"), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_hours_count_only_inside_the_current_renewal_cycle_and_per_category(cast):
    ctype = CredentialTypeFactory(
        program=cast.program, renewal_period_months=24, ce_hours_required=10, category_hours_required={"ethics": "4"}
    )
    cert = CertificationFactory(
        supporter=cast.supporter, credential_type=ctype, issued_on=date(2024, 1, 1), expires_on=date(2027, 1, 1)
    )
    CEHours.objects.create(
        certification=cert, category="ethics", hours=Decimal(3), completed_on=date(2024, 6, 1), title="before the cycle"
    )  # cycle starts 2025-01-01
    CEHours.objects.create(
        certification=cert, category="ethics", hours=Decimal(3), completed_on=date(2025, 2, 1), title="in"
    )
    CEHours.objects.create(
        certification=cert, category="general", hours=Decimal(8), completed_on=date(2025, 3, 1), title="in"
    )
    progress = ce_progress(cert)
    assert progress.cycle_start == date(2025, 1, 1)
    assert progress.total_hours == Decimal(11)
    ethics = next(r for r in progress.by_category if r["category"] == "ethics")
    assert ethics["hours"] == Decimal(3) and not ethics["met"]
    assert not progress.requirement_met
    CEHours.objects.create(
        certification=cert, category="ethics", hours=Decimal(1), completed_on=date(2025, 4, 1), title="in"
    )
    assert ce_progress(cert).requirement_met


def test_the_progress_endpoint_reports_the_requirement(cast, api_as):
    cert = CertificationFactory(supporter=cast.supporter)
    response = api_as(cast.supporter_user).get(reverse("certification-progress", args=[cert.pk]))
    assert response.status_code == 200
    assert response.json()["total_required"] == "20.00"
    assert api_as(cast.other_supporter_user).get(reverse("certification-progress", args=[cert.pk])).status_code == 404


def test_category_hours_above_the_total_are_refused(cast, api_as):
    response = api_as(cast.coordinator).post(
        reverse("credential-type-list"),
        {
            "program": cast.program.pk,
            "name": "NCPRSS",
            "kind": "national",
            "ce_hours_required": "5",
            "category_hours_required": {"ethics": "6"},
        },
        format="json",
    )
    assert response.status_code == 400
    assert "category_hours_required" in response.json()


def test_reminders_go_once_per_threshold_to_the_supporter_and_coordinators(cast):
    today = cast.program.local_today()
    cert = CertificationFactory(supporter=cast.supporter, expires_on=today + timedelta(days=90))
    by_program = {cast.program.id: today}
    assert send_credential_reminders(today_by_program=by_program) == 1
    assert send_credential_reminders(today_by_program=by_program) == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert cast.supporter.email in message.to and cast.coordinator.email in message.to
    assert cast.mine.last_name not in message.body and cast.mine.external_id not in message.body
    # 31 days later: inside 60 days, one more; then nothing until 30 days.
    by_program = {cast.program.id: today + timedelta(days=31)}
    assert send_credential_reminders(today_by_program=by_program) == 1
    assert send_credential_reminders(today_by_program={cast.program.id: today + timedelta(days=40)}) == 0
    assert send_credential_reminders(today_by_program={cast.program.id: today + timedelta(days=60)}) == 1
    assert sorted(CredentialReminder.objects.filter(certification=cert).values_list("threshold_days", flat=True)) == [
        30,
        60,
        90,
    ]
    assert len(mail.outbox) == 3


def test_a_first_run_inside_30_days_sends_one_reminder_not_three(cast):
    today = cast.program.local_today()
    CertificationFactory(supporter=cast.supporter, expires_on=today + timedelta(days=10))
    call_command("send_credential_reminders")
    call_command("send_credential_reminders")
    assert len(mail.outbox) == 1
    assert CredentialReminder.objects.count() == 3


def test_no_reminder_for_lapsed_or_distant_credentials(cast):
    today = cast.program.local_today()
    CertificationFactory(supporter=cast.supporter, expires_on=today + timedelta(days=91))
    CertificationFactory(supporter=cast.supporter, expires_on=today - timedelta(days=1))
    assert send_credential_reminders() == 0


def test_a_renewal_gets_fresh_reminders(cast):
    today = cast.program.local_today()
    cert = CertificationFactory(supporter=cast.supporter, expires_on=today + timedelta(days=20))
    assert send_credential_reminders() == 1
    cert.expires_on = today + timedelta(days=80)
    cert.save()
    assert send_credential_reminders() == 1


def test_only_coordinators_manage_credentials(cast, api_as):
    payload = {"supporter": cast.supporter.pk, "certification_type": "State CPS", "expires_on": "2030-01-01"}
    assert api_as(cast.supporter_user).post(reverse("certification-list"), payload, format="json").status_code == 403
    response = api_as(cast.coordinator).post(reverse("certification-list"), payload, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "active"


def test_a_coordinator_sets_the_lapsed_policy(cast, api_as):
    url = reverse("program-policy-detail", args=[cast.program.pk])
    assert (
        api_as(cast.supporter_user).patch(url, {"lapsed_credential_policy": "block"}, format="json").status_code == 404
    )
    api = api_as(cast.coordinator)
    assert api.get(url).json()["lapsed_credential_policy"] == "warn"
    response = api.patch(url, {"lapsed_credential_policy": "block"}, format="json")
    assert response.status_code == 200, response.content
    assert ProgramPolicy.objects.get(program=cast.program).lapsed_credential_policy == "block"
    assert api.patch(url, {"lapsed_credential_policy": "maybe"}, format="json").status_code == 400
    assert api_as(cast.other_coordinator).get(url).status_code == 404


def test_coordinators_of_other_programs_get_no_reminders(cast):
    from tests.factories import UserFactory

    stranger = UserFactory(username="stranger-coord", email="stranger@example.org")
    membership_grant(user=stranger, program=cast.other_program, role=Role.COORDINATOR)
    CertificationFactory(supporter=cast.supporter, expires_on=cast.program.local_today() + timedelta(days=5))
    send_credential_reminders()
    assert "stranger@example.org" not in mail.outbox[0].to


def test_a_supporter_without_credentials_may_sign_and_take_clients(cast):
    ProgramPolicy.objects.create(program=cast.program, lapsed_credential_policy=LapsedPolicy.BLOCK)
    assert supporter_may_sign(cast.supporter) is True
    assert supporter_may_take_clients(cast.supporter) == (True, "")


def test_a_credential_lapses_the_day_after_expiry_not_on_it(cast):
    today = cast.program.local_today()
    CertificationFactory(supporter=cast.supporter, issued_on=today - timedelta(days=700), expires_on=today)
    ProgramPolicy.objects.create(program=cast.program, lapsed_credential_policy=LapsedPolicy.BLOCK)
    assert supporter_may_sign(cast.supporter, today) is True
    assert supporter_may_sign(cast.supporter, today + timedelta(days=1)) is False


# --- one status, shown the same on the page, in the API and on the worklist ------------------


def _status_on_page(client, cast, cert) -> str:
    client.force_login(cast.coordinator)
    rows = client.get(reverse("program:credentials", args=[cast.program.pk])).context["rows"]
    return next(row["status"] for row in rows if row["cert"].pk == cert.pk)


def _status_in_api(api_as, cast, cert) -> str:
    return api_as(cast.coordinator).get(reverse("certification-detail", args=[cert.pk])).json()["status"]


def _on_worklist(cast, cert) -> bool:
    from reports.worklists import credentials_due

    return credentials_due(cast.program, cast.program.local_today()).filter(pk=cert.pk).exists()


def test_a_credential_that_lapsed_with_no_renewal_is_lapsed_everywhere(cast, client, api_as):
    old = lapse(cast.supporter)
    # Another supporter holding the same credential type is no renewal of this one.
    CertificationFactory(
        supporter=cast.other_supporter, credential_type=old.credential_type, certification_type=old.certification_type
    )
    assert _status_on_page(client, cast, old) == CredentialStatus.LAPSED
    assert _status_in_api(api_as, cast, old) == CredentialStatus.LAPSED
    assert _on_worklist(cast, old)
    assert supporter_is_lapsed(cast.supporter)
    page = client.get(reverse("program:credentials", args=[cast.program.pk])).content.decode()
    assert "(renewed)" not in page


def test_a_renewed_credential_is_renewed_everywhere_and_leaves_the_worklist(cast, client, api_as):
    old = lapse(cast.supporter)
    new = CertificationFactory(
        supporter=cast.supporter,
        credential_type=old.credential_type,
        certification_type=old.certification_type,
        expires_on=cast.program.local_today() + timedelta(days=45),
    )
    assert _status_on_page(client, cast, old) == CredentialStatus.RENEWED
    assert _status_in_api(api_as, cast, old) == CredentialStatus.RENEWED
    assert not _on_worklist(cast, old)
    # The renewal itself expires within 60 days: it is due, on the page, in the API and on the worklist.
    assert _status_on_page(client, cast, new) == CredentialStatus.EXPIRING_60
    assert _status_in_api(api_as, cast, new) == CredentialStatus.EXPIRING_60
    assert _on_worklist(cast, new)


def test_no_reminder_goes_for_a_credential_already_renewed(cast):
    today = cast.program.local_today()
    old = CertificationFactory(supporter=cast.supporter, expires_on=today + timedelta(days=20))
    CertificationFactory(
        supporter=cast.supporter,
        credential_type=old.credential_type,
        certification_type=old.certification_type,
        expires_on=today + timedelta(days=800),
    )
    assert send_credential_reminders() == 0
