"""Forms for the program pages; the rules live in services, forms only parse input."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from supporters.models import SupervisionFormat


class CEHoursForm(forms.Form):
    certification = forms.TypedChoiceField(label=_("Credential"), coerce=int)
    category = forms.CharField(label=_("Category (e.g. ethics)"), max_length=40)
    hours = forms.DecimalField(label=_("Hours"), min_value=0.25, max_value=100, decimal_places=2)
    completed_on = forms.DateField(label=_("Completed on"), widget=forms.DateInput(attrs={"type": "date"}))
    title = forms.CharField(label=_("Training title"), max_length=200)
    provider = forms.CharField(label=_("Provider"), max_length=200, required=False)


class SupervisionForm(forms.Form):
    supervisor = forms.TypedChoiceField(label=_("Supervisor"), coerce=int)
    supervisees = forms.TypedMultipleChoiceField(
        label=_("Supporters supervised"), coerce=int, widget=forms.CheckboxSelectMultiple
    )
    held_on = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    duration_minutes = forms.IntegerField(label=_("Minutes"), min_value=5, max_value=480)
    format = forms.ChoiceField(label=_("Format"), choices=SupervisionFormat.choices)
    topics = forms.CharField(
        label=_("Topics (no client names)"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


class LivedExperienceForm(forms.Form):
    areas = forms.MultipleChoiceField(
        label=_("Areas I choose to share"), required=False, widget=forms.CheckboxSelectMultiple
    )


class AssignForm(forms.Form):
    supporter = forms.TypedChoiceField(label=_("Supporter"), coerce=int, widget=forms.RadioSelect)
    start_date = forms.DateField(label=_("Starts on"), widget=forms.DateInput(attrs={"type": "date"}))
    handoff_note = forms.CharField(
        label=_("Hand-off note (needed when transferring)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class ClientPreferenceForm(forms.Form):
    requested_lived_experience = forms.MultipleChoiceField(
        label=_("Lived experience the client asked for in a supporter"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
