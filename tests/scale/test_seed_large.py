"""seed_demo --scale large, shrunk a hundredfold: the network, its logins, and every index put back."""

from __future__ import annotations

import importlib.util
import io

import pytest
from django.db import connection

from accounts.models import Program
from bench.large import BIG_TABLES, build_large_network
from clients.models import Client, ClinicalAppointment
from sessions.models import Attendance
from supporters.models import Supporter


def index_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = ANY(%s)", [[m._meta.db_table for m in BIG_TABLES]]
        )
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.django_db
def test_it_builds_the_network_and_rebuilds_every_index_it_dropped(cast):
    if connection.vendor != "postgresql":
        pytest.skip("the large seed loads with PostgreSQL COPY; this run uses " + connection.vendor)
    if importlib.util.find_spec("bench.generate") is None:
        pytest.skip("bench/generate.py (the COPY generator) is not in this checkout")
    before = index_names()
    out = io.StringIO()
    build_large_network(stdout=out, programs=2, scale_down=100)
    assert index_names() == before
    network = Program.objects.filter(slug__startswith="state-network-")
    assert network.count() == 2
    assert Client.objects.filter(program__in=network).count() == 2 * 500
    assert ClinicalAppointment.objects.filter(program__in=network).count() == 2 * 5_000
    assert Attendance.objects.filter(session__program__in=network).count() > 2 * 29_000
    supporter = Supporter.objects.get(user__username="bench-supporter")
    assert Client.objects.visible_to(supporter.user).exists()
    build_large_network(stdout=out, programs=2, scale_down=100)  # a second run changes nothing
    assert network.count() == 2 and "already loaded" in out.getvalue()
