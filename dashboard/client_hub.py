"""The client page as the hub of a day's work: what the viewer may do for this client, and one
timeline of everything that happened with them.

`client_actions` says which actions a user may take on a client. It decides nothing itself: each
answer is the rule the action's own page enforces (`core.scoping.has_role` for the coordinator's
pages, `clients.models.caseload_readable` for goals, outcomes and referrals,
`sessions.selectors.caseload_supporter` for logging a session and sending feedback), so the page
never offers what the action would refuse.

`client_timeline` merges the client's sessions, clinic appointments, feedback, goals, referrals
and outcome measures, newest first. Each kind is read through its own model's `visible_to(user)`
(the same rows its own list shows; for a clinician, sessions pass the disclosure gate), so the
timeline shows a user nothing their lists would not. Pages are keyset-paged across the kinds: the
cursor is `<kind>-<id>` of the last entry shown (codes and ids only, never a date or a name);
its sort key is read again from the scoped queryset, so a cursor outside the user's scope restarts
at the first page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clients.disclosure import Disclosure, attach_session_disclosures
from clients.models import ClinicalAppointment, OutcomeMeasure, RecoveryGoal, Referral, caseload_readable
from core.models import Role
from core.scoping import has_role
from sessions.models import Attendance, FeedbackItem, SessionStatus
from sessions.selectors import caseload_supporter

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from clients.models import Client
    from core.models import User
    from supporters.models import Supporter


@dataclass(frozen=True)
class ClientActions:
    """What a user may do for one client, each from the rule its page enforces."""

    coordinator: bool  # assign or transfer, record and revoke consents, export the record, disclosures
    supporter: Supporter | None  # the user's supporter record with the client on its caseload today
    caseload_pages: bool  # goals, outcome measures, referrals (coordinators and current supporters)

    @property
    def assign(self) -> bool:
        return self.coordinator

    @property
    def manage_consents(self) -> bool:
        return self.coordinator

    @property
    def export_record(self) -> bool:
        return self.coordinator

    @property
    def log_session(self) -> bool:
        return self.supporter is not None

    @property
    def send_feedback(self) -> bool:
        return self.supporter is not None


def client_actions(user: User | AnonymousUser, client: Client) -> ClientActions:
    """Which actions `user` may take on `client` (a client they already see)."""
    return ClientActions(
        coordinator=has_role(user, client.program_id, Role.COORDINATOR),
        supporter=caseload_supporter(user, client),
        caseload_pages=client.pk in caseload_readable(user, [client.pk]),
    )


# The timeline's kinds, in their tie-break order (entries at the same moment list in this order).
TIMELINE_KINDS: list[tuple[str, Any]] = [
    ("sessions", gettext_lazy("Peer sessions")),
    ("appointments", gettext_lazy("Clinic appointments")),
    ("feedback", gettext_lazy("Feedback")),
    ("goals", gettext_lazy("Goals")),
    ("referrals", gettext_lazy("Referrals")),
    ("outcomes", gettext_lazy("Outcome measures")),
]
KIND_RANK = {code: n for n, (code, _label) in enumerate(TIMELINE_KINDS)}
ENTRY_LABELS = {
    "sessions": gettext_lazy("Peer session"),
    "appointments": gettext_lazy("Clinic appointment"),
    "feedback": gettext_lazy("Feedback"),
    "goals": gettext_lazy("Goal"),
    "referrals": gettext_lazy("Referral"),
    "outcomes": gettext_lazy("Outcome measure"),
}
TIMELINE_PAGE_SIZE = 20


@dataclass
class TimelineEntry:
    kind: str
    kind_label: str
    when: datetime  # aware; a date-only entry (referral, measure) sits at the start of its local day
    has_time: bool
    title: str
    detail: str = ""
    url: str = ""
    cursor: str = ""


@dataclass
class TimelinePage:
    entries: list[TimelineEntry]
    kinds: list[tuple[str, Any]]  # the kinds this user may see on this client
    kind: str  # the filter in use ("" for all)
    next_after: str | None
    is_first: bool
    query: str = field(default="")


@dataclass(frozen=True)
class _Source:
    queryset: QuerySet[Any]
    field: str  # the entry's moment: a datetime, or a date (`is_date`)
    is_date: bool = False


def _sources(
    user: User | AnonymousUser, client: Client, actions: ClientActions, disclosure: Disclosure
) -> dict[str, _Source]:
    """Each kind the user may see on this client, from its own visible_to()."""
    sources = {
        "appointments": _Source(
            ClinicalAppointment.objects.visible_to(user).filter(client=client).select_related("clinician"), "start"
        ),
        "feedback": _Source(
            FeedbackItem.objects.visible_to(user).filter(client=client).with_recipient_reply().select_related("author"),
            "created_at",
        ),
    }
    if disclosure.allowed:  # a clinician without a basis learns nothing of peer support
        sources["sessions"] = _Source(
            Attendance.objects.visible_to(user)
            .filter(client=client)
            .select_related("session__supporter", "session__program"),
            "session__start",
        )
    if actions.caseload_pages:
        sources["goals"] = _Source(RecoveryGoal.objects.visible_to(user).filter(client=client), "created_at")
        sources["referrals"] = _Source(
            Referral.objects.visible_to(user).filter(client=client).select_related("resource"), "referred_on", True
        )
        sources["outcomes"] = _Source(
            OutcomeMeasure.objects.visible_to(user).filter(client=client).select_related("instrument"),
            "administered_on",
            True,
        )
    # What has happened: upcoming sessions and appointments are the page's "Coming up".
    now = timezone.now()
    today = client.program.local_today()
    return {
        code: _Source(
            source.queryset.filter(**{f"{source.field}__lte": today if source.is_date else now}),
            source.field,
            source.is_date,
        )
        for code, _label in TIMELINE_KINDS
        if (source := sources.get(code)) is not None
    }


def _value(row: Any, path: str) -> Any:
    for name in path.split("__"):
        row = getattr(row, name)
    return row


def _moment(source: _Source, row: Any, client: Client) -> datetime:
    value = _value(row, source.field)
    return datetime.combine(value, time.min, tzinfo=client.program.tzinfo) if source.is_date else value


def _before(source: _Source, rank: int, cursor: tuple[datetime, int, int], client: Client) -> Q:
    """Rows of this source that sort after the cursor (newest first: (moment, kind, id) descending)."""
    moment, cursor_rank, cursor_id = cursor
    if source.is_date:
        day = moment.astimezone(client.program.tzinfo).date()
        if moment == datetime.combine(day, time.min, tzinfo=client.program.tzinfo):
            earlier, same = Q(**{f"{source.field}__lt": day}), Q(**{source.field: day})
        else:  # the cursor is later in that day than any date-only entry of it
            earlier, same = Q(**{f"{source.field}__lte": day}), Q(pk__in=[])
    else:
        earlier, same = Q(**{f"{source.field}__lt": moment}), Q(**{source.field: moment})
    if rank < cursor_rank:
        return earlier | same
    if rank == cursor_rank:
        return earlier | (same & Q(id__lt=cursor_id))
    return earlier


def client_timeline(
    user: User | AnonymousUser,
    client: Client,
    *,
    actions: ClientActions,
    disclosure: Disclosure,
    kind: str = "",
    after: str | None = None,
    size: int = TIMELINE_PAGE_SIZE,
) -> TimelinePage:
    """One page of the client's timeline, newest first, optionally one kind only."""
    sources = _sources(user, client, actions, disclosure)
    kinds = [(code, label) for code, label in TIMELINE_KINDS if code in sources]
    kind = kind if kind in sources else ""
    chosen = {kind: sources[kind]} if kind else sources
    cursor = None
    after_kind, _sep, after_id = (after or "").partition("-")
    if after_kind in chosen and after_id.isdigit() and len(after_id) < 12:
        row = chosen[after_kind].queryset.filter(pk=int(after_id)).first()
        if row is not None:
            cursor = (_moment(chosen[after_kind], row, client), KIND_RANK[after_kind], row.pk)
    keyed: list[tuple[tuple[datetime, int, int], str, Any]] = []
    for code, source in chosen.items():
        rank = KIND_RANK[code]
        queryset = source.queryset
        if cursor is not None:
            queryset = queryset.filter(_before(source, rank, cursor, client))
        for row in queryset.order_by(f"-{source.field}", "-id")[: size + 1]:
            keyed.append(((_moment(source, row, client), rank, row.pk), code, row))
    keyed.sort(key=lambda item: item[0], reverse=True)
    shown = keyed[:size]
    sessions = [row.session for _key, code, row in shown if code == "sessions"]
    # What the gate lets a clinician see of each session is recorded as a disclosure.
    attach_session_disclosures(user, sessions)
    entries = [_entry(code, row, sources[code], client, disclosure) for _key, code, row in shown]
    return TimelinePage(
        entries=entries,
        kinds=kinds,
        kind=kind,
        next_after=entries[-1].cursor if len(keyed) > size else None,
        is_first=cursor is None,
    )


def _entry(code: str, row: Any, source: _Source, client: Client, disclosure: Disclosure) -> TimelineEntry:
    entry = TimelineEntry(
        kind=code,
        kind_label=str(ENTRY_LABELS[code]),
        when=_moment(source, row, client),
        has_time=not source.is_date,
        title="",
        cursor=f"{code}-{row.pk}",
    )
    if code == "sessions":
        session = row.session
        entry.title = _("%(kind)s session, %(modality)s") % {
            "kind": session.get_kind_display(),
            "modality": str(session.get_modality_display()).lower(),
        }
        parts = [str(row.get_status_display())]
        if session.status != SessionStatus.HELD:
            parts.append(_("session %(status)s") % {"status": str(session.get_status_display()).lower()})
        if not disclosure.facts_only:  # who the supporter is needs a consent (roles.md)
            parts.append(session.supporter.full_name)
        entry.detail = " · ".join(parts)
        entry.url = reverse("peer_sessions:session-detail", args=[session.pk])
    elif code == "appointments":
        entry.title = str(row.get_kind_display())
        entry.detail = " · ".join(
            [str(row.get_status_display()), *([row.clinician.full_name] if row.clinician else [])]
        )
    elif code == "feedback":
        entry.title = str(row)
        state = (
            _("Replied")
            if getattr(row, "recipient_replied", False)
            else (_("Acknowledged") if row.acknowledged_at else _("Unread"))
        )
        entry.detail = " · ".join([state, row.author.full_name])
        entry.url = reverse("peer_sessions:feedback-detail", args=[row.pk])
    elif code == "goals":
        entry.title = _("Set: %(domain)s") % {"domain": row.get_domain_display()}
        entry.detail = " · ".join([str(row.get_status_display()), Truncator(row.goal).chars(80)])
        entry.url = reverse("client_program:goals", args=[client.pk])
    elif code == "referrals":
        entry.title = row.resource.name
        entry.detail = str(row.get_status_display())
        entry.url = reverse("client_program:referrals", args=[client.pk])
    elif code == "outcomes":
        entry.title = _("%(instrument)s: total %(total)s") % {"instrument": row.instrument.name, "total": row.total}
        entry.detail = _("intake") if row.is_intake else ""
        entry.url = reverse("client_program:outcomes", args=[client.pk]) + f"?instrument={row.instrument_id}"
    return entry
