import django_filters

from clients.models import AppointmentKind, AppointmentStatus, CaseloadAssignment, ClinicalAppointment


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

    def filter_active_on(self, queryset, name, value):  # noqa: ANN001, ANN201 - django-filter signature
        return queryset.active_on(value)
