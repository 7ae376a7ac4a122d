from __future__ import annotations

from allauth.account.forms import LoginForm as AllauthLoginForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AllauthLoginForm):
    """allauth's sign-in form, posting `username` (not `login`) so the page keeps
    the field names and ids (`id_username`) of the original sign-in page."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - allauth's signature
        super().__init__(*args, **kwargs)
        self.fields["login"].label = _("Username")
        self.fields.pop("remember", None)

    def add_prefix(self, field_name: str) -> str:
        return "username" if field_name == "login" else super().add_prefix(field_name)
