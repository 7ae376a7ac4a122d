"""Forms for the session log and feedback pages. The rules live in sessions.services;
these only shape the input."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from base.forms import CONTACT_FIELDS, CONTACT_WIDGETS
from clients.models import Client, Clinician
from core.models import StaffContact
from sessions.models import (
    MAX_SERIES_OCCURRENCES,
    AttendanceStatus,
    FeedbackCategory,
    Modality,
    PeerSession,
    Recurrence,
    SessionKind,
    SessionStatus,
    Topic,
    Urgency,
    session_status_for,
)

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
WELLBEING_CHOICES = [("", "—"), *[(str(n), str(n)) for n in range(1, 6)]]


class PeerSessionForm(forms.Form):
    """A session as a supporter logs it on a phone. The routine one-to-one needs: the client
    (picked from the caseload, most recently seen first), how it went (completed unless said
    otherwise), how (in person asks where), when, how long and the note. The session's status
    follows from the attendance (sessions.models.session_status_for) unless chosen under "More",
    with the topics, goals addressed and next steps. A group counts its drop-in attendees."""

    kind = forms.ChoiceField(label=_("Session"), choices=SessionKind.choices, widget=forms.RadioSelect)
    clients = forms.MultipleChoiceField(label=_("Who"), required=False, widget=forms.CheckboxSelectMultiple)
    dropin_count = PeerSession._meta.get_field("dropin_count").formfield(
        required=False,
        label=_("Drop-in attendees without a client record"),
        help_text=_("A number only: no names, not billed, not counted as clients."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    start = forms.DateTimeField(
        label=_("Started"),
        input_formats=[DATETIME_LOCAL],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    duration_minutes = forms.IntegerField(
        label=_("Minutes"), min_value=1, max_value=720, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )
    modality = forms.ChoiceField(label=_("How"), choices=Modality.choices, widget=forms.RadioSelect)
    status = forms.ChoiceField(
        label=_("Session status"),
        choices=[("", _("From the attendance (held; cancelled if everyone cancelled)")), *SessionStatus.choices],
        required=False,
    )
    location = forms.CharField(label=_("Where"), max_length=200, required=False)
    topics = forms.MultipleChoiceField(
        label=_("Topics"), choices=Topic.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    goals_addressed = forms.CharField(
        label=_("Goals addressed"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    narrative = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    next_steps = forms.CharField(label=_("Next steps"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, clients: list[Client], now: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.caseload = clients
        self.now = now
        cast(forms.MultipleChoiceField, self.fields["clients"]).choices = [(str(c.pk), c.full_name) for c in clients]
        for client in clients:
            self.fields[f"attendance_{client.pk}"] = forms.ChoiceField(
                label=_("How it went"), choices=AttendanceStatus.choices, required=False
            )
            self.fields[f"wellbeing_{client.pk}"] = forms.TypedChoiceField(
                label=_("Wellbeing (1–5)"),
                choices=WELLBEING_CHOICES,
                required=False,
                coerce=int,
                empty_value=None,
            )
            self.initial.setdefault(f"attendance_{client.pk}", AttendanceStatus.COMPLETED)

    def client_rows(self) -> list[tuple[Client, forms.BoundField, forms.BoundField, bool]]:
        chosen = {str(v) for v in (self["clients"].value() or [])}
        return [(c, self[f"attendance_{c.pk}"], self[f"wellbeing_{c.pk}"], str(c.pk) in chosen) for c in self.caseload]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("modality") and data["modality"] != Modality.IN_PERSON:
            data["location"] = ""  # a call, a video or a text has no room
        if data.get("kind") != SessionKind.GROUP or not data.get("dropin_count"):
            data["dropin_count"] = 0
        status = data.get("status")
        for client_id in data.get("clients") or []:
            # A chosen client whose attendance was left open attended, unless the session is booked.
            if not data.get(f"attendance_{client_id}"):
                scheduled = status == SessionStatus.SCHEDULED
                data[f"attendance_{client_id}"] = (
                    AttendanceStatus.SCHEDULED if scheduled else AttendanceStatus.COMPLETED
                )
        if not status and data.get("start"):
            data["status"] = session_status_for(
                start=data["start"],
                attendance_statuses=[data[f"attendance_{c}"] for c in data.get("clients") or []],
                now=self.now,
            )
        return data

    def attendances(self) -> list[dict[str, Any]]:
        chosen = set(self.cleaned_data.get("clients") or [])
        return [
            {
                "client": c,
                "status": self.cleaned_data[f"attendance_{c.pk}"],
                "wellbeing": self.cleaned_data.get(f"wellbeing_{c.pk}"),
            }
            for c in self.caseload
            if str(c.pk) in chosen
        ]

    def session_fields(self) -> dict[str, Any]:
        names = [
            "kind",
            "start",
            "duration_minutes",
            "modality",
            "status",
            "location",
            "dropin_count",
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
                "dropin_count",
                "topics",
                "goals_addressed",
                "next_steps",
            ]
        }
        initial["narrative"] = session.narrative or ""
        initial["clients"] = [str(a.client_id) for a in session.attendances.all()]
        for attendance in session.attendances.all():
            initial[f"attendance_{attendance.client_id}"] = attendance.status
            initial[f"wellbeing_{attendance.client_id}"] = attendance.wellbeing
        return initial


def initial_from_draft(form: forms.Form, fields: dict[str, list[str]]) -> dict[str, Any]:
    """A draft's fields ({name: [values]}, as a browser submits them) as the form's initial
    values: a list for a multiple choice, the value for any other field; unknown names dropped."""
    initial: dict[str, Any] = {}
    for name, field in form.fields.items():
        if name in fields and fields[name]:
            multiple = isinstance(field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField)
            initial[name] = fields[name] if multiple else fields[name][0]
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


class SessionSeriesForm(forms.Form):
    """Book sessions ahead on a rule (sessions.services.session_series_save): who, how, the first
    date and its local time, how often, and when it ends."""

    kind = forms.ChoiceField(label=_("Session"), choices=SessionKind.choices, widget=forms.RadioSelect)
    clients = forms.MultipleChoiceField(label=_("Who"), widget=forms.CheckboxSelectMultiple)
    modality = forms.ChoiceField(label=_("How"), choices=Modality.choices, widget=forms.RadioSelect)
    recurrence = forms.ChoiceField(label=_("How often"), choices=Recurrence.choices)
    starts_on = forms.DateField(label=_("First date"), widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(
        label=_("Time"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("In the program's time zone; it stays the same when the clocks change."),
    )
    duration_minutes = forms.IntegerField(
        label=_("Minutes"), min_value=1, max_value=720, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )
    count = forms.IntegerField(
        label=_("Number of sessions"),
        min_value=1,
        max_value=MAX_SERIES_OCCURRENCES,
        required=False,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    ends_on = forms.DateField(
        label=_("Or the last date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    location = forms.CharField(label=_("Where"), max_length=200, required=False)
    video_url = forms.CharField(
        label=_("Video link"),
        max_length=500,
        required=False,
        help_text=_("Any https:// link, or leave empty for a room on the program's meeting server (if it has one)."),
    )

    def __init__(self, *args: Any, clients: list[Client], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client_objects = {str(c.pk): c for c in clients}
        clients_field = self.fields["clients"]
        assert isinstance(clients_field, forms.MultipleChoiceField)
        clients_field.choices = [(str(c.pk), c.full_name) for c in clients]

    def series_clients(self) -> list[Client]:
        return [self.client_objects[pk] for pk in self.cleaned_data["clients"]]

    def series_fields(self) -> dict[str, Any]:
        names = ["kind", "modality", "recurrence", "starts_on", "start_time", "duration_minutes", "count", "ends_on"]
        fields = {name: self.cleaned_data[name] for name in names}
        fields["location"] = self.cleaned_data["location"] or ""
        fields["video_url"] = self.cleaned_data["video_url"] or ""
        return fields
