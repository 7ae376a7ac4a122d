"""The main navigation: one list of entries, each shown to the roles it names."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from core.scoping import RolePrograms


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: str | Promise
    # Shown to users holding any of these roles in any program; empty = everyone signed in.
    roles: frozenset[str] = field(default_factory=frozenset)
    order: int = 100

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", frozenset(self.roles))


@dataclass(frozen=True)
class NavLink:
    url: str
    label: str | Promise
    current: bool


PEOPLE_ROLES = frozenset({"coordinator", "supporter", "clinician"})

ITEMS: tuple[NavItem, ...] = (
    NavItem("home", _("Home"), order=0),
    NavItem("dashboard:clients", _("Clients"), PEOPLE_ROLES, order=10),
    NavItem("dashboard:supporters", _("Supporters"), frozenset({"coordinator", "supporter"}), order=20),
    NavItem("dashboard:sessions", _("Sessions"), PEOPLE_ROLES, order=30),
    NavItem("peer_sessions:session-create", _("Log a session"), frozenset({"supporter"}), order=35),
    NavItem("peer_sessions:calendar", _("My calendar"), frozenset({"supporter"}), order=36),
    NavItem("peer_sessions:program-calendar", _("Program calendar"), frozenset({"coordinator"}), order=37),
    NavItem("peer_sessions:feedback-list", _("Feedback"), PEOPLE_ROLES, order=40),
    NavItem("peer_sessions:task-list", _("Tasks"), PEOPLE_ROLES, order=45),
    NavItem("program:index", _("Program"), frozenset({"coordinator", "supporter"}), order=50),
    NavItem("continuity-home", _("Continuity"), frozenset({"coordinator"}), order=60),
    NavItem("funder-reports", _("Funder reports"), frozenset({"coordinator", "funder"}), order=65),
    NavItem("import-start", _("Imports"), frozenset({"coordinator"}), order=70),
    NavItem("security:audit-report", _("Audit"), frozenset({"coordinator"}), order=80),
    NavItem("peer_sessions:notification-list", _("Notifications"), PEOPLE_ROLES, order=90),
)


def links_for(request: HttpRequest, roles: RolePrograms) -> list[NavLink]:
    held = {role for role in ("coordinator", "supporter", "clinician", "funder") if roles.for_role(role)}
    links = []
    for item in sorted(ITEMS, key=lambda entry: entry.order):
        if item.roles and not (item.roles & held):
            continue
        url = reverse(item.url_name)
        current = request.path == url if url == "/" else request.path.startswith(url)
        links.append(NavLink(url=url, label=item.label, current=current))
    return links
