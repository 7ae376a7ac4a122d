"""Which programs a user holds each role in: the root of every scoped queryset.

Role grants are django-guardian object permissions on the Program (direct
foreign-key table), read in one query, remembered for the rest of the request
(core.request_cache) and never longer, so a revoked role or a reassignment
takes effect on the next request. The lookup itself (`role_program_ids`) lives beside
the roles in core.models, where the models' `visible_to` call it; this module gives it
to everyone else with the checks built on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import Http404
from django.shortcuts import get_object_or_404

from core.models import Program, RolePrograms, role_program_ids

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.models import User


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


__all__ = ["RolePrograms", "coordinator_programs_or_404", "has_role", "program_or_404", "role_program_ids"]
