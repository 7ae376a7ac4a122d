from django.contrib import admin

from accounts.admin import ScopedAdmin
from sessions.models import Attendance, PeerSession


class AttendanceInline(admin.TabularInline):
    model = Attendance
    extra = 0
    raw_id_fields = ["client"]


@admin.register(PeerSession)
class PeerSessionAdmin(ScopedAdmin):
    list_display = ["start", "kind", "modality", "supporter", "status"]
    list_filter = ["kind", "modality", "status"]
    inlines = [AttendanceInline]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):  # noqa: ANN001, ANN201 - admin signature
        # Coordinators read sessions but never edit another person's record.
        return False

    def has_add_permission(self, request):  # noqa: ANN001, ANN201
        return False
