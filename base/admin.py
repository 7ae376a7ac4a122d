"""Admin pages scoped exactly like the API: lists come from visible_to(), and
changes need the coordinator role in the object's program."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db import models
from django.http import HttpRequest

from audit import actions
from audit.records import audit_record, audit_write
from base.services import membership_designate_emergency
from core.models import Membership, Organization, Program, Site, User
from core.scoping import role_program_ids


class ScopedAdmin(admin.ModelAdmin):
    """Base for every admin page that shows people's data."""

    program_path = "program_id"

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return self.model.objects.visible_to(request.user)

    def _coordinates_any(self, request: HttpRequest) -> bool:
        return bool(role_program_ids(request.user).coordinator)

    def _coordinates(self, request: HttpRequest, obj: models.Model | None) -> bool:
        if obj is None:
            return self._coordinates_any(request)
        program_id = obj
        for part in self.program_path.split("__"):
            program_id = getattr(program_id, part)
        return program_id in role_program_ids(request.user).coordinator

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._coordinates_any(request)

    # --- audit: admin lists, views and saves go to the same trail as the API ---
    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl") if response.status_code == 200 else None
        if changelist is not None:
            audit_record(
                action=actions.code_for(self.model, actions.LISTED),
                request=request,
                objects=list(changelist.result_list),
                object_type=self.model._meta.label_lower,
            )
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> Any:
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            obj = getattr(response, "context_data", {}).get("original")
            if obj is not None:
                audit_record(action=actions.code_for(obj, actions.VIEWED), request=request, obj=obj)
        return response

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Records without a service of their own are saved, and recorded, here; admins whose
        records have a service override this to call it (the service records the write)."""
        obj.save()
        audit_write(obj, actions.UPDATED if change else actions.CREATED)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._coordinates(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._coordinates_any(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._coordinates(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def formfield_for_foreignkey(self, db_field: models.ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        related: Any = db_field.related_model  # a model class once the apps are loaded
        if related is Program:
            # Records are only created in programs the user coordinates.
            kwargs["queryset"] = Program.objects.filter(id__in=role_program_ids(request.user).coordinator)
        elif hasattr(related.objects, "visible_to"):
            kwargs["queryset"] = related.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: models.ManyToManyField, request: HttpRequest, **kwargs: Any) -> Any:
        related: Any = db_field.related_model  # a model class once the apps are loaded
        if hasattr(related.objects, "visible_to"):
            kwargs["queryset"] = related.objects.visible_to(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(Program)
class ProgramAdmin(ScopedAdmin):
    list_display = ["name", "slug", "timezone", "is_part2_program"]
    program_path = "id"

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return Program.objects.filter(id__in=role_program_ids(request.user).coordinator)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser


@admin.register(Site)
class SiteAdmin(ScopedAdmin):
    list_display = ["name", "external_id", "program"]


@admin.action(description="Designate for emergency access")
def designate_emergency(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: models.QuerySet) -> None:
    assert request.user.is_authenticated  # the admin signs its users in first
    for membership in queryset:
        membership_designate_emergency(membership=membership, allowed=True, by=request.user)


@admin.action(description="Remove emergency access designation")
def undesignate_emergency(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: models.QuerySet) -> None:
    assert request.user.is_authenticated  # the admin signs its users in first
    for membership in queryset:
        membership_designate_emergency(membership=membership, allowed=False, by=request.user)


@admin.register(Membership)
class MembershipAdmin(ScopedAdmin):
    list_display = ["user", "program", "role", "emergency_access"]
    list_filter = ["role", "emergency_access"]
    actions = [designate_emergency, undesignate_emergency]

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return Membership.objects.filter(program_id__in=role_program_ids(request.user).coordinator)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Roles change through the API or the command line, which keep guardian in step.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.register(Organization)
admin.site.register(User, UserAdmin)
