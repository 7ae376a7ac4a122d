"""The facts a matching suggestion needs for one client, gathered in a fixed number of
queries and ranked by the pure rules in `supporters.matching` (the caseload is the client's;
the supporters' facts and the scoring are the supporters' room)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.apps import apps

from clients.models import CaseloadAssignment, Client, ClientPreference
from supporters.matching import ClientFacts, Match, SupporterFacts, rank_candidates
from supporters.models import Certification, LapsedPolicy, LivedExperience, Supporter
from supporters.services import caseload_loads, lapsed_certifications, lived_experience_choices, program_policy


def match_candidates(client: Client, today: date | None = None) -> list[Match]:
    """Rank the active supporters of the client's program for this client."""
    Attendance = apps.get_model("peer_sessions", "Attendance")  # sessions sit above clients: named by label
    program = client.program
    today = today or program.local_today()
    supporters = list(Supporter.objects.filter(program_id=program.id, is_active=True).order_by("last_name", "id"))
    loads = caseload_loads(program.id, today)
    history = CaseloadAssignment.objects.filter(client_id=client.id)
    current = set(history.active_on(today).values_list("supporter_id", flat=True))
    earlier = set(history.filter(start_date__lte=today).values_list("supporter_id", flat=True)) | set(
        Attendance.objects.filter(client_id=client.id, session__program_id=program.id).values_list(
            "session__supporter_id", flat=True
        )
    )
    disclosed = dict(
        LivedExperience.objects.filter(supporter__program_id=program.id).values_list("supporter_id", "areas")
    )
    preference = ClientPreference.objects.filter(client_id=client.id).first()
    requested = frozenset(preference.requested_lived_experience) if preference else frozenset()
    certs: dict[int, list] = {}
    for cert in Certification.objects.filter(supporter__program_id=program.id):
        certs.setdefault(cert.supporter_id, []).append(cert)
    blocks = program_policy(program.id).lapsed_credential_policy == LapsedPolicy.BLOCK
    facts = [
        SupporterFacts(
            supporter_id=s.id,
            name=s.full_name,
            languages=tuple(s.languages or ()),
            site_id=s.site_id,
            max_caseload=s.max_caseload,
            load=loads.get(s.id, 0),
            worked_with_client=s.id in earlier - current,
            currently_assigned=s.id in current,
            disclosed_areas=frozenset(disclosed.get(s.id) or ()),
            lapsed=bool(lapsed_certifications(certs.get(s.id, []), today)),
            lapsed_blocks=blocks,
        )
        for s in supporters
    ]
    client_facts = ClientFacts(
        preferred_language=client.preferred_language or "", site_id=client.site_id, requested_areas=requested
    )
    return rank_candidates(client_facts, facts, dict(lived_experience_choices(program.id)))


def has_free_place(match: Match, taken: dict[int, int]) -> bool:
    """Whether the matched supporter still has a free place once `taken` (supporter id -> clients
    already given to them in the same hand-over) is counted: a hand-over never fills anyone past
    the free places the matching counts."""
    return taken.get(match.supporter_id, 0) < match.capacity_left


@dataclass
class Handover:
    """One client of a departing supporter: the ranked matches (without the departing supporter)
    and the suggestion, the best eligible match with a free place left in this hand-over."""

    client: Client
    matches: list[Match]
    suggested: Match | None


def handover_suggestions(clients: list[Client], *, departing_id: int, day: date) -> list[Handover]:
    """The matching suggestion for each client of a departing supporter, in order, each one
    counting the places the suggestions before it took."""
    taken: dict[int, int] = {}
    handovers = []
    for client in clients:
        matches = [m for m in match_candidates(client, day) if m.supporter_id != departing_id]
        suggested = next((m for m in matches if m.eligible and has_free_place(m, taken)), None)
        if suggested is not None:
            taken[suggested.supporter_id] = taken.get(suggested.supporter_id, 0) + 1
        handovers.append(Handover(client=client, matches=matches, suggested=suggested))
    return handovers
