"""Helpers for signing in through the real pages (password, then two-factor code)."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from security.mfa import totp_code_for

PASSWORD = "correct horse battery staple"


def sign_in(client: Client, user, *, password: str = PASSWORD) -> None:
    """Sign in as a person would: the password form, then the authenticator code
    when the user has one. Leaves an authentication record, so re-authentication
    checks pass for the next few minutes."""
    response = client.post(reverse("login"), {"username": user.username, "password": password})
    assert response.status_code == 302, response.content[:500]
    if response["Location"].startswith(reverse("mfa_authenticate")):
        response = client.post(reverse("mfa_authenticate"), {"code": totp_code_for(user)})
        assert response.status_code == 302, response.content[:500]
