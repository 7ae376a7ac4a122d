"""Shared pieces for the session, note and feedback tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from base.services import membership_grant
from core.models import Role
from sessions import services
from sessions.models import AttendanceStatus, FeedbackCategory, PeerSession, SessionKind, Urgency
from tests.factories import ClinicianFactory, ConsentFactory, UserFactory


@pytest.fixture
def second_clinician(cast):
    """Another clinician of the program, on the care team of `mine` too."""
    user = UserFactory(username="second-clinician")
    membership_grant(user=user, program=cast.program, role=Role.CLINICIAN)
    clinician = ClinicianFactory(program=cast.program, user=user)
    cast.mine.care_team.add(clinician)
    return clinician


def log_session(
    cast,
    *,
    start: datetime | None = None,
    minutes: int = 30,
    kind: str = SessionKind.ONE_TO_ONE,
    clients: list | None = None,
    status: str = AttendanceStatus.COMPLETED,
    narrative: str = "",
    supporter=None,
) -> PeerSession:
    supporter = supporter or cast.supporter
    clients = clients or [cast.mine]
    return services.peer_session_save(
        session=PeerSession(supporter=supporter),
        attendances=[{"client": c, "status": status} for c in clients],
        fields={
            "kind": kind,
            "start": start or datetime(2026, 3, 5, 15, 0, tzinfo=UTC),
            "duration_minutes": minutes,
            "modality": "in_person",
            "narrative": narrative,
        },
    )


def send(cast, **overrides: Any):
    kwargs = {
        "author": cast.supporter,
        "client": cast.mine,
        "recipients": [cast.clinician],
        "category": FeedbackCategory.ADHERENCE_BARRIER,
        "urgency": Urgency.ROUTINE,
        "text": "Has trouble getting to the pharmacy before it closes.",
    }
    kwargs.update(overrides)
    return services.feedback_send(**kwargs)


@pytest.fixture
def consent(cast):
    return ConsentFactory(client=cast.mine)


def consent_to_care_team(cast) -> None:
    """Both care-team clients of the cast consent to share with their care team (the disclosure gate)."""
    from tests.factories import ConsentFactory

    ConsentFactory(client=cast.mine)
    ConsentFactory(client=cast.theirs)
