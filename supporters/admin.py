from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from base.admin import ScopedAdmin
from supporters.models import Certification, CredentialType, ProgramPolicy, Supporter
from supporters.services import certification_save, credential_type_save, program_policy_save, supporter_save


class CertificationInline(admin.TabularInline):
    model = Certification
    extra = 0


@admin.register(Supporter)
class SupporterAdmin(ScopedAdmin):
    """The model form runs Supporter's rules (language codes, site in the program) and each
    certification's (expiry on or after issue), as supporters.services does."""

    list_display = ["last_name", "first_name", "external_id", "program", "max_caseload", "is_active"]
    search_fields = ["last_name", "first_name", "external_id"]
    inlines = [CertificationInline]
    show_full_result_count = False

    def save_model(self, request: HttpRequest, obj: Supporter, form: forms.ModelForm, change: bool) -> None:
        supporter_save(supporter=obj, fields={})

    def save_formset(
        self, request: HttpRequest, form: forms.ModelForm, formset: forms.BaseModelFormSet, change: bool
    ) -> None:
        """Credentials typed in the inline go through certification_save like the API's (its
        rules, the billing that follows the credential, the audit record)."""
        if formset.model is not Certification:
            super().save_formset(request, form, formset, change)
            return
        for certification in formset.save(commit=False):
            certification_save(certification=certification, fields={})
        for certification in formset.deleted_objects:
            certification.delete()


@admin.register(CredentialType)
class CredentialTypeAdmin(ScopedAdmin):
    """Rules live in CredentialType.clean(), which the admin form runs like the service does."""

    list_display = ["name", "kind", "issuing_body", "renewal_period_months", "ce_hours_required", "program"]

    def save_model(self, request: HttpRequest, obj: CredentialType, form: forms.ModelForm, change: bool) -> None:
        credential_type_save(credential_type=obj, fields={})


@admin.register(ProgramPolicy)
class ProgramPolicyAdmin(ScopedAdmin):
    list_display = [
        "program",
        "lapsed_credential_policy",
        "supervision_hours_per_month",
        "max_supervisees_per_supervisor",
        "outcome_interval_days",
        "no_contact_days",
    ]

    def save_model(self, request: HttpRequest, obj: ProgramPolicy, form: forms.ModelForm, change: bool) -> None:
        fields = {name: getattr(obj, name) for name in form.changed_data if name != "program"}
        obj.pk = program_policy_save(program=obj.program, fields=fields).pk
