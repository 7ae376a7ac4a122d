"""FilterSets for the pages. Every choice list is limited to what the user may see:
a dropdown of all supporters would itself leak names across programs."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Program, Site
from clients.models import Client
from sessions.filters import PeerSessionFilter
from supporters.models import Supporter


class ClientPageFilter(django_filters.FilterSet):
    program = django_filters.ModelChoiceFilter(queryset=Program.objects.none(), label=_("Program"))
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.none(), label=_("Site"))

    class Meta:
        model = Client
        fields = ["program", "site"]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["program"].queryset = Program.objects.visible_to(user).order_by("name")
        # Sites are listed to coordinators only (Site.visible_to); others filter by program.
        self.filters["site"].queryset = Site.objects.visible_to(user).order_by("name")


class SupporterPageFilter(django_filters.FilterSet):
    program = django_filters.ModelChoiceFilter(queryset=Program.objects.none(), label=_("Program"))
    is_active = django_filters.BooleanFilter(label=_("Active"))

    class Meta:
        model = Supporter
        fields = ["program", "is_active"]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["program"].queryset = Program.objects.visible_to(user).order_by("name")


class SessionPageFilter(PeerSessionFilter):
    """The API's FilterSet, with choice lists scoped to the user and date pickers for dates."""

    start_after = django_filters.DateFilter(
        field_name="start", lookup_expr="date__gte", label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    start_before = django_filters.DateFilter(
        field_name="start", lookup_expr="date__lte", label=_("To"), widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta(PeerSessionFilter.Meta):
        fields = ["program", "supporter", "modality", "kind", "status"]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["program"].queryset = Program.objects.visible_to(user).order_by("name")
        self.filters["supporter"].queryset = Supporter.objects.visible_to(user).order_by("last_name", "first_name")
        # `client` (an id) stays as a filter, reached by a link from the client page;
        # the form on the page does not offer it as a field.
