"""The audit trail in the admin: read-only, for coordinators of the programs named in each entry."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from audit.models import AuditEvent
from core.scoping import role_program_ids


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only, for coordinators of the programs named in each entry."""

    list_display = ["at", "username", "action", "object_type", "object_id", "emergency"]
    list_filter = ["emergency"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return AuditEvent.objects.visible_to(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(role_program_ids(request.user).coordinator)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
