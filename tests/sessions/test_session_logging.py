"""Logging a session through the API and the page: topics, attendance, wellbeing, quick defaults."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from clients.models import CaseloadAssignment
from sessions.models import PeerSession, SessionKind, Topic
from tests.security.helpers import sign_in
from tests.sessions.conftest import log_session


def payload(cast, **overrides):
    data = {
        "supporter": cast.supporter.pk,
        "kind": "one_to_one",
        "start": "2026-03-05T15:00:00Z",
        "duration_minutes": 30,
        "modality": "phone",
        "attendances": [{"client": cast.mine.pk, "status": "completed", "wellbeing": 4}],
        "topics": ["housing", "recovery_goals"],
        "goals_addressed": "Apply for the housing voucher",
        "narrative": "Talked through the voucher form.",
        "next_steps": "Bring ID next week",
    }
    data.update(overrides)
    return data


def test_a_supporter_logs_a_session_with_topics_wellbeing_and_a_note(cast, api_as):
    response = api_as(cast.supporter_user).post(reverse("peer-session-list"), payload(cast), format="json")
    assert response.status_code == 201, response.content
    session = PeerSession.objects.get()
    assert session.topics == [Topic.HOUSING, Topic.RECOVERY_GOALS]
    assert session.narrative == "Talked through the voucher form."
    assert session.next_steps == "Bring ID next week"
    attendance = session.attendances.get()
    # Unsigned: the two units are pending until the note is signed (the default rule).
    assert (attendance.status, attendance.wellbeing, attendance.billing_pending_units) == ("completed", 4, 2)


def test_attempted_outreach_is_logged_as_attempted(cast, api_as):
    data = payload(cast, attendances=[{"client": cast.mine.pk, "status": "attempted"}], narrative="")
    response = api_as(cast.supporter_user).post(reverse("peer-session-list"), data, format="json")
    assert response.status_code == 201
    assert PeerSession.objects.get().attendances.get().status == "attempted"


def test_bad_input_answers_400_with_field_messages(cast, api_as):
    api = api_as(cast.supporter_user)
    for bad, field in [
        ({"topics": ["astrology"]}, "topics"),
        ({"attendances": [{"client": cast.mine.pk, "status": "completed", "wellbeing": 6}]}, "attendances"),
        (
            {
                "attendances": [
                    {"client": cast.mine.pk, "status": "completed"},
                    {"client": cast.theirs.pk, "status": "completed"},
                ]
            },
            "attendances",
        ),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"start": "yesterday"}, "start"),
    ]:
        response = api.post(reverse("peer-session-list"), payload(cast, **bad), format="json")
        assert response.status_code == 400, (bad, response.content)
        assert field in response.json(), (bad, response.json())
    assert not PeerSession.objects.exists()


def test_a_supporter_cannot_log_a_session_with_a_client_off_their_caseload(cast, api_as):
    data = payload(cast, attendances=[{"client": cast.theirs.pk, "status": "completed"}])
    response = api_as(cast.supporter_user).post(reverse("peer-session-list"), data, format="json")
    assert response.status_code == 400
    assert not PeerSession.objects.exists()


def test_the_form_defaults_to_now_thirty_minutes_and_the_last_modality(cast, client):
    log_session(cast)
    PeerSession.objects.update(modality="video")
    client.force_login(cast.supporter_user)
    form = client.get(reverse("peer_sessions:session-create")).context["form"]
    assert form.initial["duration_minutes"] == 30
    assert form.initial["modality"] == "video"
    assert form.initial["kind"] == SessionKind.ONE_TO_ONE
    assert abs(form.initial["start"] - timezone.now()) < timedelta(minutes=2)


def test_a_routine_session_needs_only_the_client_and_a_click(cast, client):
    client.force_login(cast.supporter_user)
    form = client.get(reverse("peer_sessions:session-create")).context["form"]
    # The page renders the start in the program's zone; the request's zone ends with it.
    with timezone.override(cast.program.tzinfo):
        data = {name: form[name].value() for name in ["kind", "duration_minutes", "modality", "status", "location"]}
        data["start"] = form["start"].value().strftime("%Y-%m-%dT%H:%M")
    data["clients"] = str(cast.mine.pk)
    response = client.post(reverse("peer_sessions:session-create"), {k: v or "" for k, v in data.items()})
    session = PeerSession.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("peer_sessions:session-detail", args=[session.pk])
    assert session.attendances.get().client == cast.mine
    assert session.duration_minutes == 30


def test_the_page_logs_a_group_session_and_the_author_signs_it(cast, client):
    sign_in(client, cast.supporter_user)  # signing asks for a recent password
    CaseloadAssignment.objects.create(
        client=cast.theirs, supporter=cast.supporter, role="secondary", start_date=cast.program.local_today()
    )
    response = client.post(
        reverse("peer_sessions:session-create"),
        {
            "kind": "group",
            "start": "2026-03-05T18:00",
            "duration_minutes": "90",
            "modality": "in_person",
            "status": "held",
            "location": "Room 2",
            "topics": ["wellness", "relationships"],
            "clients": [cast.mine.pk, cast.theirs.pk],
            f"attendance_{cast.mine.pk}": "completed",
            f"wellbeing_{cast.mine.pk}": "3",
            f"attendance_{cast.theirs.pk}": "no_show",
            "narrative": "Good group.",
        },
    )
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    session = PeerSession.objects.get()
    assert session.start.astimezone(cast.program.tzinfo).hour == 18  # read in the program's zone
    assert {a.client_id: a.status for a in session.attendances.all()} == {
        cast.mine.pk: "completed",
        cast.theirs.pk: "no_show",
    }
    client.post(reverse("peer_sessions:session-sign", args=[session.pk]))
    session.refresh_from_db()
    assert session.signed_by == cast.supporter_user
    edit = client.get(reverse("peer_sessions:session-edit", args=[session.pk]))
    assert edit.status_code == 302  # signed: back to the session, no edit form


def test_the_form_shows_field_errors_and_saves_nothing(cast, client):
    client.force_login(cast.supporter_user)
    response = client.post(
        reverse("peer_sessions:session-create"),
        {
            "kind": "one_to_one",
            "start": "2026-03-05T18:00",
            "duration_minutes": "0",
            "modality": "phone",
            "status": "held",
            "clients": [cast.mine.pk],
            f"attendance_{cast.mine.pk}": "completed",
        },
    )
    assert response.status_code == 200
    assert "duration_minutes" in response.context["form"].errors
    assert not PeerSession.objects.exists()


def test_the_form_refuses_a_one_to_one_without_a_client(cast, client):
    client.force_login(cast.supporter_user)
    response = client.post(
        reverse("peer_sessions:session-create"),
        {
            "kind": "one_to_one",
            "start": "2026-03-05T18:00",
            "duration_minutes": "30",
            "modality": "phone",
            "status": "held",
        },
    )
    assert response.status_code == 200
    assert "exactly one client" in str(response.context["form"].non_field_errors())
    assert not PeerSession.objects.exists()


def test_a_start_without_an_offset_is_local_time_in_the_program(cast, api_as):
    response = api_as(cast.supporter_user).post(
        reverse("peer-session-list"), payload(cast, start="2026-07-01T10:00:00"), format="json"
    )
    assert response.status_code == 201, response.content
    assert PeerSession.objects.get().start.isoformat() == "2026-07-01T14:00:00+00:00"  # 10:00 EDT
    skipped = api_as(cast.supporter_user).post(
        reverse("peer-session-list"), payload(cast, start="2026-03-08T02:30:00"), format="json"
    )
    assert skipped.status_code == 400 and "start" in skipped.json()
