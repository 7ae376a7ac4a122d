"""Who may write through the API: declared once per viewset, enforced here.

Every API viewset (base.api_base.ScopedMixin) names, for each write action, the
roles that may do it in the program the record belongs to:

    write_roles = {"create": {Role.COORDINATOR}, "update": {Role.COORDINATOR}, "revoke": {Role.COORDINATOR}}

`ProgramRolePermission` refuses a write action the viewset does not declare (deny by
default) and checks the declared roles against the program of the record: the object's
for detail actions (DRF calls `has_object_permission` from `get_object`, after the scoped
lookup, so a record outside the caller's scope is still a 404), the validated data's for a
create or a list-level write action (`ScopedMixin.check_data_permissions`). Reads pass
here: what a caller sees is the scoped queryset's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from core.scoping import role_program_ids

# For an action any caller who can see the record may ask for, because the service decides
# who may do it (only the recipient marks a notification read, only a recipient acknowledges
# feedback). The record is still found through the scoped queryset first.
WHOEVER_SEES_IT: Final = frozenset({"whoever sees the record"})

# PATCH is an update for the declaration: one entry covers PUT and PATCH.
_DECLARED_AS = {"partial_update": "update"}


def declared_action(action: str) -> str:
    """The `write_roles` key that covers a DRF action."""
    return _DECLARED_AS.get(action, action)


class ProgramRolePermission(BasePermission):
    message = "Your role in this program does not allow this change."

    def has_permission(self, request: Request, view: Any) -> bool:
        # No action: the method is not routed here and the view answers 405.
        if request.method in SAFE_METHODS or view.action is None:
            return True
        return self._allowed_roles(view) is not None

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        allowed = self._allowed_roles(view)
        if allowed is None or allowed == WHOEVER_SEES_IT:
            return allowed is not None
        return self._holds_one(request, allowed, view.program_id_of(instance=obj))

    def has_data_permission(self, request: Request, view: Any, data: Mapping[str, Any]) -> bool:
        """For a record that does not exist yet: the program is the one the validated data names."""
        allowed = self._allowed_roles(view)
        if allowed is None or allowed == WHOEVER_SEES_IT:
            return allowed is not None
        return self._holds_one(request, allowed, view.program_id_of(data=data))

    @staticmethod
    def _allowed_roles(view: Any) -> frozenset[str] | None:
        roles = view.write_roles.get(declared_action(view.action))
        return None if roles is None else frozenset(roles)

    @staticmethod
    def _holds_one(request: Request, allowed: frozenset[str], program_id: int) -> bool:
        return bool(allowed & role_program_ids(request.user).roles_in(program_id))
