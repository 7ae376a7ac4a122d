"""Which programs a user holds each role in: the root of every scoped queryset.

Role grants are django-guardian object permissions on the Program (direct
foreign-key table), read in one query, remembered for the rest of the request
(core.request_cache) and never longer, so a revoked role or a reassignment
takes effect on the next request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.http import Http404
from django.shortcuts import get_object_or_404

from core.models import ROLE_PERMISSION, Program, ProgramUserObjectPermission, Role
from core.request_cache import memoised

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.models import User

_CODENAME_ROLE = {codename: role for role, codename in ROLE_PERMISSION.items()}


@dataclass(frozen=True)
class RolePrograms:
    coordinator: frozenset[int] = field(default_factory=frozenset)
    supporter: frozenset[int] = field(default_factory=frozenset)
    clinician: frozenset[int] = field(default_factory=frozenset)
    funder: frozenset[int] = field(default_factory=frozenset)

    def any(self) -> frozenset[int]:
        return self.coordinator | self.supporter | self.clinician | self.funder

    def for_role(self, role: str) -> frozenset[int]:
        return getattr(self, str(role))

    def roles_in(self, program_id: int) -> set[str]:
        return {role.value for role in Role if program_id in self.for_role(role.value)}


def role_program_ids(user: User | AnonymousUser | None) -> RolePrograms:
    if user is None or not user.is_authenticated or not user.is_active:
        return RolePrograms()
    return memoised(("role_program_ids", user.pk), lambda: _read_role_program_ids(user.pk))


def _read_role_program_ids(user_id: int) -> RolePrograms:
    found: dict[str, set[int]] = {role.value: set() for role in Role}
    rows = ProgramUserObjectPermission.objects.filter(
        user_id=user_id, permission__codename__in=list(_CODENAME_ROLE)
    ).values_list("content_object_id", "permission__codename")
    for program_id, codename in rows:
        found[_CODENAME_ROLE[codename].value].add(program_id)
    return RolePrograms(**{role: frozenset(ids) for role, ids in found.items()})


def has_role(user: User | AnonymousUser | None, program_id: int, role: str) -> bool:
    return program_id in role_program_ids(user).for_role(role)


def coordinator_programs_or_404(user: Any) -> frozenset[int]:
    """The programs the user coordinates, for pages only coordinators have: 404 for anyone
    else, so the page's existence is not confirmed to them."""
    programs = role_program_ids(user).coordinator
    if not programs:
        raise Http404
    return programs


def program_or_404(user: Any, program_id: int, *roles: str) -> Program:
    """The program in the URL if the user holds one of `roles` in it; 404 otherwise."""
    held = role_program_ids(user)
    if not any(program_id in held.for_role(role) for role in roles):
        raise Http404
    return get_object_or_404(Program, pk=program_id)
