"""The care rhythm agreed with a client (issue 17 item 4): who sets it (API, page), its audit, and
the one "contact due / overdue" rule it drives in the homes, the client list and the worklist."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from clients.models import Client
from reports.worklists import no_recent_contact
from sessions.selectors import clients_contact_due, clients_contact_overdue
from tests.factories import AttendanceFactory, PeerSessionFactory

pytestmark = pytest.mark.django_db


def contact(cast, client, days_ago: int, hour: int = 12):
    day = cast.program.local_today() - timedelta(days=days_ago)
    start = datetime.combine(day, time(hour), tzinfo=cast.program.tzinfo)
    AttendanceFactory(session=PeerSessionFactory(supporter=cast.supporter, start=start), client=client)


def test_the_supporter_sets_the_rhythm_through_the_api_and_it_is_audited(cast, api_as):
    api = api_as(cast.supporter_user)
    url = f"/api/v1/clients/{cast.mine.pk}/care-rhythm/"
    assert api.put(url, {"contact_every_days": 7}, format="json").json() == {"contact_every_days": 7}
    assert Client.objects.get(pk=cast.mine.pk).contact_every_days == 7
    event = AuditEvent.objects.get(action="clients.client.care_rhythm_set")
    assert event.client_id == cast.mine.pk and event.detail["old"] is None and event.detail["new"] == 7
    assert api.get(f"/api/v1/clients/{cast.mine.pk}/").json()["contact_every_days"] == 7
    assert api.put(url, {"contact_every_days": 10}, format="json").status_code == 400
    assert api.put(url, {"contact_every_days": None}, format="json").json() == {"contact_every_days": None}


def test_a_clinician_reads_no_rhythm_and_cannot_set_one_and_others_get_404(cast, api_as):
    api = api_as(cast.clinician_user)
    assert "contact_every_days" not in api.get(f"/api/v1/clients/{cast.mine.pk}/").json()
    assert (
        api.put(f"/api/v1/clients/{cast.mine.pk}/care-rhythm/", {"contact_every_days": 7}, format="json").status_code
        == 403
    )
    other = api_as(cast.other_supporter_user)
    assert (
        other.put(f"/api/v1/clients/{cast.mine.pk}/care-rhythm/", {"contact_every_days": 7}, format="json").status_code
        == 404
    )


def test_the_client_page_sets_it_too(cast, client):
    client.force_login(cast.coordinator)
    page = client.get(reverse("dashboard:client", args=[cast.mine.pk])).content.decode()
    assert "Keeping in touch" in page and "Ask peer support to contact this client now" in page
    client.post(reverse("client_program:care-rhythm", args=[cast.mine.pk]), {"contact_every_days": "30"})
    assert Client.objects.get(pk=cast.mine.pk).contact_every_days == 30
    client.force_login(cast.clinician_user)
    page = client.get(reverse("dashboard:client", args=[cast.mine.pk])).content.decode()
    assert "Save rhythm" not in page and "Ask peer support to contact this client now" in page
    assert (
        client.post(reverse("client_program:care-rhythm", args=[cast.mine.pk]), {"contact_every_days": "7"}).status_code
        == 404
    )


def test_due_and_overdue_follow_each_clients_rhythm_and_the_program_default(cast):
    cast.mine.contact_every_days = 7
    cast.mine.save()
    contact(cast, cast.mine, days_ago=8)  # weekly: due a day ago, overdue
    contact(cast, cast.theirs, days_ago=13)  # default 14: due tomorrow
    today = cast.program.local_today()
    everyone = Client.objects.all()
    assert set(clients_contact_overdue(clients=everyone, program=cast.program, today=today)) == {cast.mine}
    assert set(clients_contact_due(clients=everyone, program=cast.program, today=today)) == {cast.theirs}
    # The coordinator's worklist uses the same rule.
    assert set(no_recent_contact(cast.program, today)) == {cast.mine}


def test_days_are_the_programs_calendar_days(cast):
    # A contact at 23:30 local time 7 days ago still counts for that local day (UTC is a day later).
    cast.mine.contact_every_days = 7
    cast.mine.save()
    contact(cast, cast.mine, days_ago=7, hour=23)
    today = cast.program.local_today()
    assert not clients_contact_overdue(clients=Client.objects.all(), program=cast.program, today=today).filter(
        pk=cast.mine.pk
    )
    assert clients_contact_due(clients=Client.objects.all(), program=cast.program, today=today).filter(pk=cast.mine.pk)


def test_a_client_on_no_caseload_is_never_due_or_overdue(cast):
    cast.mine.assignments.all().delete()
    today = cast.program.local_today()
    assert cast.mine not in clients_contact_overdue(clients=Client.objects.all(), program=cast.program, today=today)
