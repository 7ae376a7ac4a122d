"""The client list builds its rows directly; each must equal the client's detail
representation (the DRF serializer), for every role that lists clients."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import ClientFactory, ClinicianFactory


@pytest.mark.parametrize("role", ["coordinator", "supporter", "clinician"])
def test_client_list_rows_equal_the_detail_representation(cast, api_as, role):
    second = ClinicianFactory(program=cast.program)
    cast.mine.care_team.add(second)
    ClientFactory(program=cast.program, site=None)
    api = api_as(cast.user(role))
    rows = api.get(reverse("client-list"), {"page_size": 50}).json()["results"]
    assert rows
    for row in rows:
        assert row == api.get(reverse("client-detail", args=[row["id"]])).json(), row["id"]
    mine = next(r for r in rows if r["id"] == cast.mine.pk)
    assert mine["care_team"] == sorted([cast.clinician.pk, second.pk])
