"""The caller's roles are read once per request and never remembered past it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from base.services import membership_grant, membership_revoke
from core.models import Membership, Role
from core.request_cache import memoised, request_scope
from core.scoping import role_program_ids
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_role_granted_between_two_requests_is_seen_by_the_second(cast, api_as):
    newcomer = UserFactory(username="newcomer")
    api = api_as(newcomer)  # the same user object for both requests, as force_authenticate keeps it
    assert api.get(reverse("client-list")).json()["results"] == []
    membership_grant(user=newcomer, program=cast.program, role=Role.COORDINATOR)
    seen = {row["id"] for row in api.get(reverse("client-list")).json()["results"]}
    assert seen == {cast.mine.pk, cast.theirs.pk}


def test_a_role_revoked_between_two_requests_is_gone_on_the_second(cast, api_as):
    api = api_as(cast.coordinator)
    assert api.get(reverse("client-detail", args=[cast.mine.pk])).status_code == 200
    membership_revoke(membership=Membership.objects.get(user=cast.coordinator, role=Role.COORDINATOR))
    assert api.get(reverse("client-detail", args=[cast.mine.pk])).status_code == 404


def test_roles_are_read_once_per_request(cast, api_as):
    api = api_as(cast.supporter_user)
    api.get(reverse("peer-session-list"))  # warm per-process caches
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(reverse("peer-session-list")).status_code == 200
    assert sum("programuserobjectpermission" in q["sql"] for q in ctx.captured_queries) == 1


def test_outside_a_request_nothing_is_remembered(cast):
    user = UserFactory()
    assert role_program_ids(user).any() == frozenset()
    membership_grant(user=user, program=cast.program, role=Role.FUNDER)
    assert role_program_ids(user).funder == {cast.program.pk}


def test_a_grant_inside_the_request_clears_what_it_remembered(cast):
    user = UserFactory()
    with request_scope():
        assert role_program_ids(user).supporter == frozenset()
        membership_grant(user=user, program=cast.program, role=Role.SUPPORTER)
        assert role_program_ids(user).supporter == {cast.program.pk}
    calls = []
    with request_scope():
        memoised("k", lambda: calls.append(1))
        memoised("k", lambda: calls.append(1))
    with request_scope():
        memoised("k", lambda: calls.append(1))
    assert calls == [1, 1]
