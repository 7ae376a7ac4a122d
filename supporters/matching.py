"""Matching suggestion for assigning a client: rank supporters and say why.

`score_candidate` and `rank_candidates` are pure (plain data in, plain data out) so
the rules are tested without a database; `match_candidates` gathers the facts in a
fixed number of queries. The coordinator decides; nothing here assigns anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from supporters.models import Certification, LapsedPolicy, LivedExperience, Supporter
from supporters.services import caseload_loads, lapsed_certifications, lived_experience_choices, program_policy

if TYPE_CHECKING:
    from clients.models import Client

# Points per reason. Language first (a session in a language the client does not
# speak is not a session), then shared lived experience, site, history, capacity.
LANGUAGE_POINTS = 4
LIVED_EXPERIENCE_POINTS = 2  # per requested area the supporter disclosed
SITE_POINTS = 2
EARLIER_WORK_POINTS = 2
CAPACITY_POINTS_MAX = 3  # one point per free place, up to this


@dataclass(frozen=True)
class ClientFacts:
    preferred_language: str
    site_id: int | None
    requested_areas: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SupporterFacts:
    supporter_id: int
    name: str
    languages: tuple[str, ...]
    site_id: int | None
    max_caseload: int
    load: int
    worked_with_client: bool = False
    currently_assigned: bool = False
    disclosed_areas: frozenset[str] = frozenset()
    lapsed: bool = False
    lapsed_blocks: bool = False


@dataclass
class Match:
    supporter_id: int
    name: str
    score: int
    eligible: bool
    capacity_left: int
    reasons: list[str] = field(default_factory=list)
    cautions: list[str] = field(default_factory=list)


def score_candidate(client: ClientFacts, supporter: SupporterFacts, area_labels: dict[str, str] | None = None) -> Match:
    area_labels = area_labels or {}
    capacity_left = supporter.max_caseload - supporter.load
    match = Match(
        supporter_id=supporter.supporter_id,
        name=supporter.name,
        score=0,
        eligible=True,
        capacity_left=capacity_left,
    )
    if client.preferred_language and client.preferred_language in supporter.languages:
        match.score += LANGUAGE_POINTS
        match.reasons.append(_("Speaks the client's language (%(lang)s)") % {"lang": client.preferred_language})
    shared = sorted(client.requested_areas & supporter.disclosed_areas)
    if shared:
        match.score += LIVED_EXPERIENCE_POINTS * len(shared)
        labels = ", ".join(area_labels.get(code, code) for code in shared)
        match.reasons.append(_("Shares lived experience the client asked for: %(areas)s") % {"areas": labels})
    if client.site_id is not None and client.site_id == supporter.site_id:
        match.score += SITE_POINTS
        match.reasons.append(_("Works at the client's site"))
    if supporter.worked_with_client:
        match.score += EARLIER_WORK_POINTS
        match.reasons.append(_("Has supported this client before"))
    if capacity_left > 0:
        match.score += min(capacity_left, CAPACITY_POINTS_MAX)
        match.reasons.append(_("%(n)s of %(max)s places free") % {"n": capacity_left, "max": supporter.max_caseload})
    else:
        match.eligible = False
        match.cautions.append(
            _("At or over capacity (%(load)s/%(max)s)") % {"load": supporter.load, "max": supporter.max_caseload}
        )
    if supporter.currently_assigned:
        match.eligible = False
        match.cautions.append(_("Already supports this client"))
    if supporter.lapsed:
        if supporter.lapsed_blocks:
            match.eligible = False
            match.cautions.append(_("Credential lapsed: the program blocks new clients"))
        else:
            match.cautions.append(_("Credential lapsed"))
    return match


def rank_candidates(
    client: ClientFacts, supporters: list[SupporterFacts], area_labels: dict[str, str] | None = None
) -> list[Match]:
    """Eligible first, then by score, then the lighter caseload, then name (stable, deterministic)."""
    matches = [score_candidate(client, s, area_labels) for s in supporters]
    return sorted(matches, key=lambda m: (not m.eligible, -m.score, -m.capacity_left, m.name, m.supporter_id))


def match_candidates(client: Client, today: date | None = None) -> list[Match]:
    """Rank the active supporters of the client's program for this client."""
    from clients.models import CaseloadAssignment, ClientPreference
    from sessions.models import Attendance

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


def supporter_ids_over_capacity(program_id: int, day: date) -> list[int]:

    loads = caseload_loads(program_id, day)
    caps = dict(Supporter.objects.filter(program_id=program_id, is_active=True).values_list("id", "max_caseload"))
    return sorted(sid for sid, cap in caps.items() if loads.get(sid, 0) > cap)


__all__ = ["ClientFacts", "Match", "SupporterFacts", "match_candidates", "rank_candidates", "score_candidate"]
