"""Coordinator worklists: what needs attention in a program today.

Each list is one queryset (or one aggregate query for the id set); counts are
taken from the same querysets so a count always matches its list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clients.models import CaseloadAssignment, Client
from core.models import Program
from sessions.models import Attendance
from sessions.selectors import clients_contact_overdue
from supporters.matching import supporter_ids_over_capacity
from supporters.models import Certification, Supporter
from supporters.services import CredentialStatus, credential_statuses, supervision_behind

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise


@dataclass(frozen=True)
class Worklist:
    key: str
    title: str | StrPromise
    kind: str  # "client", "supporter" or "certification": which columns the list page shows
    rows: Callable[[Program, date], QuerySet]


def _active_primary(today: date) -> Exists:
    return Exists(CaseloadAssignment.objects.filter(client_id=OuterRef("pk")).primary_on(today))


def no_recent_contact(program: Program, today: date) -> QuerySet:
    """Clients on a caseload today whose peer contact is overdue by their care rhythm (the one rule:
    sessions.selectors.clients_contact_overdue), with their last delivered contact."""
    completed = Attendance.objects.delivered(as_of=timezone.now()).filter(client_id=OuterRef("pk"))
    # The last-contact date is only computed for the rows a page shows (count() drops it).
    return (
        clients_contact_overdue(clients=Client.objects.all(), program=program, today=today)
        .annotate(last_contact=Subquery(completed.order_by("-session__start").values("session__start")[:1]))
        .order_by("last_name", "id")
    )


def unassigned(program: Program, today: date) -> QuerySet:
    return Client.objects.filter(program=program).exclude(_active_primary(today)).order_by("last_name", "id")


def over_capacity(program: Program, today: date) -> QuerySet:
    return Supporter.objects.filter(id__in=supporter_ids_over_capacity(program.id, today)).order_by("last_name")


def credentials_due(program: Program, today: date) -> QuerySet:
    """Credentials expiring within 90 days or lapsed, by the one status rule
    (supporters.services.credential_statuses: a renewed row is never due)."""
    rows = list(
        Certification.objects.filter(
            supporter__program=program,
            supporter__is_active=True,
            supporter_id__in=Certification.objects.filter(expires_on__lte=today + timedelta(days=90)).values(
                "supporter_id"
            ),
        )
    )
    statuses = credential_statuses(rows, today)
    due = [pk for pk, status in statuses.items() if status in CredentialStatus.DUE]
    return (
        Certification.objects.filter(id__in=due)
        .select_related("supporter", "credential_type")
        .order_by("expires_on", "id")
    )


def supervision_short(program: Program, today: date) -> QuerySet:
    """Supporters short of the monthly supervision requirement in the last full month."""
    last_month = today.replace(day=1) - timedelta(days=1)
    return Supporter.objects.filter(id__in=supervision_behind(program.id, last_month)).order_by("last_name")


WORKLISTS = [
    Worklist("no-contact", _("Clients with a peer contact overdue"), "client", no_recent_contact),
    Worklist("unassigned", _("Clients without a primary supporter"), "client", unassigned),
    Worklist("over-capacity", _("Supporters over capacity"), "supporter", over_capacity),
    Worklist("credentials", _("Credentials expiring within 90 days or lapsed"), "certification", credentials_due),
    Worklist("supervision", _("Supervision behind (last month)"), "supporter", supervision_short),
]
WORKLISTS_BY_KEY = {w.key: w for w in WORKLISTS}


def worklist_counts(program: Program, today: date) -> list[tuple[Worklist, int]]:
    return [(w, w.rows(program, today).count()) for w in WORKLISTS]
