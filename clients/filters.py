from __future__ import annotations

from typing import TYPE_CHECKING

import django_filters

from clients.models import AppointmentKind, AppointmentStatus, CaseloadAssignment, ClinicalAppointment

if TYPE_CHECKING:
    from datetime import date

    from clients.models import CaseloadAssignmentQuerySet


class ClinicalAppointmentFilter(django_filters.FilterSet):
    start_after = django_filters.IsoDateTimeFilter(field_name="start", lookup_expr="gte")
    start_before = django_filters.IsoDateTimeFilter(field_name="start", lookup_expr="lt")
    kind = django_filters.ChoiceFilter(choices=AppointmentKind.choices)
    status = django_filters.ChoiceFilter(choices=AppointmentStatus.choices)

    class Meta:
        model = ClinicalAppointment
        fields = ["program", "client", "clinician", "kind", "status"]


class CaseloadAssignmentFilter(django_filters.FilterSet):
    active_on = django_filters.DateFilter(method="filter_active_on")

    class Meta:
        model = CaseloadAssignment
        fields = ["client", "supporter", "role"]

    def filter_active_on(
        self, queryset: CaseloadAssignmentQuerySet, name: str, value: date
    ) -> CaseloadAssignmentQuerySet:
        return queryset.active_on(value)
