"""The program pages: who may open them, and the main flows done through the forms."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from clients.models import CaseloadAssignment, Instrument, OutcomeMeasure, Referral
from reports.worklists import worklist_counts
from supporters.models import CEHours, LapsedPolicy, LivedExperience, ProgramPolicy
from supporters.services import lived_experience_set
from tests.factories import (
    AssignmentFactory,
    AttendanceFactory,
    CertificationFactory,
    ClientFactory,
    PeerSessionFactory,
    ResourceFactory,
    SupporterFactory,
)
from tests.html import inline_script

ROLES = ["coordinator", "supporter", "clinician", "funder", "outsider", "other_coordinator"]
PROGRAM_PAGES = {
    "worklists": {"coordinator"},
    "credentials": {"coordinator"},
    "supervision": {"coordinator"},
    "caseloads": {"coordinator"},
    "outcomes": {"coordinator"},
    "training": {"supporter"},
    "lived_experience": {"supporter"},
    "resources": {"coordinator", "supporter", "clinician"},
}
CLIENT_PAGES = ["goals", "outcomes", "referrals"]


@pytest.mark.parametrize("role", ROLES)
def test_program_pages_open_for_their_roles_only(cast, client, role):
    client.force_login(cast.user(role))
    for name, allowed in PROGRAM_PAGES.items():
        response = client.get(reverse(f"program:{name}", args=[cast.program.pk]))
        assert response.status_code == (200 if role in allowed else 404), (name, response.status_code)
    assign = client.get(reverse("program:assign", args=[cast.program.pk, cast.mine.pk]))
    assert assign.status_code == (200 if role == "coordinator" else 404)


@pytest.mark.parametrize("role", ROLES)
def test_client_pages_follow_the_caseload_scope(cast, client, role):
    client.force_login(cast.user(role))
    allowed = {"coordinator": {"mine", "theirs"}, "supporter": {"mine"}, "other_coordinator": {"foreign"}}.get(
        role, set()
    )
    for name in CLIENT_PAGES:
        for who in ["mine", "theirs", "foreign"]:
            response = client.get(reverse(f"client_program:{name}", args=[getattr(cast, who).pk]))
            assert response.status_code == (200 if who in allowed else 404), (name, who, response.status_code)


def test_pages_need_a_login(client, cast):
    response = client.get(reverse("program:worklists", args=[cast.program.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_coordinator_assigns_a_new_client_from_the_ranked_list(cast, client):
    new = ClientFactory(program=cast.program, preferred_language="es")
    speaker = SupporterFactory(program=cast.program, languages=["es"])
    client.force_login(cast.coordinator)
    url = reverse("program:assign", args=[cast.program.pk, new.pk])
    page = client.get(url).content.decode()
    assert page.index(speaker.full_name) < page.index(cast.supporter.full_name)
    assert "Speaks the client&#x27;s language (Spanish)" in page
    response = client.post(
        url, {"action": "assign", "supporter": speaker.pk, "start_date": str(cast.program.local_today())}, follow=True
    )
    assert response.status_code == 200
    assert CaseloadAssignment.objects.get(client=new).supporter == speaker


def test_a_lapsed_credential_blocks_the_assignment_on_the_page(cast, client):
    new = ClientFactory(program=cast.program)
    today = cast.program.local_today()
    CertificationFactory(
        supporter=cast.other_supporter, issued_on=today - timedelta(days=900), expires_on=today - timedelta(days=3)
    )
    ProgramPolicy.objects.create(program=cast.program, lapsed_credential_policy=LapsedPolicy.BLOCK)
    client.force_login(cast.coordinator)
    response = client.post(
        reverse("program:assign", args=[cast.program.pk, new.pk]),
        {"action": "assign", "supporter": cast.other_supporter.pk, "start_date": str(today)},
    )
    assert response.status_code == 200
    assert "lapsed" in response.content.decode()
    assert not CaseloadAssignment.objects.filter(client=new).exists()


def test_the_coordinator_transfers_with_a_hand_off_note_on_the_page(cast, client):
    client.force_login(cast.coordinator)
    url = reverse("program:assign", args=[cast.program.pk, cast.mine.pk])
    today = str(cast.program.local_today())
    missing = client.post(url, {"action": "assign", "supporter": cast.other_supporter.pk, "start_date": today})
    assert "hand-off note" in missing.content.decode()
    client.post(
        url,
        {
            "action": "assign",
            "supporter": cast.other_supporter.pk,
            "start_date": today,
            "handoff_note": "Likes walking meetings.",
        },
    )
    history = list(cast.mine.assignments.order_by("start_date"))
    assert [a.supporter for a in history] == [cast.supporter, cast.other_supporter]
    assert "Likes walking meetings." in client.get(url).content.decode()


def test_a_supporter_logs_training_hours_on_the_page(cast, client):
    cert = CertificationFactory(supporter=cast.supporter)
    client.force_login(cast.supporter_user)
    url = reverse("program:training", args=[cast.program.pk])
    response = client.post(
        url,
        {
            "certification": cert.pk,
            "category": "ethics",
            "hours": "2.5",
            "completed_on": str(cast.program.local_today()),
            "title": "Ethics day",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert CEHours.objects.get().hours == 2.5
    assert "2.50 of 20.00 hours" in response.content.decode()
    bad = client.post(
        url,
        {
            "certification": cert.pk,
            "category": "ethics",
            "hours": "2",
            "completed_on": str(cast.program.local_today() + timedelta(days=2)),
            "title": "x",
        },
    )
    assert "future" in bad.content.decode() and CEHours.objects.count() == 1


def test_a_supporter_records_a_barc10_and_sees_the_chart(cast, client):
    client.force_login(cast.supporter_user)
    url = reverse("client_program:outcomes", args=[cast.mine.pk])
    barc10 = Instrument.objects.get(code="barc-10")
    data = {"instrument": barc10.pk, "administered_on": str(cast.program.local_today())}
    data.update({f"item_{n}": str(4) for n in range(10)})
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    assert OutcomeMeasure.objects.get(client=cast.mine).total == 40
    assert "<svg" in response.content.decode() and "(intake)" in response.content.decode()
    data["item_3"] = "7"
    assert "Select a valid choice" in client.post(url, data).content.decode()


def test_a_supporter_makes_a_referral_and_closes_it_on_the_page(cast, client):
    resource = ResourceFactory(program=cast.program, name="Housing desk")
    client.force_login(cast.supporter_user)
    url = reverse("client_program:referrals", args=[cast.mine.pk])
    today = str(cast.program.local_today())
    client.post(url, {"action": "add", "resource": resource.pk, "referred_on": today, "reason": "Needs housing"})
    referral = Referral.objects.get()
    client.post(
        url, {"action": "follow", "referral_id": referral.pk, "status": "closed", "outcome": "met", "note": "Moved in"}
    )
    referral.refresh_from_db()
    assert referral.status == "closed" and referral.outcome == "met"


def test_a_supporter_discloses_lived_experience_on_the_page(cast, client):
    client.force_login(cast.supporter_user)
    url = reverse("program:lived_experience", args=[cast.program.pk])
    client.post(url, {"areas": ["veteran", "parenting"]})
    assert LivedExperience.objects.get(supporter=cast.supporter).areas == ["parenting", "veteran"]


def test_lived_experience_shows_on_no_page_for_clinicians_or_other_supporters(cast, client):
    lived_experience_set(supporter=cast.supporter, areas=["incarceration"])
    for user in [cast.clinician_user, cast.other_supporter_user, cast.funder]:
        client.force_login(user)
        for name in PROGRAM_PAGES:
            html = client.get(reverse(f"program:{name}", args=[cast.program.pk])).content.decode()
            if name == "lived_experience":  # their own form lists the areas, none of them ticked
                assert "checked" not in html
            else:
                assert "Incarceration" not in html, name


def test_worklist_counts_match_the_lists_and_use_a_fixed_number_of_queries(cast, client, django_assert_max_num_queries):
    today = cast.program.local_today()
    ClientFactory(program=cast.program)  # unassigned
    session = PeerSessionFactory(supporter=cast.supporter)
    AttendanceFactory(session=session, client=cast.mine)  # long ago: still "no recent contact"
    CertificationFactory(supporter=cast.supporter, expires_on=today + timedelta(days=20))
    CertificationFactory(
        supporter=cast.other_supporter, issued_on=today - timedelta(days=900), expires_on=today - timedelta(days=1)
    )
    cast.other_supporter.max_caseload = 1
    cast.other_supporter.save()
    AssignmentFactory(client=ClientFactory(program=cast.program), supporter=cast.other_supporter)
    with django_assert_max_num_queries(12):
        counts = {w.key: n for w, n in worklist_counts(cast.program, today)}
    assert counts == {"no-contact": 3, "unassigned": 1, "over-capacity": 1, "credentials": 2, "supervision": 2}
    for _ in range(30):  # more rows, same number of queries
        ClientFactory(program=cast.program)
    with django_assert_max_num_queries(12):
        worklist_counts(cast.program, today)
    client.force_login(cast.coordinator)
    page = client.get(reverse("program:worklists", args=[cast.program.pk]), {"list": "over-capacity"})
    assert cast.other_supporter.full_name in page.content.decode()
    assert client.get(reverse("program:worklists", args=[cast.program.pk]), {"list": "nope"}).status_code == 404


def test_recent_contact_takes_a_client_off_the_no_contact_list(cast):
    from datetime import timedelta

    from django.utils import timezone

    # An hour ago, not noon today: a session later today has not happened yet and is no contact.
    today = cast.program.local_today()
    session = PeerSessionFactory(supporter=cast.supporter, start=timezone.now() - timedelta(hours=1))
    AttendanceFactory(session=session, client=cast.mine)
    counts = {w.key: n for w, n in worklist_counts(cast.program, today)}
    assert counts["no-contact"] == 1  # only `theirs` is left


# A <script> without src= is inline; the shell loads its scripts from files.


def test_pages_have_no_inline_scripts_or_styles(cast, client):
    client.force_login(cast.coordinator)
    for name in ["worklists", "caseloads", "credentials", "supervision", "outcomes", "resources"]:
        html = client.get(reverse(f"program:{name}", args=[cast.program.pk])).content.decode()
        assert not inline_script(html) and "style=" not in html, name
    html = client.get(reverse("program:assign", args=[cast.program.pk, cast.mine.pk])).content.decode()
    assert not inline_script(html) and "style=" not in html


def test_the_admin_applies_the_credential_type_rules_as_a_form_error(cast, client):
    client.force_login(cast.coordinator)
    response = client.post(
        reverse("admin:supporters_credentialtype_add"),
        {
            "program": cast.program.pk,
            "name": "NCPRSS",
            "kind": "national",
            "issuing_body": "",
            "renewal_period_months": 24,
            "ce_hours_required": "4",
            "category_hours_required": '{"ethics": 6}',
        },
    )
    assert response.status_code == 200  # the form again, with the message; not a 500
    assert "more than the total" in response.content.decode()
    response = client.post(
        reverse("admin:clients_resource_add"),
        {"program": cast.program.pk, "name": "Nowhere", "category": "food", "languages": '["en"]'},
    )
    assert response.status_code == 200 and "phone number" in response.content.decode()


def test_the_supervision_page_shows_last_full_month_by_default_and_records_a_session(cast, client):
    client.force_login(cast.coordinator)
    url = reverse("program:supervision", args=[cast.program.pk])
    today = cast.program.local_today()
    last_month = today.replace(day=1) - timedelta(days=1)
    assert last_month.strftime("%B %Y") in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "supervisor": cast.coordinator.pk,
            "supervisees": [cast.supporter.pk],
            "held_on": str(today),
            "duration_minutes": 90,
            "format": "individual",
            "topics": "Boundaries",
        },
        follow=True,
    )
    assert response.status_code == 200
    page = client.get(url, {"month": today.strftime("%Y-%m")}).content.decode()
    assert "1.50" in page and "Boundaries" in page
    bad = client.post(
        url,
        {
            "supervisor": cast.coordinator.pk,
            "supervisees": [cast.supporter.pk, cast.other_supporter.pk],
            "held_on": str(today),
            "duration_minutes": 60,
            "format": "individual",
        },
    )
    assert "exactly one supporter" in bad.content.decode()
    assert client.get(url, {"month": "garbage"}).status_code == 200
