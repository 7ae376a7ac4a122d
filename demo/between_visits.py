"""The demo's support between clinic visits (issue 17): an on-call rota with someone on call now,
contact preferences for staff and a few clients, care rhythms, a no-show that opened a follow-up
task and a clinician's request for contact. Everything goes through the services, so the notices
appear in the console (e-mail and text message backends) as they would be sent."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import timezone

from base.services import staff_contact_save
from clients.models import AssignmentRole, CaseloadAssignment, Client, ContactRhythm
from clients.services import care_rhythm_set, client_contact_save
from core.models import Program, Role, User
from sessions.models import AttendanceStatus, Modality, PeerSession, SessionKind
from sessions.services import contact_request_raise, peer_session_save
from supporters.models import OnCallShift, Supporter
from supporters.services import on_call_shift_save

# Fictional numbers (555-01xx is reserved for fiction in North America).
ON_CALL_LINE = "+16175550100"


def build_between_visits(program: Program, *, users: dict[Role, User]) -> list[str]:
    """Build it once per program; returns the lines the seed prints about it."""
    coordinator, supporter_user = users[Role.COORDINATOR], users[Role.SUPPORTER]
    supporters = list(Supporter.objects.filter(program=program).order_by("external_id"))
    today = program.local_today()
    tz = program.tzinfo
    # The rota: the demo supporter from this morning for three days, a colleague the three after.
    start = datetime.combine(today, time(0), tzinfo=tz)
    for days, supporter in ((0, supporters[0]), (3, supporters[1])):
        on_call_shift_save(
            shift=OnCallShift(),
            fields={
                "program": program,
                "supporter": supporter,
                "starts_at": start + timedelta(days=days),
                "ends_at": start + timedelta(days=days + 3),
                "phone": ON_CALL_LINE,
            },
            by=coordinator,
        )
    # Staff numbers for text messages (the console backend prints them under make run).
    staff_contact_save(user=supporter_user, fields={"phone": "+16175550142"})
    staff_contact_save(
        user=coordinator, fields={"phone": "+16175550143", "quiet_start": time(21), "quiet_end": time(7)}
    )
    mine = list(
        Client.objects.filter(
            program=program,
            assignments__supporter=supporters[0],
            assignments__role=AssignmentRole.PRIMARY,
        ).order_by("id")
    )
    # Care rhythms: weekly for some of the demo supporter's clients, monthly for one.
    for i, client in enumerate(mine[:4]):
        rhythm = ContactRhythm.MONTHLY if i == 3 else ContactRhythm.WEEKLY
        care_rhythm_set(client=client, every_days=rhythm, user=supporter_user)
    for i, client in enumerate(mine[:3]):
        fields: dict[str, object] = {"phone": f"+1617555017{i}", "email": f"client{i + 1}@example.net"}
        if i == 1:
            fields |= {"quiet_start": time(21), "quiet_end": time(9)}
        client_contact_save(client=client, user=coordinator, fields=fields)
    # Yesterday afternoon a client did not come: logging it opens a follow-up task.
    no_show_client = mine[4] if len(mine) > 4 else mine[0]
    peer_session_save(
        session=PeerSession(supporter=supporters[0]),
        attendances=[{"client": no_show_client, "status": AttendanceStatus.NO_SHOW}],
        fields={
            "kind": SessionKind.ONE_TO_ONE,
            "start": datetime.combine(today - timedelta(days=1), time(15), tzinfo=tz),
            "duration_minutes": 30,
            "modality": Modality.IN_PERSON,
        },
    )
    # The demo clinician asks peer support to call one of their care-team clients now.
    clinician = users[Role.CLINICIAN]
    on_caseload = CaseloadAssignment.objects.filter(supporter__in=supporters[1:]).values("client_id")
    asked = Client.objects.visible_to(clinician).filter(id__in=on_caseload).order_by("id").first()
    lines = []
    if asked is not None:
        task = contact_request_raise(
            client=asked,
            requested_by=clinician,
            note="Missed today's appointment and sounded low on the phone; please call.",
            now=timezone.now(),
        )
        lines.append(f"  a clinician's request for contact waits at /tasks/{task.pk}/ (demo-supporter is on call)")
    on_call = OnCallShift.objects.on_call(program.pk, at=timezone.now())
    if on_call is not None:
        who = on_call.supporter.full_name
        lines.insert(0, f"On call now: {who} ({on_call.phone}); the rota: /program/{program.pk}/on-call/")
    return lines
