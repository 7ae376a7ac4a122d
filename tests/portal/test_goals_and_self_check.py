"""The client's goals in their own words (add one, add a step, record progress) and the BARC-10
as a self-check with its trend chart, through the same services and chart code as staff."""

from __future__ import annotations

from django.urls import reverse

from clients.models import GoalDomain, GoalProgress, OutcomeMeasure, RecoveryGoal
from tests.factories import RecoveryGoalFactory
from tests.portal.helpers import portal_user
from tests.security.helpers import sign_in


def _signed_in(cast, client):
    sign_in(client, portal_user(cast.mine, invited_by=cast.supporter_user, username="mine"))


def test_the_client_adds_a_goal_a_step_and_progress_their_supporter_then_reads(cast, client):
    _signed_in(cast, client)
    client.post(reverse("portal:goal-add"), {"goal": "Back to the allotment", "domain": GoalDomain.COMMUNITY})
    goal = RecoveryGoal.objects.get(client=cast.mine)
    client.post(reverse("portal:goal-step", args=[goal.pk]), {"step": "Call the allotment society"})
    client.post(reverse("portal:goal-progress", args=[goal.pk]), {"note": "Went twice this week"})
    goal.refresh_from_db()
    assert goal.steps == ["Call the allotment society"]
    assert GoalProgress.objects.visible_to(cast.supporter_user).filter(goal=goal).count() == 1
    page = client.get(reverse("portal:goals")).content.decode()
    assert "Back to the allotment" in page and "Went twice this week" in page


def test_another_clients_goal_is_out_of_reach(cast, client):
    theirs = RecoveryGoalFactory(client=cast.theirs)
    _signed_in(cast, client)
    assert client.post(reverse("portal:goal-step", args=[theirs.pk]), {"step": "x"}).status_code == 404
    assert client.post(reverse("portal:goal-progress", args=[theirs.pk]), {"note": "x"}).status_code == 404
    assert "x" not in RecoveryGoal.objects.get(pk=theirs.pk).steps


def test_the_self_check_is_scored_and_drawn_with_the_staff_chart(cast, client):
    _signed_in(cast, client)
    answers = {f"item-{n}": "4" for n in range(10)}
    assert client.post(reverse("portal:self-check"), answers).status_code == 302
    measure = OutcomeMeasure.objects.get(client=cast.mine)
    assert measure.total == 40 and measure.administered_on == cast.program.local_today()
    page = client.get(reverse("portal:self-check")).content.decode()
    assert "<svg" in page and "Latest: 40 of 60" in page


def test_an_incomplete_self_check_saves_nothing_and_says_why(cast, client):
    _signed_in(cast, client)
    response = client.post(reverse("portal:self-check"), {"item-0": "4"}, follow=True)
    assert "Answer every statement." in response.content.decode()
    assert not OutcomeMeasure.objects.exists()


def test_the_self_check_asks_the_barc10_statements_in_the_clients_language(cast, client):
    """The shipped BARC-10 carries its ten statements (clients 0019), not "Item 1"...; a client
    reading in Spanish gets them from the catalogue."""
    _signed_in(cast, client)
    page = client.get(reverse("portal:self-check")).content.decode()
    assert "I get lots of support from friends." in page and "Item 1<" not in page
    cast.mine.preferred_language = "es"
    cast.mine.save()
    client.post(reverse("set_language"), {"language": "es", "next": reverse("portal:self-check")})
    page = client.get(reverse("portal:self-check"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Recibo mucho apoyo de mis amistades." in page
