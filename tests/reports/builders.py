"""Small hand-made programs for the continuity tests, written in local wall-clock time."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from clients.models import AppointmentKind, AppointmentStatus, AssignmentRole, CaseloadAssignment, Client
from core.models import Program
from sessions.models import AttendanceStatus, PeerSession, SessionStatus
from supporters.models import Supporter
from tests.factories import (
    AppointmentFactory,
    AttendanceFactory,
    ClientFactory,
    PeerSessionFactory,
    ProgramFactory,
    SupporterFactory,
)


class Builder:
    """Wraps a program in America/New_York (or `tz`); times are naive local wall times."""

    def __init__(self, tz: str = "America/New_York", **program_fields) -> None:
        self.program: Program = ProgramFactory(timezone=tz, **program_fields)
        self.tz = ZoneInfo(tz)

    def at(self, text: str) -> datetime:
        """'2026-03-08 12:00' local wall time -> aware datetime (first occurrence if ambiguous)."""
        return datetime.fromisoformat(text).replace(tzinfo=self.tz)

    def supporter(self, external_id: str, **fields) -> Supporter:
        return SupporterFactory(program=self.program, external_id=external_id, **fields)

    def client(self, external_id: str) -> Client:
        return ClientFactory(program=self.program, external_id=external_id)

    def assign(
        self, client: Client, supporter: Supporter, start: str, end: str | None = None, role: str = "primary"
    ) -> CaseloadAssignment:
        # Straight to the table: the tests build histories (past end dates) directly.
        return CaseloadAssignment.objects.create(
            client=client,
            supporter=supporter,
            start_date=date.fromisoformat(start),
            end_date=date.fromisoformat(end) if end else None,
            role=AssignmentRole(role),
        )

    def appointment(self, client: Client, when: str, status: str = "attended", kind: str = "routine"):
        return AppointmentFactory(
            client=client, start=self.at(when), status=AppointmentStatus(status), kind=AppointmentKind(kind)
        )

    def session(self, supporter: Supporter, when: str, minutes: int = 60) -> PeerSession:
        return PeerSessionFactory(supporter=supporter, start=self.at(when), duration_minutes=minutes)

    def attend(self, peer_session: PeerSession, client: Client, status: str = "completed") -> None:
        AttendanceFactory(session=peer_session, client=client, status=AttendanceStatus(status))

    def contact(self, supporter: Supporter, client: Client, when: str, minutes: int = 60, status: str = "completed"):
        peer_session = self.session(supporter, when, minutes)
        self.attend(peer_session, client, status)
        return peer_session

    def plan(self, supporter: Supporter, client: Client, when: str, status: str = "scheduled") -> PeerSession:
        """A scheduled peer session with `client`'s place in it (a planned contact, continuity.md §6)."""
        peer_session = PeerSessionFactory(
            supporter=supporter, start=self.at(when), duration_minutes=60, status=SessionStatus.SCHEDULED
        )
        self.attend(peer_session, client, status)
        return peer_session
