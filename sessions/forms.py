"""Forms for the session log and feedback pages. The rules live in sessions.services;
these only shape the input."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from base.forms import CONTACT_FIELDS, CONTACT_WIDGETS
from clients.models import Client, Clinician
from core.models import StaffContact
from sessions.models import (
    AttendanceStatus,
    FeedbackCategory,
    Modality,
    PeerSession,
    SessionKind,
    SessionStatus,
    Topic,
    Urgency,
)

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
WELLBEING_CHOICES = [("", "—"), *[(str(n), str(n)) for n in range(1, 6)]]


class PeerSessionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Session"), choices=SessionKind.choices, widget=forms.RadioSelect)
    start = forms.DateTimeField(
        label=_("Started"),
        input_formats=[DATETIME_LOCAL],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    duration_minutes = forms.IntegerField(
        label=_("Minutes"), min_value=1, max_value=720, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )
    modality = forms.ChoiceField(label=_("How"), choices=Modality.choices)
    status = forms.ChoiceField(label=_("Status"), choices=SessionStatus.choices, initial=SessionStatus.HELD)
    location = forms.CharField(label=_("Where"), max_length=200, required=False)
    topics = forms.MultipleChoiceField(
        label=_("Topics"), choices=Topic.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    goals_addressed = forms.CharField(
        label=_("Goals addressed"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    narrative = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 5}))
    next_steps = forms.CharField(label=_("Next steps"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, clients: list[Client], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clients = clients
        status_choices = [("", "—"), *AttendanceStatus.choices]
        for client in clients:
            self.fields[f"attendance_{client.pk}"] = forms.ChoiceField(
                label=client.full_name, choices=status_choices, required=False
            )
            self.fields[f"wellbeing_{client.pk}"] = forms.TypedChoiceField(
                label=_("Wellbeing (1–5)"),
                choices=WELLBEING_CHOICES,
                required=False,
                coerce=int,
                empty_value=None,
            )

    def attendance_rows(self) -> list[tuple[Client, forms.BoundField, forms.BoundField]]:
        return [(c, self[f"attendance_{c.pk}"], self[f"wellbeing_{c.pk}"]) for c in self.clients]

    def attendances(self) -> list[dict[str, Any]]:
        return [
            {
                "client": c,
                "status": self.cleaned_data[f"attendance_{c.pk}"],
                "wellbeing": self.cleaned_data.get(f"wellbeing_{c.pk}"),
            }
            for c in self.clients
            if self.cleaned_data.get(f"attendance_{c.pk}")
        ]

    def session_fields(self) -> dict[str, Any]:
        names = [
            "kind",
            "start",
            "duration_minutes",
            "modality",
            "status",
            "location",
            "topics",
            "goals_addressed",
            "narrative",
            "next_steps",
        ]
        return {name: self.cleaned_data[name] for name in names}

    @classmethod
    def initial_from(cls, session: PeerSession) -> dict[str, Any]:
        initial = {
            name: getattr(session, name)
            for name in [
                "kind",
                "start",
                "duration_minutes",
                "modality",
                "status",
                "location",
                "topics",
                "goals_addressed",
                "next_steps",
            ]
        }
        initial["narrative"] = session.narrative or ""
        for attendance in session.attendances.all():
            initial[f"attendance_{attendance.client_id}"] = attendance.status
            initial[f"wellbeing_{attendance.client_id}"] = attendance.wellbeing
        return initial


class AddendumForm(forms.Form):
    text = forms.CharField(label=_("Addendum"), widget=forms.Textarea(attrs={"rows": 3}))


class FeedbackForm(forms.Form):
    recipients = forms.ModelMultipleChoiceField(
        label=_("To"), queryset=Clinician.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    category = forms.ChoiceField(label=_("About"), choices=FeedbackCategory.choices)
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, initial=Urgency.ROUTINE)
    text = forms.CharField(label=_("What the clinician should know"), widget=forms.Textarea(attrs={"rows": 5}))
    emergency_justification = forms.CharField(
        label=_("Emergency justification (only for an immediate safety item without consent)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, clinicians: QuerySet[Clinician], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelMultipleChoiceField, self.fields["recipients"]).queryset = clinicians


class ReplyForm(forms.Form):
    text = forms.CharField(label=_("Reply"), widget=forms.Textarea(attrs={"rows": 3}))


class RespondForm(forms.Form):
    """The inbox's one step: acknowledge, and reply when there is something to say."""

    text = forms.CharField(
        label=_("Reply (optional)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class StaffContactForm(forms.ModelForm):
    """A staff member's own contact preferences; saved through base.services.staff_contact_save."""

    language = forms.ChoiceField(label=_("Language of e-mails and texts"), required=False)

    class Meta:
        model = StaffContact
        fields = ["language", *CONTACT_FIELDS]
        widgets = CONTACT_WIDGETS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["language"]).choices = [("", _("The site's language")), *settings.LANGUAGES]
