"""Admin pages: the model form runs the model's rules (field validators, clean(), constraints);
the forms below add the service's rules that need other rows, so a refusal is a form error."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from base.admin import ScopedAdmin
from clients import services
from clients.models import CaseloadAssignment, Client, ClinicalAppointment, Clinician, Resource


@admin.register(Clinician)
class ClinicianAdmin(ScopedAdmin):
    list_display = ["last_name", "first_name", "discipline", "program"]
    search_fields = ["last_name", "external_id"]


class ClientAdminForm(forms.ModelForm):
    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]  # (not in django-stubs) Client's field validators and clean(): language, site, date of birth
        if "care_team" in self.cleaned_data and self.instance.program_id is not None:
            try:
                self.instance.validate_care_team(self.cleaned_data["care_team"])
            except ValidationError as exc:
                self._update_errors(exc)  # type: ignore[attr-defined]  # not in django-stubs


@admin.register(Client)
class ClientAdmin(ScopedAdmin):
    form = ClientAdminForm
    list_display = ["last_name", "first_name", "external_id", "program"]
    search_fields = ["last_name", "external_id"]
    filter_horizontal = ["care_team"]
    show_full_result_count = False

    def save_model(self, request: HttpRequest, obj: Client, form: forms.ModelForm, change: bool) -> None:
        # The care team is saved after this by save_related(), as the admin does for any many-to-many.
        services.client_save(client=obj)


class CaseloadAssignmentAdminForm(forms.ModelForm):
    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]  # (not in django-stubs) CaseloadAssignment.clean(): the end date on or after the start
        if not self.errors:
            try:
                services.assignment_validate(self.instance)
            except ValidationError as exc:
                self._update_errors(exc)  # type: ignore[attr-defined]  # not in django-stubs


@admin.register(CaseloadAssignment)
class CaseloadAssignmentAdmin(ScopedAdmin):
    form = CaseloadAssignmentAdminForm
    list_display = ["client", "supporter", "role", "start_date", "end_date"]
    program_path = "client__program_id"
    raw_id_fields = ["client"]
    show_full_result_count = False

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> None:
        services.assignment_save(assignment=obj)


@admin.register(ClinicalAppointment)
class ClinicalAppointmentAdmin(ScopedAdmin):
    list_display = ["start", "kind", "status", "client"]
    list_filter = ["kind", "status"]
    raw_id_fields = ["client"]
    show_full_result_count = False


@admin.register(Resource)
class ResourceAdmin(ScopedAdmin):
    """The community resource directory (not people's data); rules on the model (language codes,
    Resource.clean())."""

    list_display = ["name", "category", "phone", "is_crisis_line", "is_active", "program"]
    list_filter = ["category", "is_crisis_line", "is_active"]
    search_fields = ["name"]

    def save_model(self, request: HttpRequest, obj: Resource, form: forms.ModelForm, change: bool) -> None:
        services.resource_save(resource=obj, fields={})
