"""The disclosure gate (roles.md v2): what a clinician may learn of a client's peer support.

Anything of peer support — that sessions happened, their dates, topics, next steps, goals
addressed, wellbeing, who the supporter is, contact counts, FHIR resources, bridging feedback —
reaches a clinician only through this module, in every channel. A care-team clinician passes
the gate for a client on one of these bases, best first:

- `consent`: an active, unexpired, unrevoked consent on the program's today whose scope reaches
  them (the care team that includes them, or naming them): everything but the narrative;
- `emergency`: a live emergency-access grant (clients.emergency): as a consent, and recorded;
- `treatment`: the program permits treatment disclosures (never a 42 CFR Part 2 program):
  session facts only (`TREATMENT_SESSION_FIELDS`), without a consent.

Without any, the clinician sees `NO_SHARING_CONSENT` and nothing else of peer support.
Coordinators and supporters are not gated (`program_role`): their own scoping rules apply.

Two forms of the same rule, built from the same parts: `disclosable_client_ids` /
`peer_support_q` for querysets (subqueries, no loop over clients; they live in clients.models,
beside the visible_to() methods that use them, and are imported here), and `disclosures_for` for
the basis of each client on a page (which consent allowed it), for display and for the
disclosure log of the audit work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.db import models
from django.db.models import prefetch_related_objects
from django.utils.translation import gettext_lazy as _

from audit import actions
from audit.records import audit_record
from clients.models import (  # the queryset form of the gate lives beside the querysets that use it
    CaseloadAssignment,
    Client,
    Clinician,
    Consent,
    EmergencyAccess,
    care_team_links,
    covering_consents,
    own_clinician_ids,
    treatment_program_ids,
)
from clients.models import (  # re-exported: other rooms take the gate from this module
    disclosable_client_ids as disclosable_client_ids,
)
from clients.models import (
    peer_support_q as peer_support_q,
)
from core.request_cache import memoised
from core.scoping import role_program_ids

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.models import User

NO_SHARING_CONSENT = _("No sharing consent on file")

# roles.md: under the treatment purpose "care-team clinicians then see session facts (date, kind,
# modality, topics, next steps) without a consent. Never the narrative." Everything else of a session
# (the supporter, goals addressed, location, wellbeing, billing, the signature) needs a consent.
TREATMENT_SESSION_FIELDS = frozenset(
    {"id", "kind", "start", "duration_minutes", "modality", "status", "topics", "next_steps", "attendances"}
)
TREATMENT_ATTENDANCE_FIELDS = frozenset({"client", "status"})


class Basis(models.TextChoices):
    CONSENT = "consent", _("Consent")
    EMERGENCY = "emergency", _("Emergency access")
    TREATMENT = "treatment", _("Treatment disclosures permitted")
    PROGRAM_ROLE = "program_role", _("Coordinator or supporter of the client")


@dataclass(frozen=True)
class Disclosure:
    """What the gate decided for one user and one client, and on what basis."""

    allowed: bool
    basis: str | None = None
    consent_id: int | None = None

    @property
    def facts_only(self) -> bool:
        return self.basis == Basis.TREATMENT

    @property
    def reason(self) -> str:
        return "" if self.allowed else str(NO_SHARING_CONSENT)

    def as_json(self) -> dict[str, Any]:
        """The `peer_support_disclosure` field of the client API (docs/roles.md)."""
        return {
            "allowed": self.allowed,
            "basis": self.basis,
            "consent": self.consent_id,
            "facts_only": self.facts_only,
            "reason": self.reason,
        }


DENIED = Disclosure(allowed=False)
UNGATED = Disclosure(allowed=True, basis=Basis.PROGRAM_ROLE)


def disclosures_for(user: User | AnonymousUser, clients: Iterable[Client]) -> dict[int, Disclosure]:
    """The gate's decision and basis for each client (clients the user may already see).

    Coordinators of the client's program and supporters with the client on their caseload are
    not gated. A handful of queries for the whole page, none when nobody on it is gated."""

    roles = role_program_ids(user)
    result: dict[int, Disclosure] = {}
    pending: dict[int, int] = {}  # client id -> program id
    for client in clients:
        if client.program_id in roles.coordinator:
            result[client.pk] = UNGATED
        else:
            pending[client.pk] = client.program_id
    if pending and roles.supporter and user.is_authenticated:  # roles are only a signed-in user's
        caseload = set(
            CaseloadAssignment.objects.active_today(roles.supporter)
            .filter(supporter__user_id=user.pk, client_id__in=list(pending))
            .values_list("client_id", flat=True)
        )
        for client_id in caseload:
            result[client_id] = UNGATED
            pending.pop(client_id)
    if not pending:
        return result
    programs = roles.clinician
    on_care_team = set(
        care_team_links(user, programs).filter(client_id__in=list(pending)).values_list("client_id", flat=True)
    )
    consents: dict[int, int] = {}
    if on_care_team:
        rows = (
            covering_consents(clinician_ids=own_clinician_ids(user, programs), program_ids=programs)
            .filter(client_id__in=sorted(on_care_team))
            .order_by("client_id", "-effective_on", "-id")
            .values_list("client_id", "id")
        )
        for client_id, consent_id in rows:
            consents.setdefault(client_id, consent_id)  # the newest covering consent is the basis
    granted = EmergencyAccess.objects.granted_client_ids(user)
    treatment = treatment_program_ids(programs)
    for client_id, program_id in pending.items():
        if client_id in consents:
            result[client_id] = Disclosure(allowed=True, basis=Basis.CONSENT, consent_id=consents[client_id])
        elif client_id in granted:
            result[client_id] = Disclosure(allowed=True, basis=Basis.EMERGENCY)
        elif client_id in on_care_team and program_id in treatment:
            result[client_id] = Disclosure(allowed=True, basis=Basis.TREATMENT)
        else:
            result[client_id] = DENIED
    return result


def record_disclosure(
    *,
    action: str,
    user: User | AnonymousUser | None,
    obj: models.Model | None = None,
    client_ids: Iterable[int] = (),
    recipients: Iterable[Clinician] = (),
    consents: dict[int, list[Consent]] | None = None,
    bases: dict[int, Disclosure] | None = None,
    request: Any = None,
    object_type: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Record a disclosure to clinicians (roles.md: "Every disclosure is recorded as one (who,
    to whom, which client, what, under which consent or exception) and listed per client").

    Feedback names its `recipients` and the `consents` covering each (none: the emergency
    exception); a read through the gate names the `bases` the gate decided per client."""
    info: dict[str, Any] = dict(detail or {})
    recipients = list(recipients)
    if recipients:
        info["recipients"] = sorted(c.pk for c in recipients)
    if consents is not None:
        used = sorted({consent.pk for covering in consents.values() for consent in covering})
        info["consents"] = used
        info["basis"] = Basis.CONSENT if all(consents.get(c.pk) for c in recipients) else Basis.EMERGENCY
    if bases:
        info["bases"] = {
            # what the gate let through has a basis
            str(client_id): cast(str, d.basis) + (f":{d.consent_id}" if d.consent_id else "")
            for client_id, d in bases.items()
        }
        client_ids = [*client_ids, *bases]
    audit_record(
        action=action, request=request, user=user, obj=obj, object_type=object_type, client_ids=client_ids, detail=info
    )


def disclosure_for(user: User | AnonymousUser, client: Client) -> Disclosure:
    return disclosures_for(user, [client])[client.pk]


def restrict_session_row(row: dict[str, Any]) -> dict[str, Any]:
    """A session's representation cut to the facts the treatment purpose discloses."""
    cut = {name: value for name, value in row.items() if name in TREATMENT_SESSION_FIELDS}
    if "attendances" in cut:
        cut["attendances"] = [
            {name: value for name, value in a.items() if name in TREATMENT_ATTENDANCE_FIELDS}
            for a in cut["attendances"]
        ]
    return cut


@dataclass(frozen=True)
class SessionDisclosure:
    """What one reader may see of one session: which attendees, and whether facts only."""

    client_ids: frozenset[int] | None  # None: every attendee (not gated)
    facts_only: bool = False

    def shows(self, client_id: int) -> bool:
        return self.client_ids is None or client_id in self.client_ids


def session_disclosures(user: User | AnonymousUser, sessions: Iterable[Any]) -> dict[int, SessionDisclosure]:
    """For sessions already scoped by PeerSession.visible_to, with their attendances (and the
    attendees' clients, or at least client_id and the session's program) loaded: the author and
    coordinators of the program see every attendee; anyone else only attendees passing the gate,
    and only facts when each of those passes on the treatment basis alone."""
    roles = role_program_ids(user)
    sessions = list(sessions)
    gated = [s for s in sessions if s.program_id not in roles.coordinator and s.supporter.user_id != user.pk]
    result = {s.pk: SessionDisclosure(client_ids=None) for s in sessions}
    if not gated:
        return result
    attendees = {
        a.client_id: Client(pk=a.client_id, program_id=s.program_id) for s in gated for a in s.attendances.all()
    }
    decided = disclosures_for(user, attendees.values())
    disclosed: dict[int, Disclosure] = {}
    shown_sessions: list[int] = []
    for session in gated:
        shown = [a.client_id for a in session.attendances.all() if decided[a.client_id].allowed]
        result[session.pk] = SessionDisclosure(
            client_ids=frozenset(shown), facts_only=bool(shown) and all(decided[c].facts_only for c in shown)
        )
        disclosed.update((c, decided[c]) for c in shown if decided[c].basis != Basis.PROGRAM_ROLE)
        if shown:
            shown_sessions.append(session.pk)
    _record_gate_disclosure(user, "sessions", shown_sessions, disclosed)
    return result


def _record_gate_disclosure(
    user: User | AnonymousUser, what: str, object_ids: list[int], disclosed: dict[int, Disclosure]
) -> None:
    """What the gate let through to a clinician is a disclosure: one record per request and
    answer (a page and its serializer asking twice record once)."""
    if not disclosed:
        return
    key = ("gate_disclosure", user.pk, what, tuple(sorted(object_ids)), tuple(sorted(disclosed)))

    def record() -> bool:
        record_disclosure(
            action=actions.DISCLOSURE_PEER_SESSIONS,
            user=user,
            object_type="peer_sessions.peersession" if what == "sessions" else "clients.client",
            bases=disclosed,
            detail={"what": what, "objects": sorted(object_ids)[:50]},
        )
        return True

    memoised(key, record)


def attach_disclosures(
    user: User | AnonymousUser, clients: list[Client], *, peer_support_fields: Iterable[str] = ()
) -> None:
    """Set `client.peer_support` (a Disclosure) on each client of a page, and blank the
    `peer_support_fields` (annotations such as the last peer contact) where the gate is shut."""
    decided = disclosures_for(user, clients)
    for client in clients:
        client.peer_support = decided[client.pk]
        if not client.peer_support.allowed:
            for name in peer_support_fields:
                setattr(client, name, None)
    if peer_support_fields:
        disclosed = {c.pk: d for c in clients if (d := decided[c.pk]).allowed and d.basis != Basis.PROGRAM_ROLE}
        _record_gate_disclosure(user, "contact_figures", sorted(disclosed), disclosed)


def attach_session_disclosures(user: User | AnonymousUser, sessions: list[Any]) -> None:
    """Set `session.disclosure` (a SessionDisclosure) on each session of a page, reading the
    page's attendances in one query when a gated reader needs them."""
    roles = role_program_ids(user)
    if roles.clinician:
        prefetch_related_objects(sessions, "attendances")
    decided = session_disclosures(user, sessions) if sessions else {}
    for session in sessions:
        session.disclosure = decided[session.pk]
