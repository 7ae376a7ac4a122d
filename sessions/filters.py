from __future__ import annotations

from typing import TYPE_CHECKING, Any

import django_filters
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from base.api_base import MAX_ID
from sessions.models import (
    FeedbackCategory,
    FeedbackItem,
    FollowUpTask,
    Modality,
    PeerSession,
    SessionKind,
    SessionStatus,
    TaskKind,
    Urgency,
)

if TYPE_CHECKING:
    from sessions.models import FeedbackItemQuerySet, FollowUpTaskQuerySet


class IdFilter(django_filters.NumberFilter):
    """A record id: a whole number in the id range (a larger one would overflow the driver)."""

    # django-filter takes any form field here; its stubs type NumberFilter's as DecimalField only.
    field_class = forms.IntegerField  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class PeerSessionFilter(django_filters.FilterSet):
    start_after: django_filters.Filter = django_filters.IsoDateTimeFilter(field_name="start", lookup_expr="gte")
    start_before: django_filters.Filter = django_filters.IsoDateTimeFilter(field_name="start", lookup_expr="lt")
    client = IdFilter(field_name="attendances__client", distinct=True)
    modality = django_filters.ChoiceFilter(choices=Modality.choices)
    kind = django_filters.ChoiceFilter(choices=SessionKind.choices)
    status = django_filters.ChoiceFilter(choices=SessionStatus.choices)

    class Meta:
        model = PeerSession
        fields = ["program", "supporter", "client", "modality", "kind", "status"]


class FeedbackItemFilter(django_filters.FilterSet):
    escalated = django_filters.BooleanFilter(method="filter_escalated")
    acknowledged = django_filters.BooleanFilter(field_name="acknowledged_at", lookup_expr="isnull", exclude=True)
    urgency = django_filters.ChoiceFilter(choices=Urgency.choices)
    category = django_filters.ChoiceFilter(choices=FeedbackCategory.choices)

    class Meta:
        model = FeedbackItem
        fields = ["program", "client", "author", "urgency", "category", "is_emergency"]

    def filter_escalated(self, queryset: FeedbackItemQuerySet, name: str, value: bool) -> FeedbackItemQuerySet:
        """The coordinators' worklist: overdue items still waiting for acknowledgment."""
        escalated = queryset.escalated()
        return escalated if value else queryset.exclude(id__in=escalated.values("id"))


TASK_STATES = [
    ("open", _("Open")),
    ("overdue", _("Overdue (past the due time)")),
    ("escalated", _("Escalated to the coordinators")),
    ("done", _("Done")),
]


class FollowUpTaskFilter(django_filters.FilterSet):
    """The task list's filters (page and API): its state by the model's rules, kind, program, client."""

    state = django_filters.ChoiceFilter(
        choices=TASK_STATES, method="filter_state", label=_("State"), empty_label=_("All")
    )
    kind = django_filters.ChoiceFilter(choices=TaskKind.choices, label=_("Kind"), empty_label=_("All"))
    client = IdFilter(field_name="client")

    class Meta:
        model = FollowUpTask
        fields = ["program", "kind", "client", "assignee"]

    @property
    def is_active(self) -> bool:
        """A filter other than the default state is in use (the filter box opens)."""
        data = self.data or {}
        return any(data.get(name) for name in self.filters if name != "state") or data.get("state") not in (
            None,
            "open",
        )

    def filter_state(self, queryset: FollowUpTaskQuerySet, name: str, value: str) -> FollowUpTaskQuerySet:
        if value == "overdue":
            return queryset.overdue(now=timezone.now())
        if value == "escalated":
            return queryset.escalated()
        return queryset.done() if value == "done" else queryset.open()
