import django_filters
from django.db.models import Q

from sessions.models import (
    FeedbackCategory,
    FeedbackItem,
    Modality,
    PeerSession,
    SessionKind,
    SessionStatus,
    Urgency,
)


class PeerSessionFilter(django_filters.FilterSet):
    start_after = django_filters.IsoDateTimeFilter(field_name="start", lookup_expr="gte")
    start_before = django_filters.IsoDateTimeFilter(field_name="start", lookup_expr="lt")
    client = django_filters.NumberFilter(field_name="attendances__client", distinct=True)
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

    def filter_escalated(self, queryset, name, value):  # noqa: ANN001, ANN201 - django-filter signature
        """The coordinators' worklist: overdue items still waiting for acknowledgment."""
        escalated = Q(escalated_at__isnull=False, acknowledged_at__isnull=True)
        return queryset.filter(escalated) if value else queryset.exclude(escalated)
