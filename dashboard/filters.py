"""FilterSets for the pages. Every choice list is limited to what the user may see:
a dropdown of all supporters would itself leak names across programs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clients.models import Client
from core.models import Program, Site
from dashboard.selectors import contacts_due, contacts_overdue
from reports.selectors import transitions_awaiting_followup
from sessions.filters import PeerSessionFilter
from sessions.models import Modality, SessionKind, SessionStatus
from supporters.models import Supporter


def label_empty_choices(filterset: django_filters.FilterSet) -> None:
    """ "All" instead of Django's "---------" in every dropdown: read aloud, dashes mean nothing."""
    for field in filterset.form.fields.values():
        if hasattr(field, "empty_label"):
            field.empty_label = _("All")


if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.models import User
    from sessions.models import PeerSessionQuerySet

    _FilterSetBase = django_filters.FilterSet
else:
    _FilterSetBase = object


def _set_choices(filterset: django_filters.FilterSet, name: str, queryset: QuerySet[Any]) -> None:
    cast(django_filters.ModelChoiceFilter, filterset.filters[name]).queryset = queryset


class ScopedChoicesMixin(_FilterSetBase):
    """Sets each page FilterSet's dropdowns to what the user may see, then labels them."""

    def scope(self, user: User | AnonymousUser) -> None:
        raise NotImplementedError

    def __init__(self, *args: Any, user: User | AnonymousUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scope(user)
        label_empty_choices(self)

    @property
    def is_active(self) -> bool:
        return any((self.data or {}).get(name) for name in self.filters)


NEEDS_CHOICES = [
    ("overdue", _("Peer contact overdue (past the care rhythm)")),
    ("due", _("Peer contact due in the next days")),
    ("followup", _("A discharge or emergency visit awaiting 7-day follow-up")),
]


class ClientPageFilter(ScopedChoicesMixin, django_filters.FilterSet):
    program = django_filters.ModelChoiceFilter(queryset=Program.objects.none(), label=_("Program"))
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.none(), label=_("Site"))

    # Reached from the homes (dashboard.selectors): the rules are the care rhythm's
    # (sessions.selectors.clients_contact_overdue / clients_contact_due, through
    # dashboard.selectors.contacts_overdue / contacts_due) and reports.selectors.transitions_awaiting_followup.
    needs = django_filters.ChoiceFilter(
        choices=NEEDS_CHOICES, empty_label=_("All"), label=_("Needs"), method="filter_needs"
    )

    class Meta:
        model = Client
        fields = ["program", "site"]

    def scope(self, user: User | AnonymousUser) -> None:
        self.user = user
        _set_choices(self, "program", Program.objects.visible_to(user).order_by("name"))
        # Sites are listed to coordinators only (Site.visible_to); others filter by program.
        _set_choices(self, "site", Site.objects.visible_to(user).order_by("name"))

    def filter_needs(self, queryset: QuerySet[Client], name: str, value: str) -> QuerySet[Client]:
        chosen = self.form.cleaned_data.get("program")
        programs = [chosen] if chosen else list(Program.objects.visible_to(self.user))
        if value in ("overdue", "due"):
            rule = contacts_overdue if value == "overdue" else contacts_due
            user = cast("User", self.user)
            return queryset.filter(id__in=[pk for p in programs for pk in rule(user, p).values_list("id", flat=True)])
        ids = [
            pk
            for p in programs
            for pk in transitions_awaiting_followup(self.user, p).values_list("client_id", flat=True)
        ]
        return queryset.filter(id__in=ids)


class SupporterPageFilter(ScopedChoicesMixin, django_filters.FilterSet):
    program = django_filters.ModelChoiceFilter(queryset=Program.objects.none(), label=_("Program"))
    # The FilterSet metaclass takes declared filters out of the class, so this never hides is_active.
    is_active = django_filters.BooleanFilter(  # type: ignore[assignment]
        label=_("Status"),
        widget=forms.Select(choices=[("", _("All")), ("true", _("Active")), ("false", _("Inactive"))]),
    )

    class Meta:
        model = Supporter
        fields = ["program", "is_active"]

    def scope(self, user: User | AnonymousUser) -> None:
        _set_choices(self, "program", Program.objects.visible_to(user).order_by("name"))


NOTE_CHOICES = [
    ("unsigned", _("Not signed yet")),
    ("unsigned-late", _("Not signed 72 h after the session")),
    ("review", _("To review as supervisor (late or awaiting co-signature)")),
]


class SessionPageFilter(ScopedChoicesMixin, PeerSessionFilter):
    """The API's FilterSet, with choice lists scoped to the user and date pickers for dates."""

    modality = django_filters.ChoiceFilter(choices=Modality.choices, empty_label=_("All"), label=_("Modality"))
    kind = django_filters.ChoiceFilter(choices=SessionKind.choices, empty_label=_("All"), label=_("Kind"))
    status = django_filters.ChoiceFilter(choices=SessionStatus.choices, empty_label=_("All"), label=_("Status"))

    start_after = django_filters.DateFilter(
        field_name="start", lookup_expr="date__gte", label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    start_before = django_filters.DateFilter(
        field_name="start", lookup_expr="date__lte", label=_("To"), widget=forms.DateInput(attrs={"type": "date"})
    )

    note = django_filters.ChoiceFilter(
        choices=NOTE_CHOICES, empty_label=_("All"), label=_("Note"), method="filter_note"
    )

    class Meta(PeerSessionFilter.Meta):
        fields = ["program", "supporter", "modality", "kind", "status"]

    def filter_note(self, queryset: PeerSessionQuerySet, name: str, value: str) -> PeerSessionQuerySet:
        """The rules are PeerSessionQuerySet.note_unsigned / note_unsigned_late (72 h) /
        supervision_queue (the supervisor's queue)."""
        if value == "unsigned-late":
            return queryset.note_unsigned_late(now=timezone.now())
        if value == "review":
            return queryset.supervision_queue(self.user, now=timezone.now())
        return queryset.note_unsigned()

    def scope(self, user: User | AnonymousUser) -> None:
        self.user = user
        _set_choices(self, "program", Program.objects.visible_to(user).order_by("name"))
        _set_choices(self, "supporter", Supporter.objects.visible_to(user).order_by("last_name", "first_name"))
        # `client` (an id) stays as a filter, reached by a link from the client page;
        # the form on the page does not offer it as a field.
