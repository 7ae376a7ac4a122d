"""Forms for the client program pages (characteristics, goals, outcome measures, referrals)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from base.forms import CONTACT_FIELDS, CONTACT_WIDGETS
from clients.characteristics import CHARACTERISTICS, NOT_ASKED_LABEL, QUESTIONS, SINGLE_CHOICE
from clients.models import ClientContact, ContactRhythm, GoalDomain, GoalStatus, ReferralOutcome, ReferralStatus

DATE = forms.DateInput(attrs={"type": "date"})


class CharacteristicsForm(forms.Form):
    """The client's self-reported answers; nothing chosen is "not asked". The rules (declined
    alone, the codes) are the model's, applied by clients.services.client_save."""

    race_ethnicity = forms.MultipleChoiceField(
        label=QUESTIONS["race_ethnicity"],
        choices=CHARACTERISTICS["race_ethnicity"].choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Tick every answer the client gave; none ticked means not asked."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in SINGLE_CHOICE:
            self.fields[name] = forms.ChoiceField(
                label=QUESTIONS[name], choices=[("", NOT_ASKED_LABEL), *CHARACTERISTICS[name].choices], required=False
            )


class GoalForm(forms.Form):
    goal = forms.CharField(label=_("Goal, in the client's words"), widget=forms.Textarea(attrs={"rows": 2}))
    domain = forms.ChoiceField(label=_("Life area"), choices=GoalDomain.choices)
    steps = forms.CharField(label=_("Steps (one per line)"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    target_date = forms.DateField(label=_("Target date"), required=False, widget=DATE)


class GoalUpdateForm(forms.Form):
    goal_id = forms.IntegerField(widget=forms.HiddenInput)
    status = forms.ChoiceField(label=_("Status"), choices=GoalStatus.choices)
    note = forms.CharField(label=_("Progress note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    peer_session = forms.TypedChoiceField(
        label=_("From session (optional)"), coerce=int, required=False, empty_value=None
    )


class MeasureForm(forms.Form):
    # Chosen on the page above the form (GET ?instrument=), since the items depend on it.
    instrument = forms.TypedChoiceField(label=_("Instrument"), coerce=int, widget=forms.HiddenInput)
    administered_on = forms.DateField(label=_("Date"), widget=DATE)

    def __init__(
        self,
        *args: Any,
        item_count: int = 10,
        item_min: int = 1,
        item_max: int = 6,
        labels: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        choices = [(str(v), str(v)) for v in range(item_min, item_max + 1)]
        for n in range(item_count):
            label = labels[n] if labels and n < len(labels) else f"Item {n + 1}"
            self.fields[f"item_{n}"] = forms.TypedChoiceField(
                label=label, choices=choices, coerce=int, widget=forms.RadioSelect
            )


class ReferralForm(forms.Form):
    resource = forms.TypedChoiceField(label=_("Resource"), coerce=int)
    referred_on = forms.DateField(label=_("Referred on"), widget=DATE)
    reason = forms.CharField(label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    follow_up_on = forms.DateField(label=_("Follow up on"), required=False, widget=DATE)


class ReferralFollowUpForm(forms.Form):
    referral_id = forms.IntegerField(widget=forms.HiddenInput)
    status = forms.ChoiceField(label=_("Status"), choices=ReferralStatus.choices)
    outcome = forms.ChoiceField(label=_("Outcome (when closing)"), choices=ReferralOutcome.choices, required=False)
    follow_up_on = forms.DateField(label=_("Next follow-up"), required=False, widget=DATE)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ClientContactForm(forms.ModelForm):
    """How the client agreed to be reached; saved through clients.services.client_contact_save."""

    class Meta:
        model = ClientContact
        fields = ["email", *CONTACT_FIELDS]
        widgets = CONTACT_WIDGETS | {"email": forms.EmailInput()}


class CareRhythmForm(forms.Form):
    """The contact frequency agreed with the client; saved through clients.services.care_rhythm_set."""

    contact_every_days = forms.TypedChoiceField(
        label=_("Care rhythm agreed with the client"),
        choices=[("", _("The program's default")), *ContactRhythm.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
