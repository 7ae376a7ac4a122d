"""The demo's client portal (issue 18): a demo client login for one of demo-supporter's clients,
invited and signed up through the portal's own services, with a consent on file, a video
session coming up and a safety plan written with their supporter."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from clients.models import AssignmentRole, Client, ClientAccount, ClientContact, Consent, ConsentScope
from clients.services import client_contact_save, consent_save
from core.models import Program, Role, User
from portal.services import invitation_accept, invitation_send, safety_plan_save
from sessions.models import AttendanceStatus, Modality, PeerSession, SessionKind, SessionStatus
from sessions.services import peer_session_save
from supporters.models import Supporter

DEMO_CLIENT = "demo-client"


def build_portal(program: Program, *, users: dict[Role, User], password: str) -> list[str]:
    """Make (or refresh the password of) the demo client login; returns the lines the seed prints."""
    existing = User.objects.filter(username=DEMO_CLIENT).first()
    if existing is not None:
        existing.set_password(password)
        existing.save()
        return [f"  {DEMO_CLIENT:<18} (Client: the portal at /me/; same password)"]
    supporter_user = users[Role.SUPPORTER]
    supporter = Supporter.objects.get(program=program, user=supporter_user)
    client = (
        Client.objects.filter(
            program=program, assignments__supporter=supporter, assignments__role=AssignmentRole.PRIMARY
        )
        .exclude(account__isnull=False)
        .order_by("id")
        .first()
    )
    if client is None:
        return []
    if not ClientContact.objects.filter(client=client).exclude(email="").exists():
        client_contact_save(client=client, user=users[Role.COORDINATOR], fields={"email": "demo-client@example.net"})
    today = program.local_today()
    if not Consent.objects.filter(client=client, revoked_on__isnull=True).exists():
        consent_save(
            consent=Consent(
                client=client,
                scope=ConsentScope.CARE_TEAM,
                purpose="Coordinating my care with my clinic",
                information_description="That sessions happened, their dates, topics and next steps",
                effective_on=today - timedelta(days=30),
                expires_on=today + timedelta(days=335),
                signed_on=today - timedelta(days=30),
                signed_by_name=client.full_name,
                revocation_statement_included=True,
            )
        )
    _invitation, token = invitation_send(client=client, by=supporter_user)
    invitation_accept(token=token, username=DEMO_CLIENT, password=password)
    tz = program.tzinfo
    peer_session_save(
        session=PeerSession(supporter=supporter),
        attendances=[{"client": client, "status": AttendanceStatus.SCHEDULED}],
        fields={
            "kind": SessionKind.ONE_TO_ONE,
            "start": datetime.combine(today + timedelta(days=2), time(16), tzinfo=tz),
            "duration_minutes": 45,
            "modality": Modality.VIDEO,
            "status": SessionStatus.SCHEDULED,
            "video_url": "https://video.example.org/riverside/marcus",
        },
    )
    safety_plan_save(
        client=client,
        by=supporter_user,
        fields={
            "warning_signs": "Not sleeping for two nights; skipping meals; staying in my room.",
            "coping_strategies": "Walk to the river; music with headphones; a cold shower.",
            "distractions": "The library on Main Street; my sister's kitchen; the Tuesday group.",
            "people_to_ask": "My sister Ana; Marcus (peer supporter).",
            "professionals": "988 Suicide & Crisis Lifeline; Riverside clinic front desk; the on-call supporter.",
            "safe_environment": "Ana keeps my spare medication; no alcohol at home.",
        },
    )
    assert ClientAccount.objects.filter(client=client).exists()
    return [f"  {DEMO_CLIENT:<18} (Client: the portal at /me/, {client.first_name}, on demo-supporter's caseload)"]
