"""The coordinator's worklists count feedback past its deadline (issue 5 × issue 4)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.urls import reverse

from tests.factories import FeedbackItemFactory


def test_the_worklists_count_escalated_unacknowledged_feedback_of_the_program(cast, client):
    overdue = datetime(2026, 3, 1, tzinfo=UTC)
    FeedbackItemFactory(author=cast.supporter, client=cast.mine, escalated_at=overdue)
    FeedbackItemFactory(author=cast.supporter, client=cast.mine, escalated_at=overdue, acknowledged_at=overdue)
    FeedbackItemFactory(author=cast.supporter, client=cast.mine)  # not yet due
    elsewhere = FeedbackItemFactory(escalated_at=overdue)
    assert elsewhere.program_id != cast.program.pk
    client.force_login(cast.coordinator)
    response = client.get(reverse("program:worklists", args=[cast.program.pk]))
    assert response.context["feedback_overdue"] == 1
    assert "/feedback/?escalated=1" in response.content.decode()
