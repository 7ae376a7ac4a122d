from django.contrib import admin

from accounts.admin import ScopedAdmin
from clients.models import CaseloadAssignment, Client, ClinicalAppointment, Clinician, Resource


@admin.register(Clinician)
class ClinicianAdmin(ScopedAdmin):
    list_display = ["last_name", "first_name", "discipline", "program"]
    search_fields = ["last_name", "external_id"]


@admin.register(Client)
class ClientAdmin(ScopedAdmin):
    list_display = ["last_name", "first_name", "external_id", "program"]
    search_fields = ["last_name", "external_id"]
    filter_horizontal = ["care_team"]
    show_full_result_count = False


@admin.register(CaseloadAssignment)
class CaseloadAssignmentAdmin(ScopedAdmin):
    list_display = ["client", "supporter", "role", "start_date", "end_date"]
    program_path = "client__program_id"
    raw_id_fields = ["client"]
    show_full_result_count = False

    def save_model(self, request, obj, form, change):  # noqa: ANN001, ANN201 - admin signature
        from clients.services import assignment_save

        assignment_save(assignment=obj)


@admin.register(ClinicalAppointment)
class ClinicalAppointmentAdmin(ScopedAdmin):
    list_display = ["start", "kind", "status", "client"]
    list_filter = ["kind", "status"]
    raw_id_fields = ["client"]
    show_full_result_count = False


@admin.register(Resource)
class ResourceAdmin(ScopedAdmin):
    """The community resource directory (not people's data); rules in Resource.clean()."""

    list_display = ["name", "category", "phone", "is_crisis_line", "is_active", "program"]
    list_filter = ["category", "is_crisis_line", "is_active"]
    search_fields = ["name"]
