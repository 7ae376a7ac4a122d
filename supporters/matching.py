"""Matching suggestion for assigning a client: rank supporters and say why.

`score_candidate` and `rank_candidates` are pure (plain data in, plain data out) so
the rules are tested without a database; `clients.matching.match_candidates` gathers the
facts in a fixed number of queries. The coordinator decides; nothing here assigns anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.utils.translation import gettext as _

from core.languages import language_name
from supporters.models import Supporter
from supporters.services import caseload_loads

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
        match.reasons.append(
            _("Speaks the client's language (%(lang)s)") % {"lang": language_name(client.preferred_language)}
        )
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


def supporter_ids_over_capacity(program_id: int, day: date) -> list[int]:

    loads = caseload_loads(program_id, day)
    caps = dict(Supporter.objects.filter(program_id=program_id, is_active=True).values_list("id", "max_caseload"))
    return sorted(sid for sid, cap in caps.items() if loads.get(sid, 0) > cap)


__all__ = [
    "ClientFacts",
    "Match",
    "SupporterFacts",
    "rank_candidates",
    "score_candidate",
    "supporter_ids_over_capacity",
]
