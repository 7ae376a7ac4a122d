from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.models import SafetyPlan


class JoinForm(forms.Form):
    username = forms.CharField(label=_("Choose a username"), max_length=150)
    password1 = forms.CharField(
        label=_("Choose a password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 12 characters. A few words you will remember work well."),
    )
    password2 = forms.CharField(
        label=_("The same password again"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data


class SafetyPlanForm(forms.ModelForm):
    class Meta:
        model = SafetyPlan
        fields = list(SafetyPlan.STEPS)
        widgets = {name: forms.Textarea(attrs={"rows": 3}) for name in SafetyPlan.STEPS}
