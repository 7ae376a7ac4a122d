"""Input that used to reach the database or the decoder as a 500 is a 400 (or, for a path
that names no record, a 404): non-numeric ids, NUL characters, deep nesting."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from core.parsers import MAX_JSON_DEPTH


@pytest.mark.parametrize(
    "path",
    ["/api/v1/program-policies/abc/", "/api/v1/clients/abc/", "/api/v1/peer-sessions/1e3/", "/api/v1/feedback/x/"],
)
def test_an_id_that_is_not_a_number_names_no_record(cast, api_as, path):
    assert api_as(cast.coordinator).get(path).status_code == 404


def test_a_nul_character_in_a_json_field_is_a_400_naming_the_field(cast, api_as):
    payload = {"program": cast.program.pk, "supervisor": "coordinator\x00", "held_on": "2026-03-02", "hours": "1"}
    response = api_as(cast.coordinator).post(
        reverse("supervision-session-list"), json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"supervisor": ["NUL characters are not allowed."]}


def test_a_nul_character_in_a_username_filter_or_query_is_a_400(cast, api_as):
    response = api_as(cast.coordinator).get(reverse("client-list"), {"external_id": "MRN\x00"})
    assert response.status_code == 400
    assert response.json() == {"external_id": ["NUL characters are not allowed."]}


def test_a_nul_character_in_a_page_form_is_a_400(cast, client):
    client.force_login(cast.coordinator)
    assert client.post(reverse("dashboard:client-search"), {"q": "Smith\x00"}).status_code == 400


def test_json_nested_3000_deep_is_a_400_not_a_500(cast, api_as):
    body = "[" * 3000 + "]" * 3000
    response = api_as(cast.coordinator).post(reverse("client-list"), body, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


def test_json_just_past_the_depth_limit_is_refused_and_at_the_limit_is_parsed(cast, api_as):
    deep = {"first_name": "A"}
    for _ in range(MAX_JSON_DEPTH):
        deep = {"x": deep}
    response = api_as(cast.coordinator).post(reverse("client-list"), json.dumps(deep), content_type="application/json")
    assert response.status_code == 400 and "nested" in response.json()["detail"]
    shallow = {"program": cast.program.pk, "first_name": ["A"]}
    answer = api_as(cast.coordinator).post(reverse("client-list"), shallow, format="json")
    assert "nested" not in answer.content.decode()
