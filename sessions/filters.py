import django_filters

from sessions.models import Modality, PeerSession, SessionKind, SessionStatus


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
