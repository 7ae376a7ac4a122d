from django.contrib import admin

from accounts.admin import ScopedAdmin
from supporters.models import Certification, Supporter


class CertificationInline(admin.TabularInline):
    model = Certification
    extra = 0


@admin.register(Supporter)
class SupporterAdmin(ScopedAdmin):
    list_display = ["last_name", "first_name", "external_id", "program", "max_caseload", "is_active"]
    search_fields = ["last_name", "first_name", "external_id"]
    inlines = [CertificationInline]
    show_full_result_count = False
