"""What every form of contact preferences shares (staff: sessions.forms; clients: clients.forms)."""

from __future__ import annotations

from django import forms

from base.services import CONTACT_FIELDS

TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
CONTACT_WIDGETS = {"quiet_start": TIME, "quiet_end": TIME, "phone": forms.TextInput(attrs={"type": "tel"})}

__all__ = ["CONTACT_FIELDS", "CONTACT_WIDGETS"]
