"""A client may sign in with a code sent to their e-mail (allauth's login by code), behind the one
throttle of every code; staff cannot (their address gets nothing: password and second factor)."""

from __future__ import annotations

import re

from django.core import mail
from django.urls import reverse

from tests.portal.helpers import portal_user


def _ask_code(client, email: str):
    return client.post(reverse("account_request_login_code"), {"email": email})


def test_a_client_signs_in_with_the_code_sent_to_their_email(cast, client):
    user = portal_user(cast.mine, invited_by=cast.supporter_user, username="mine")
    mail.outbox.clear()
    _ask_code(client, user.email)
    [message] = mail.outbox
    code = re.search(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b", message.body).group(1)
    response = client.post(reverse("account_confirm_login_code"), {"code": code, "action": "verify"})
    assert response.status_code == 302
    assert client.get(reverse("portal:home")).status_code == 200


def test_staff_get_no_code_and_no_mail(cast, client):
    cast.supporter_user.email = "supporter@example.org"
    cast.supporter_user.save()
    mail.outbox.clear()
    _ask_code(client, "supporter@example.org")
    assert mail.outbox == []
    assert client.get("/").status_code == 302  # still signed out: sent to the sign-in page


def test_wrong_codes_count_in_the_one_sign_in_throttle(cast, client):
    from security.signin import ONE_TIME_CODE, lockout_seconds_left

    user = portal_user(cast.mine, invited_by=cast.supporter_user, username="mine")
    for _ in range(2):  # allauth ends a code after 3 wrong tries: ask again, as a person would
        _ask_code(client, user.email)
        for _ in range(3):
            client.post(reverse("account_confirm_login_code"), {"code": "WRONG1", "action": "verify"})
    assert lockout_seconds_left(user.username, ONE_TIME_CODE) > 0


def test_a_client_with_an_authenticator_is_asked_for_it_after_the_code_too(cast, client):
    from security.mfa import totp_enrol

    user = portal_user(cast.mine, invited_by=cast.supporter_user, username="mine")
    totp_enrol(user)
    mail.outbox.clear()
    _ask_code(client, user.email)
    code = re.search(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b", mail.outbox[0].body).group(1)
    response = client.post(reverse("account_confirm_login_code"), {"code": code, "action": "verify"})
    assert response["Location"].startswith(reverse("mfa_authenticate"))
    assert client.get(reverse("portal:home")).status_code == 302  # not signed in yet
