from __future__ import annotations

from typing import Any

from allauth.account.forms import ConfirmLoginCodeForm as AllauthConfirmLoginCodeForm
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import RequestLoginCodeForm as AllauthRequestLoginCodeForm
from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm as AllauthAuthenticateForm
from django import forms
from django.utils.translation import gettext_lazy as _

from security.signin import (
    ONE_TIME_CODE,
    SignInLocked,
    lockout_seconds_left,
    throttled_check,
    too_many_attempts_message,
)


class LoginForm(AllauthLoginForm):
    """allauth's sign-in form, posting `username` (not `login`) so the page keeps
    the field names and ids (`id_username`) of the original sign-in page."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["login"].label = _("Username")
        self.fields.pop("remember", None)

    def add_prefix(self, field_name: str) -> str:
        return "username" if field_name == "login" else super().add_prefix(field_name)

    def clean(self) -> dict[str, Any]:
        # A locked account is told so, not that the password is wrong.
        username = self.cleaned_data.get("login") or ""
        seconds = lockout_seconds_left(username) if username else 0
        if seconds:
            raise forms.ValidationError(too_many_attempts_message(seconds))
        try:
            return super().clean()
        except forms.ValidationError:
            seconds = lockout_seconds_left(username) if username else 0
            if seconds:  # this failure was the one that locked it
                raise forms.ValidationError(too_many_attempts_message(seconds)) from None
            raise


class AuthenticateForm(AllauthAuthenticateForm):
    """allauth's second-factor step (TOTP or a recovery code) behind the same throttle as
    passwords and the API's codes (security.signin, factor ONE_TIME_CODE)."""

    def clean_code(self) -> str:
        refusals: list[forms.ValidationError] = []

        def check() -> str | None:
            try:
                return super(AuthenticateForm, self).clean_code()
            except forms.ValidationError as exc:
                refusals.append(exc)
                return None

        try:
            code = throttled_check(self.user.get_username(), context.request, check, factor=ONE_TIME_CODE)
        except SignInLocked as exc:
            raise forms.ValidationError(str(exc)) from exc
        if code is None:
            raise refusals[0]
        return code


class RequestLoginCodeForm(AllauthRequestLoginCodeForm):
    """Sign-in by a code sent by e-mail is for clients (the portal) only: staff sign in with their
    password (and second factor). For any other address the page answers as for an unknown one,
    and nothing is sent (security.mfa.AccountAdapter sends no "unknown account" e-mails)."""

    def clean_email(self) -> str:
        email = super().clean_email()
        user = getattr(self, "_user", None)
        if user is not None and not getattr(user, "is_client", False):
            self._user = None
        return email


class ConfirmLoginCodeForm(AllauthConfirmLoginCodeForm):
    """The e-mailed code, behind the same throttle as every other code (security.signin):
    5 wrong codes lock the account's codes for 15 minutes."""

    def clean_code(self) -> str:
        stage = getattr(context.request, "_login_stage", None)
        user = getattr(getattr(stage, "login", None), "user", None)
        if user is None:
            return super().clean_code()
        refusals: list[forms.ValidationError] = []

        def check() -> str | None:
            try:
                return super(ConfirmLoginCodeForm, self).clean_code()
            except forms.ValidationError as exc:
                refusals.append(exc)
                return None

        try:
            code = throttled_check(user.get_username(), context.request, check, factor=ONE_TIME_CODE)
        except SignInLocked as exc:
            raise forms.ValidationError(str(exc)) from exc
        if code is None:
            raise refusals[0]
        return code
