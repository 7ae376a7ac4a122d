"""The pieces every API viewset shares: scoped querysets, scoped references and role checks.

Lists and details both start from `Model.objects.visible_to(user)`, so anything
outside the caller's scope is a 404. Writes additionally need one of the
viewset's `write_roles` in the program the object belongs to (403 otherwise:
the caller can already see the object, so nothing leaks); the declaration is
enforced by core.permissions.ProgramRolePermission, never by the viewsets.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import TYPE_CHECKING, Any, ClassVar, cast

from django.apps import apps
from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import IsAuthenticated

from audit import actions
from audit.records import audit_record, audit_write
from core.permissions import ProgramRolePermission
from core.timezones import LocalTimeError, local_to_aware


class ProgramLocalDateTimeField(serializers.DateTimeField):
    """Accepts ISO 8601 with or without an offset. Without one, the time is
    wall-clock time in the program's zone; the serializer's validate() calls
    `localize_in_program` once it knows the program."""

    def enforce_timezone(self, value: datetime) -> datetime:
        return value if value.tzinfo is None else super().enforce_timezone(value)


def localize_in_program(attrs: dict[str, Any], field: str, program: Any) -> None:
    value = attrs.get(field)
    if value is None or value.tzinfo is not None:
        return
    try:
        attrs[field] = local_to_aware(value, program.tzinfo)
    except LocalTimeError as exc:
        raise serializers.ValidationError({field: [str(exc)]}) from exc


# Ids are BigAutoField: a larger number given as an id is a 400, not an overflow in the driver.
MAX_ID = 2**63 - 1


def id_field(**kwargs: Any) -> serializers.IntegerField:
    """A record id given as a plain number (not looked up by the field itself)."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


@extend_schema_field(OpenApiTypes.INT)
class ScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference that only accepts objects the caller can see: anything else is
    'does not exist', the same answer as for an id that was never used."""

    def __init__(self, model: type[Any] | str, **kwargs: Any) -> None:
        """`model` has `objects.visible_to`; a label ("peer_sessions.PeerSession") names a
        model of a room above the serializer's, resolved when the field is used."""
        self.scoped_model = model
        super().__init__(**kwargs)

    def get_queryset(self) -> models.QuerySet:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        model = apps.get_model(self.scoped_model) if isinstance(self.scoped_model, str) else self.scoped_model
        return model.objects.visible_to(user)

    def use_pk_only_optimization(self) -> bool:
        return True


if TYPE_CHECKING:
    from datetime import datetime

    from core.request_types import AuthenticatedApiRequest

    _ViewSetBase = viewsets.GenericViewSet[Any]
else:
    _ViewSetBase = object


class ScopedMixin(_ViewSetBase):
    """Listed first in every viewset's bases so its perform_* run, not DRF's mixins'.

    `write_roles` declares every write action (create, update for PUT and PATCH, destroy,
    each non-GET @action) with the roles that may do it in the record's program, or
    core.permissions.WHOEVER_SEES_IT; an action left out is refused. Viewsets save a new
    record in `create_record`, never in `perform_create`, which holds the check."""

    model: ClassVar[type[Any]]  # a model whose objects have visible_to(user)
    permission_classes = [IsAuthenticated, ProgramRolePermission]
    request: AuthenticatedApiRequest  # IsAuthenticated is among the permissions
    # action -> roles that may do it, checked against the program of the record.
    write_roles: ClassVar[Mapping[str, Set[str]]] = {}

    def get_queryset(self) -> models.QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no real user
            return self.model.objects.none()
        return self.model.objects.visible_to(self.request.user)

    # --- audit: every successful call is one event (a list names the clients on its page) ---
    # What the read showed, noted where DRF loads it, for audit_read once the answer is final
    # (a view instance serves one request).
    _audit_object: models.Model | None = None
    _audit_page: list | None = None

    def get_object(self) -> Any:  # the viewset's model
        obj = super().get_object()
        self._audit_object = obj
        return obj

    def paginate_queryset(self, queryset: models.QuerySet) -> list | None:
        self._audit_page = super().paginate_queryset(queryset)
        return self._audit_page

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if (
            response.status_code < 400
            and request.user.is_authenticated
            and self.action
            and request.method in ("GET", "HEAD")
        ):
            self.audit_read(request)
        return response

    def audit_read(self, request: Any) -> None:
        """Every answered read is one event; a list names the clients on its page. Writes are
        recorded by the services that make them (create_record, update_record, perform_destroy)."""
        if self.detail:
            detail = {} if self.action == "retrieve" else {"view": self.action}
            audit_record(
                action=actions.code_for(self.model, actions.VIEWED),
                request=request,
                obj=self._audit_object,
                object_type=self.model._meta.label_lower,
                detail=detail,
            )
            return
        audit_record(
            action=actions.code_for(self.model, actions.LISTED),
            request=request,
            objects=self._audit_page or [],
            object_type=self.model._meta.label_lower,
            detail={} if self.action == "list" else {"view": self.action},
        )

    def program_id_of(self, *, instance: Any = None, data: Any = None) -> int:
        """Which program a write touches (of the record `instance`, or the validated `data` of a
        new one: one of them is given); views override when the path differs."""
        if instance is not None:
            return instance.program_id
        return data["program"].id

    def check_data_permissions(self, data: Mapping[str, Any]) -> None:
        """What DRF's check_object_permissions is for a record that does not exist yet: each
        permission that has a `has_data_permission` judges the validated data (its program).
        perform_create calls it; so does a list-level write action once its body is valid."""
        for permission in self.get_permissions():
            has_data_permission = getattr(permission, "has_data_permission", None)
            if has_data_permission is not None and not has_data_permission(self.request, self, data):
                self.permission_denied(self.request, message=getattr(permission, "message", None))

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        self.check_data_permissions(serializer.validated_data)
        self.create_record(serializer)

    def create_record(self, serializer: Any) -> None:  # the viewset's serializer
        """Save a new, valid record the caller may create; viewsets override this with their
        service, which records the write (audit.records.audit_write)."""
        audit_write(serializer.save(), actions.CREATED)

    # Updates and deletes were checked by get_object (ProgramRolePermission.has_object_permission).
    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        new_program = serializer.validated_data.get("program")
        assert serializer.instance is not None  # an update has its record
        if new_program is not None and new_program.id != serializer.instance.program_id:
            raise serializers.ValidationError({"program": ["A record cannot move between programs."]})
        self.update_record(serializer)

    def update_record(self, serializer: Any) -> None:  # the viewset's serializer
        """Save a valid change to a record that stays in its program; viewsets override this
        with their service, which records the write."""
        audit_write(serializer.save(), actions.UPDATED)

    def perform_destroy(self, instance: Any) -> None:  # the viewset's model
        audit_write(instance, actions.DELETED)
        instance.delete()


def attach_prefetched(parents: list[models.Model], related_name: str, queryset: models.QuerySet) -> None:
    """Load a reverse foreign key for a page of objects in one query and leave it where
    prefetch_related() would (`obj.<related_name>.all()` reads it, DRF's update clears it).

    prefetch_related() builds a filtered queryset per parent object to hold its rows; here each
    holder is a bare queryset, which on a 50-row page of sessions saves several milliseconds."""
    if not parents:
        return
    foreign_key = cast(models.ForeignObjectRel, type(parents[0])._meta.get_field(related_name)).field
    children: dict[Any, list[models.Model]] = {parent.pk: [] for parent in parents}
    by_pk = {parent.pk: parent for parent in parents}
    for child in queryset.filter(**{f"{foreign_key.name}__in": list(children)}):
        parent_pk = getattr(child, foreign_key.attname)
        foreign_key.set_cached_value(child, by_pk[parent_pk])
        children[parent_pk].append(child)
    for parent in parents:
        holder: models.QuerySet[Any] = models.QuerySet(model=queryset.model)
        holder._result_cache = children[parent.pk]
        holder._prefetch_done = True  # type: ignore[attr-defined]  # not in django-stubs
        parent.__dict__.setdefault("_prefetched_objects_cache", {})[related_name] = holder


def grouped_by(queryset: models.QuerySet, parent: str, *fields: str) -> dict[Any, list]:
    """`fields` of each row of a link table (or any child table), grouped by the `parent`
    column, in the queryset's order: one query instead of a many-to-many prefetch, which
    builds a queryset and model objects per parent. One field gives values, several tuples."""
    grouped: dict[Any, list] = {}
    for row in queryset.values_list(parent, *fields):
        grouped.setdefault(row[0], []).append(row[1] if len(fields) == 1 else row[1:])
    return grouped


class RowsListMixin(_ViewSetBase):
    """A list whose page rows are built by `list_rows(page)` instead of the serializer;
    each viewset using it has a test holding its rows equal to the detail representation."""

    def list_rows(self, page: list) -> list[dict]:
        raise NotImplementedError

    def list(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None  # every list is paged (DEFAULT_PAGINATION_CLASS)
        return self.get_paginated_response(self.list_rows(page))


class ReadWriteViewSet(
    ScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Health records are not deleted through the API; corrections are updates."""
