"""Naive local times are read in the program's zone; DST gaps and overlaps are refused."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.test.signals import template_rendered
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.records import audit_record
from clients.models import ClinicalAppointment
from core.timezones import LocalTimeError, local_to_aware
from tests.factories import FeedbackItemFactory

NEW_YORK = ZoneInfo("America/New_York")


def test_a_naive_time_is_read_as_program_local():
    assert local_to_aware(datetime(2026, 1, 15, 9, 0), NEW_YORK).astimezone(UTC) == datetime(
        2026, 1, 15, 14, 0, tzinfo=UTC
    )


def test_a_time_in_the_spring_gap_does_not_exist():
    with pytest.raises(LocalTimeError, match="does not exist"):
        local_to_aware(datetime(2026, 3, 8, 2, 30), NEW_YORK)


def test_a_time_in_the_autumn_overlap_is_ambiguous():
    with pytest.raises(LocalTimeError, match="ambiguous"):
        local_to_aware(datetime(2026, 11, 1, 1, 30), NEW_YORK)


def test_the_api_stores_naive_appointment_times_in_the_program_zone(cast, api_as):
    payload = {"client": cast.mine.pk, "start": "2026-07-01T09:00:00", "kind": "routine", "status": "attended"}
    response = api_as(cast.coordinator).post(reverse("appointment-list"), payload, format="json")
    assert response.status_code == 201, response.content
    stored = ClinicalAppointment.objects.get(pk=response.json()["id"]).start
    assert stored == datetime(2026, 7, 1, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize("local", ["2026-03-08T02:30:00", "2026-11-01T01:30:00"])
def test_the_api_refuses_local_times_that_dst_makes_invalid(cast, api_as, local):
    payload = {"client": cast.mine.pk, "start": local, "kind": "routine", "status": "attended"}
    response = api_as(cast.coordinator).post(reverse("appointment-list"), payload, format="json")
    assert response.status_code == 400
    assert "start" in response.json()


def test_an_explicit_offset_inside_the_overlap_is_accepted(cast, api_as):
    payload = {"client": cast.mine.pk, "start": "2026-11-01T01:30:00-05:00", "kind": "routine", "status": "attended"}
    assert api_as(cast.coordinator).post(reverse("appointment-list"), payload, format="json").status_code == 201


def test_a_program_zone_shown_by_one_request_does_not_leak_into_the_next_on_the_thread(cast, client):
    """The feedback page shows New York times; the audit page after it, on the same thread,
    is labelled UTC and must print UTC."""
    item = FeedbackItemFactory(author=cast.supporter, client=cast.mine)
    client.force_login(cast.coordinator)
    zones_at_render: list[str] = []

    def note_zone(**kwargs: object) -> None:
        zones_at_render.append(timezone.get_current_timezone_name())

    template_rendered.connect(note_zone)
    try:
        feedback_page = client.get(reverse("peer_sessions:feedback-detail", args=[item.pk]))
        first_zones, zones_at_render[:] = list(zones_at_render), []
        shown = audit_record(action="clients.client.viewed", user=cast.coordinator, obj=cast.mine)
        audit_page = client.get(reverse("security:audit-report"))
    finally:
        template_rendered.disconnect(note_zone)

    assert feedback_page.status_code == 200 and audit_page.status_code == 200
    assert set(first_zones) == {"America/New_York"}
    assert set(zones_at_render) == {"UTC"}
    assert timezone.get_current_timezone_name() == "UTC"
    # The event recorded before the page (the page's own listing event is newer than what it shows).
    event = AuditEvent.objects.get(pk=shown.pk)
    body = audit_page.content.decode()
    assert event.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") in body
    assert event.at.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M:%S") not in body
