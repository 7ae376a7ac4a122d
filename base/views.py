"""Page pieces more than one room uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from core.exceptions import apply_errors


def contact_settings_page(
    request: HttpRequest,
    *,
    form: forms.ModelForm,
    save: Callable[[dict[str, Any]], Any],
    title: str,
    back: str,
    back_label: str,
) -> HttpResponse:
    """A person's contact preferences (a staff member's own, a client's): the fields changed go
    to `save` (the room's service); its ValidationError shows on the form; back to `back` when saved."""
    if form.is_bound and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            if fields:
                save(fields)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Contact preferences saved.") if fields else _("Nothing changed."))
            return redirect(back)
    context = {"form": form, "title": title, "back": back, "back_label": back_label}
    return render(request, "contact_settings.html", context)
