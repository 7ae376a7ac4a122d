from __future__ import annotations

from django.contrib import admin
from django.forms import ModelForm
from django.http import HttpRequest

from base.admin import ScopedAdmin
from sessions.models import Attendance, FeedbackItem, PeerSession, ProgramSessionRules
from sessions.services import program_session_rules_save


class AttendanceInline(admin.TabularInline):
    model = Attendance
    extra = 0
    raw_id_fields = ["client"]


@admin.register(PeerSession)
class PeerSessionAdmin(ScopedAdmin):
    list_display = ["start", "kind", "modality", "supporter", "status", "signed_at", "entered_late"]
    # The note is read on the session page, where its readers are checked; the admin never shows it.
    exclude = ["narrative"]
    list_filter = ["kind", "modality", "status"]
    inlines = [AttendanceInline]
    show_full_result_count = False

    def has_change_permission(self, request: HttpRequest, obj: PeerSession | None = None) -> bool:
        # Coordinators read sessions but never edit another person's record.
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(FeedbackItem)
class FeedbackItemAdmin(ScopedAdmin):
    """Read-only: feedback is sent, acknowledged and answered only through the services."""

    list_display = ["created_at", "category", "urgency", "is_emergency", "acknowledged_at", "escalated_at"]
    list_filter = ["category", "urgency", "is_emergency"]
    exclude = ["text", "emergency_justification"]
    show_full_result_count = False

    def has_change_permission(self, request: HttpRequest, obj: FeedbackItem | None = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ProgramSessionRules)
class ProgramSessionRulesAdmin(ScopedAdmin):
    list_display = [
        "program",
        "unit_minutes",
        "partial_unit_min_minutes",
        "daily_unit_cap",
        "units_need_signed_note",
        "text_sessions_billable",
    ]

    def save_model(self, request: HttpRequest, obj: ProgramSessionRules, form: ModelForm, change: bool) -> None:
        # Through the service, so every attendance's billing follows the new rules.
        fields = {name: getattr(obj, name) for name in form.changed_data if name != "program"}
        obj.pk = program_session_rules_save(program=obj.program, fields=fields).pk
