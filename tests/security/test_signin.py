"""Sign-in safeguards: two-factor, lockout, password policy, timeouts,
re-authentication, and ending every session and token."""

from __future__ import annotations

import base64
import threading
import time
from datetime import timedelta

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time
from knox.models import AuthToken

from security.mfa import PREFIX, totp_code, totp_code_for, totp_enrol
from security.middleware import LAST_SEEN_KEY, STARTED_KEY
from security.models import SignInThrottle
from tests.security.helpers import PASSWORD, sign_in

pytestmark = pytest.mark.django_db


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_a_user_with_an_authenticator_must_give_the_code_after_the_password(cast, client):
    totp_enrol(cast.coordinator)
    response = client.post(reverse("login"), {"username": "coordinator", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith(reverse("mfa_authenticate"))
    assert client.get(reverse("home")).status_code == 302  # not signed in yet
    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert wrong.status_code == 200
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code_for(cast.coordinator)})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_a_recovery_code_signs_in_once(cast, client):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    totp_enrol(cast.clinician_user)
    codes = RecoveryCodes(Authenticator.objects.get(user=cast.clinician_user, type="recovery_codes")).get_unused_codes()
    client.post(reverse("login"), {"username": "clinician", "password": PASSWORD})
    assert client.post(reverse("mfa_authenticate"), {"code": codes[0]}).status_code == 302
    client.logout()
    client.post(reverse("login"), {"username": "clinician", "password": PASSWORD})
    assert client.post(reverse("mfa_authenticate"), {"code": codes[0]}).status_code == 200  # used up


def test_totp_secrets_and_recovery_seeds_are_stored_encrypted(cast):
    secret = totp_enrol(cast.coordinator)
    for authenticator in Authenticator.objects.filter(user=cast.coordinator):
        stored = str(authenticator.data)
        assert PREFIX in stored
        assert secret not in stored
    assert totp_code_for(cast.coordinator) == totp_code(secret)


def _open_mfa_setup(client):
    """allauth asks for the password again before showing the TOTP setup page."""
    response = client.get(reverse("mfa_activate_totp"))
    if response.status_code == 302 and response["Location"].startswith(reverse("account_reauthenticate")):
        assert client.post(response["Location"], {"password": PASSWORD}).status_code == 302
        response = client.get(reverse("mfa_activate_totp"))
    return response


@override_settings(MFA_REQUIRED=True)
@pytest.mark.parametrize("role", ["coordinator", "clinician"])
def test_coordinators_and_clinicians_without_mfa_are_sent_to_set_it_up_first(cast, client, api, role):
    client.force_login(cast.user(role))
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp")
    assert _open_mfa_setup(client).status_code == 200
    assert client.get(reverse("client-detail", args=[cast.mine.pk])).status_code == 403
    totp_enrol(cast.user(role))
    assert client.get(reverse("home")).status_code == 200


@override_settings(MFA_REQUIRED=True)
@pytest.mark.parametrize("role", ["supporter", "funder"])
def test_other_roles_may_use_mfa_but_are_not_forced(cast, client, role):
    client.force_login(cast.user(role))
    assert client.get(reverse("home")).status_code == 200
    assert _open_mfa_setup(client).status_code == 200


@override_settings(MFA_REQUIRED=True)
def test_an_api_token_needs_the_current_code_when_mfa_is_on(cast, api):
    url = reverse("api-token-login")
    assert api.post(url, HTTP_AUTHORIZATION=basic("coordinator", PASSWORD)).status_code == 403  # not enrolled
    totp_enrol(cast.coordinator)
    assert api.post(url, HTTP_AUTHORIZATION=basic("coordinator", PASSWORD)).status_code == 403
    assert api.post(url, HTTP_AUTHORIZATION=basic("coordinator", PASSWORD), HTTP_X_OTP="123").status_code == 403
    ok = api.post(url, HTTP_AUTHORIZATION=basic("coordinator", PASSWORD), HTTP_X_OTP=totp_code_for(cast.coordinator))
    assert ok.status_code == 200 and ok.json()["token"]


def test_repeated_failures_lock_the_account_even_for_the_right_password(cast, client):
    for _ in range(5):
        assert client.post(reverse("login"), {"username": "supporter", "password": "wrong"}).status_code == 200
    response = client.post(reverse("login"), {"username": "supporter", "password": PASSWORD})
    assert response.status_code == 200  # refused: locked
    assert client.get(reverse("home")).status_code == 302
    with freeze_time(timezone.now() + timedelta(minutes=16)):
        assert client.post(reverse("login"), {"username": "supporter", "password": PASSWORD}).status_code == 302


def test_the_lockout_also_guards_api_tokens(cast, api):
    for _ in range(5):
        api.post(reverse("api-token-login"), HTTP_AUTHORIZATION=basic("supporter", "wrong"))
    response = api.post(reverse("api-token-login"), HTTP_AUTHORIZATION=basic("supporter", PASSWORD))
    assert response.status_code == 429
    assert response.json()["detail"].startswith("Too many attempts. Try again in 15 minutes")
    assert int(response["Retry-After"]) > 800
    assert not AuthToken.objects.exists()


def test_a_success_resets_the_count(cast):
    request = RequestFactory().post("/", REMOTE_ADDR="10.9.9.9")
    for _ in range(4):
        assert authenticate(request, username="supporter", password="wrong") is None
    assert authenticate(request, username="supporter", password=PASSWORD) == cast.supporter_user
    assert SignInThrottle.objects.get(key="user:supporter").failures == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent sign-ins need a server database")
def test_the_lockout_holds_under_concurrent_attempts(cast):
    """40 parallel guesses: only the first five reach the password check; the rest,
    and the right password afterwards, are refused."""
    from django.contrib.auth.signals import user_login_failed

    checked: list[str] = []
    original = type(cast.supporter_user).check_password

    def counting_check(self, raw):  # noqa: ANN001, ANN202 - patched method
        checked.append(raw)
        return original(self, raw)

    type(cast.supporter_user).check_password = counting_check
    failures: list[int] = []
    user_login_failed.connect(lambda **kw: failures.append(1), weak=False, dispatch_uid="count-failures")
    barrier = threading.Barrier(8)

    def attempt(i: int) -> None:
        request = RequestFactory().post("/", REMOTE_ADDR=f"10.0.{i}.1")
        barrier.wait()
        for _ in range(5):
            authenticate(request, username="supporter", password=f"guess-{i}")
        connections.close_all()

    try:
        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(failures) == 40
        assert len(checked) == 5
        assert authenticate(RequestFactory().post("/"), username="supporter", password=PASSWORD) is None
    finally:
        type(cast.supporter_user).check_password = original
        user_login_failed.disconnect(dispatch_uid="count-failures")


def test_the_password_policy_refuses_weak_and_overlong_passwords(cast):
    for weak in ["short1!", "password123456", "12345678901234", "coordinator12"]:
        with pytest.raises(ValidationError):
            validate_password(weak, user=cast.coordinator)
    with pytest.raises(ValidationError):
        validate_password("a-long-passphrase " * 10)
    validate_password("river otter lantern 42", user=cast.coordinator)


def _age_session(client, **offsets: float) -> None:
    session = client.session
    for key, seconds in offsets.items():
        session[{"last_seen": LAST_SEEN_KEY, "started": STARTED_KEY}[key]] = time.time() - seconds
    session.save()


def test_an_idle_session_ends_after_fifteen_minutes_on_the_server(cast, client):
    sign_in(client, cast.supporter_user)
    _age_session(client, last_seen=14 * 60)
    assert client.get(reverse("home")).status_code == 200
    _age_session(client, last_seen=15 * 60 + 5)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and "timeout=1" in response["Location"]
    assert client.get(reverse("client-detail", args=[cast.mine.pk])).status_code in (401, 403)


def test_a_busy_session_still_ends_at_its_absolute_lifetime(cast, client, settings):
    sign_in(client, cast.supporter_user)
    _age_session(client, started=settings.SESSION_COOKIE_AGE + 1, last_seen=1)
    assert client.get(reverse("home")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_the_api_answers_401_when_the_session_has_timed_out(cast, client):
    sign_in(client, cast.supporter_user)
    _age_session(client, last_seen=3600)
    assert client.get(reverse("client-detail", args=[cast.mine.pk])).status_code == 401


def test_reauthentication_is_asked_before_an_export_and_a_post_is_replayed(cast, client):
    from django.http import HttpResponse

    from security.reauth import require_recent_auth

    client.force_login(cast.coordinator)  # a session without a recent password
    response = client.get(reverse("security:audit-export"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_reauthenticate"))
    confirm = client.post(response["Location"], {"password": PASSWORD})
    assert confirm.status_code == 302
    assert client.get(reverse("security:audit-export")).status_code == 200

    @require_recent_auth(max_age=0)
    def always_asks(request):
        return HttpResponse("ok")

    request = RequestFactory().post("/api/v1/x/")
    request.user = cast.coordinator
    request.session = client.session
    assert always_asks(request).status_code == 403


def test_signing_out_ends_the_session(cast, client):
    sign_in(client, cast.supporter_user)
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


def _token(api, username: str) -> str:
    response = api.post(reverse("api-token-login"), HTTP_AUTHORIZATION=basic(username, PASSWORD))
    assert response.status_code == 200
    return response.json()["token"]


def test_deactivating_a_user_ends_every_session_and_token(cast, client, api):
    from django.test import Client

    other_browser = Client()
    sign_in(client, cast.supporter_user)
    sign_in(other_browser, cast.supporter_user)
    token = _token(api, "supporter")
    cast.supporter_user.is_active = False
    cast.supporter_user.save()
    assert client.get(reverse("home")).status_code == 302
    assert other_browser.get(reverse("home")).status_code == 302
    assert not AuthToken.objects.filter(user=cast.supporter_user).exists()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get(reverse("client-list")).status_code == 401
    from django.contrib.sessions.models import Session

    assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(cast.supporter_user.pk)]


def test_a_password_change_ends_tokens_and_other_sessions(cast, client, api):
    sign_in(client, cast.supporter_user)
    _token(api, "supporter")
    cast.supporter_user.set_password("a brand new passphrase 7")
    cast.supporter_user.save()
    assert not AuthToken.objects.filter(user=cast.supporter_user).exists()
    assert client.get(reverse("home")).status_code == 302


def test_api_tokens_are_stored_hashed_and_expire(cast, api, settings):
    token = _token(api, "supporter")
    stored = AuthToken.objects.get(user=cast.supporter_user)
    assert token not in (stored.digest, stored.token_key)
    assert stored.expiry - timezone.now() <= settings.REST_KNOX["TOKEN_TTL"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get(reverse("client-list")).status_code == 200
    with freeze_time(stored.expiry + timedelta(seconds=1)):
        assert api.get(reverse("client-list")).status_code == 401


def test_the_admin_signs_in_through_the_same_guarded_page(cast, client):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_pages_know_the_idle_timeout_for_their_warning(cast, client, settings):
    settings.SESSION_IDLE_SECONDS = 600
    client.force_login(cast.supporter_user)
    assert client.get(reverse("home")).context["session_idle_seconds"] == 600


def _token_for(api, username: str, **headers) -> str:
    response = api.post(reverse("api-token-login"), HTTP_AUTHORIZATION=basic(username, PASSWORD), **headers)
    assert response.status_code == 200, response.content
    api.credentials()
    return response.json()["token"]


@override_settings(MFA_REQUIRED=True)
def test_a_token_issued_before_a_role_upgrade_stops_working_until_a_new_one_is_issued_with_the_code(cast, api):
    from base.services import membership_grant
    from core.models import Role

    old_token = _token_for(api, "supporter")  # supporters need no second factor
    api.credentials(HTTP_AUTHORIZATION=f"Token {old_token}")
    assert api.get(reverse("client-list")).status_code == 200

    membership_grant(user=cast.supporter_user, program=cast.program, role=Role.COORDINATOR)
    refused = api.get(reverse("client-list"))
    assert refused.status_code == 403
    assert "two-factor" in refused.json()["detail"]
    assert cast.mine.last_name not in refused.content.decode()
    assert api.get(reverse("membership-list")).status_code == 403

    totp_enrol(cast.supporter_user)
    assert api.get(reverse("client-list")).status_code == 403  # enrolled, but the token predates the factor
    api.credentials()
    new_token = _token_for(api, "supporter", HTTP_X_OTP=totp_code_for(cast.supporter_user))
    api.credentials(HTTP_AUTHORIZATION=f"Token {new_token}")
    assert api.get(reverse("client-list")).status_code == 200


@override_settings(MFA_REQUIRED=True)
def test_a_coordinator_token_without_an_enrolled_factor_is_refused_on_every_request(cast, api):
    _, token = AuthToken.objects.create(user=cast.coordinator)  # e.g. issued by a script, not the login view
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    for name in ("client-list", "peer-session-list", "membership-list"):
        assert api.get(reverse(name)).status_code == 403, name


def test_a_token_request_past_the_per_user_limit_is_a_429(cast, api, settings):
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_LIMIT_PER_USER": 2}  # knox reloads on the change
    for _ in range(2):
        _token_for(api, "supporter")
    refused = api.post(reverse("api-token-login"), HTTP_AUTHORIZATION=basic("supporter", PASSWORD))
    assert refused.status_code == 429
    assert "Too many live tokens" in refused.json()["detail"]
    assert AuthToken.objects.filter(user=cast.supporter_user).count() == 2


def test_a_locked_account_is_told_so_on_the_sign_in_page_not_that_the_password_is_wrong(cast, client):
    for _ in range(5):
        client.post(reverse("login"), {"username": "supporter", "password": "wrong"})
    page = client.post(reverse("login"), {"username": "supporter", "password": PASSWORD}).content.decode()
    assert "Too many attempts. Try again in 15 minutes." in page
    assert "not correct" not in page


def test_fifty_made_up_usernames_from_one_address_never_lock_out_a_real_user_there(cast, client, settings):
    """Behind a proxy every user shares one address: the address is slowed, nobody is refused."""
    settings.SIGNIN_SLOWDOWN_MAX_SECONDS = 0.01  # the delay itself is measured below, not waited for here
    for i in range(60):
        client.post(reverse("login"), {"username": f"made-up-{i}", "password": "guess"}, REMOTE_ADDR="10.1.1.1")
    response = client.post(reverse("login"), {"username": "supporter", "password": PASSWORD}, REMOTE_ADDR="10.1.1.1")
    assert response.status_code == 302  # signed in
    assert SignInThrottle.objects.get(key="ip:10.1.1.1").failures >= 60
    assert not SignInThrottle.objects.filter(key="ip:10.1.1.1", locked_until__isnull=False).exists()


def test_failures_past_the_address_limit_are_answered_slower_and_slower(cast, settings):
    settings.SIGNIN_MAX_FAILURES_PER_IP = 3
    settings.SIGNIN_SLOWDOWN_MAX_SECONDS = 0.4
    durations = []
    for i in range(8):
        request = RequestFactory().post("/", REMOTE_ADDR="10.2.2.2")
        started = time.monotonic()
        assert authenticate(request, username=f"made-up-{i}", password="guess") is None
        durations.append(time.monotonic() - started)
    assert max(durations[:3]) < 0.05
    assert durations[-1] >= 0.35 > durations[3]
    request = RequestFactory().post("/", REMOTE_ADDR="10.2.2.2")
    started = time.monotonic()
    assert authenticate(request, username="supporter", password=PASSWORD) == cast.supporter_user
    assert time.monotonic() - started < 0.3  # the right password is answered at once


@override_settings(MFA_REQUIRED=True)
def test_wrong_codes_for_a_token_lock_the_code_after_five_even_with_the_right_password(cast, api):
    totp_enrol(cast.coordinator)
    url = reverse("api-token-login")
    for _ in range(5):
        wrong = api.post(url, HTTP_AUTHORIZATION=basic("coordinator", PASSWORD), HTTP_X_OTP="000000")
        assert wrong.status_code == 403
    right = api.post(url, HTTP_AUTHORIZATION=basic("coordinator", PASSWORD), HTTP_X_OTP=totp_code_for(cast.coordinator))
    assert right.status_code == 429
    assert "Too many attempts" in right.json()["detail"]
    assert not AuthToken.objects.filter(user=cast.coordinator).exists()


def test_wrong_codes_on_the_web_second_factor_step_count_in_the_same_throttle(cast, client):
    totp_enrol(cast.coordinator)
    client.post(reverse("login"), {"username": "coordinator", "password": PASSWORD})
    for _ in range(5):
        client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert SignInThrottle.objects.filter(key="otp:coordinator", locked_until__isnull=False).exists()
    page = client.post(reverse("mfa_authenticate"), {"code": totp_code_for(cast.coordinator)})
    assert client.get(reverse("home")).status_code == 302  # still not signed in
    assert page.status_code == 200


def test_signing_in_after_a_timeout_comes_back_to_the_page(cast, client):
    """The page asked for, or the one the idle sign-out came from (the logout form's `next`), so a
    draft restored there is one sign-in away; never another site."""
    sign_in(client, cast.supporter_user)
    _age_session(client, last_seen=3600)
    response = client.get(reverse("peer_sessions:session-create"), {"client": cast.mine.pk})
    assert response["Location"] == f"{reverse('login')}?timeout=1&next=%2Fsessions%2Fnew%2F%3Fclient%3D{cast.mine.pk}"
    sign_in(client, cast.supporter_user)
    _age_session(client, last_seen=3600)
    response = client.post(reverse("logout"), {"next": f"/feedback/new/{cast.mine.pk}/"})
    assert response["Location"] == f"{reverse('login')}?timeout=1&next=%2Ffeedback%2Fnew%2F{cast.mine.pk}%2F"
    sign_in(client, cast.supporter_user)
    _age_session(client, last_seen=3600)
    response = client.post(reverse("logout"), {"next": "https://evil.example/"})
    assert response["Location"] == f"{reverse('login')}?timeout=1"
