"""Nothing typed is lost (issue 16 item 3): drafts of notes and feedback kept on the server as
the person types, encrypted, theirs alone, given back when they open the form again (also after
signing out and in), deleted when the note or feedback is saved, purged after 30 days."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from audit import actions
from audit.models import AuditEvent
from config.periodic import PERIODIC_JOBS
from sessions.models import DRAFT_KEEP, DRAFT_MAX_CHARS, Draft, PeerSession
from sessions.services import draft_purge_expired
from tests.factories import ConsentFactory

pytestmark = pytest.mark.django_db

NOTE = "Talked about the housing form; she will call the desk on Monday."


def save_draft(client, form: str, **fields):
    return client.post(reverse("peer_sessions:draft-save"), {"draft_form": form, **fields})


def test_a_draft_is_saved_and_restored_into_the_form(cast, client):
    client.force_login(cast.supporter_user)
    saved = save_draft(
        client, "session-new", narrative=NOTE, clients=[str(cast.mine.pk)], topics=["housing", "wellness"]
    )
    assert saved.status_code == 204
    response = client.get(reverse("peer_sessions:session-create"))
    form = response.context["form"]
    assert form["narrative"].value() == NOTE
    assert form["topics"].value() == ["housing", "wellness"]
    assert form["clients"].value() == [str(cast.mine.pk)]
    assert "Your unsaved draft from" in response.text and "Discard the draft" in response.text


def test_the_draft_is_encrypted_at_rest(cast, client):
    client.force_login(cast.supporter_user)
    save_draft(client, "session-new", narrative=NOTE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM peer_sessions_draft")
        (raw,) = cursor.fetchone()
    assert "housing" not in raw and NOTE not in raw
    assert NOTE in Draft.objects.get().data


def test_the_draft_outlives_signing_out_and_comes_back_after_signing_in(cast, client):
    client.force_login(cast.supporter_user)
    save_draft(client, f"feedback-{cast.mine.pk}", text=NOTE)
    client.post(reverse("logout"))
    assert save_draft(client, f"feedback-{cast.mine.pk}", text="typed after the sign-out").status_code == 401
    client.force_login(cast.supporter_user)
    form = client.get(reverse("peer_sessions:feedback-create", args=[cast.mine.pk])).context["form"]
    assert form["text"].value() == NOTE


def test_a_draft_is_its_authors_alone(cast, client):
    client.force_login(cast.supporter_user)
    save_draft(client, "session-new", narrative=NOTE)
    client.force_login(cast.other_supporter_user)
    form = client.get(reverse("peer_sessions:session-create")).context["form"]
    assert not form["narrative"].value()
    assert Draft.objects.visible_to(cast.coordinator).count() == 0


def test_no_draft_for_a_form_the_user_may_not_write(cast, client):
    signed = PeerSession.objects.create(
        program=cast.program,
        supporter=cast.supporter,
        start=timezone.now() - timedelta(days=1),
        duration_minutes=30,
        modality="phone",
        narrative="Done.",
        signed_at=timezone.now(),
        signed_by=cast.supporter_user,
    )
    client.force_login(cast.supporter_user)
    assert save_draft(client, f"feedback-{cast.theirs.pk}", text=NOTE).status_code == 404  # not their client
    assert save_draft(client, f"session-{signed.pk}", narrative=NOTE).status_code == 404  # signed: addenda only
    assert save_draft(client, "anything-else", narrative=NOTE).status_code == 404
    client.force_login(cast.clinician_user)
    assert save_draft(client, "session-new", narrative=NOTE).status_code == 404  # clinicians log no sessions
    assert not Draft.objects.exists()


def test_a_draft_larger_than_a_page_of_text_is_refused(cast, client):
    client.force_login(cast.supporter_user)
    response = save_draft(client, "session-new", narrative="x" * (DRAFT_MAX_CHARS + 1))
    assert response.status_code == 400 and "data" in response.json()
    assert not Draft.objects.exists()


def test_saving_the_session_deletes_its_draft(cast, client):
    client.force_login(cast.supporter_user)
    save_draft(client, "session-new", narrative=NOTE)
    form = client.get(reverse("peer_sessions:session-create")).context["form"]
    with timezone.override(cast.program.tzinfo):
        start = form["start"].value().strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("peer_sessions:session-create"),
        {
            "kind": "one_to_one",
            "clients": [cast.mine.pk],
            "start": start,
            "duration_minutes": "30",
            "modality": "phone",
            "narrative": NOTE,
        },
    )
    assert response.status_code == 302
    assert PeerSession.objects.get().narrative == NOTE
    assert not Draft.objects.exists()


def test_sending_the_feedback_deletes_its_draft_and_a_refusal_keeps_it(cast, client):
    client.force_login(cast.supporter_user)
    key = f"feedback-{cast.mine.pk}"
    save_draft(client, key, text=NOTE)
    body = {"recipients": [cast.clinician.pk], "category": "progress_update", "urgency": "routine", "text": NOTE}
    refused = client.post(reverse("peer_sessions:feedback-create", args=[cast.mine.pk]), body)
    assert refused.status_code == 200 and Draft.objects.filter(form=key).exists()  # no consent: nothing sent
    ConsentFactory(client=cast.mine)
    sent = client.post(reverse("peer_sessions:feedback-create", args=[cast.mine.pk]), body)
    assert sent.status_code == 302 and not Draft.objects.filter(form=key).exists()


def test_editing_a_session_keeps_its_own_draft(cast, client):
    session = PeerSession.objects.create(
        program=cast.program,
        supporter=cast.supporter,
        start=timezone.now() - timedelta(days=1),
        duration_minutes=30,
        modality="phone",
    )
    client.force_login(cast.supporter_user)
    assert save_draft(client, f"session-{session.pk}", narrative=NOTE).status_code == 204
    form = client.get(reverse("peer_sessions:session-edit", args=[session.pk])).context["form"]
    assert form["narrative"].value() == NOTE
    new = client.get(reverse("peer_sessions:session-create")).context["form"]
    assert not new["narrative"].value()  # another form's draft


def test_discarding_the_draft_empties_the_form(cast, client):
    client.force_login(cast.supporter_user)
    save_draft(client, "session-new", narrative=NOTE)
    response = client.post(
        reverse("peer_sessions:draft-discard"), {"draft_form": "session-new", "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/"  # never off the site
    assert not Draft.objects.exists()


def test_an_old_draft_is_not_restored_and_the_clock_job_purges_it(cast, client):
    client.force_login(cast.supporter_user)
    save_draft(client, "session-new", narrative=NOTE)
    Draft.objects.update(updated_at=timezone.now() - DRAFT_KEEP - timedelta(minutes=1))
    form = client.get(reverse("peer_sessions:session-create")).context["form"]
    assert not form["narrative"].value()
    assert draft_purge_expired() == 1 and not Draft.objects.exists()
    assert AuditEvent.objects.filter(action=actions.DRAFTS_PURGED).exists()
    assert "purge-expired-drafts" in {job.name for job in PERIODIC_JOBS}


def test_starting_a_draft_is_recorded_once_without_its_text(cast, client):
    client.force_login(cast.supporter_user)
    for n in range(3):
        save_draft(client, "session-new", narrative=f"{NOTE} {n}")
    events = AuditEvent.objects.filter(action="peer_sessions.draft.created")
    assert events.count() == 1
    assert "housing" not in str(events.get().detail)
