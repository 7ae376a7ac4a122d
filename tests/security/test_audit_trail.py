"""The audit trail: what is recorded, that the application cannot change it, that
the hash chain verifies and breaks visibly, and the coordinators' report."""

from __future__ import annotations

import csv
import io
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection, connections
from django.test import RequestFactory
from django.urls import reverse

from audit.models import PROGRAMLESS_CHAIN, AppendOnlyError, AuditChainHead, AuditEvent
from audit.records import audit_record, audited, verify_chain
from tests.factories import UserFactory
from tests.security.helpers import sign_in

pytestmark = pytest.mark.django_db


def test_it_records_a_read_of_a_client_with_who_what_where(cast, api_as):
    api = api_as(cast.coordinator)
    response = api.get(
        reverse("client-detail", args=[cast.mine.pk]), REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="pytest-agent"
    )
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="clients.client.viewed")
    assert event.user_id == cast.coordinator.pk and event.username == "coordinator"
    assert event.roles == f"coordinator@{cast.program.pk}"
    assert (event.program_id, event.client_id) == (cast.program.pk, cast.mine.pk)
    assert (event.object_type, event.object_id) == ("clients.client", str(cast.mine.pk))
    assert (event.ip, event.user_agent) == ("10.1.2.3", "pytest-agent")
    assert event.emergency is False


def test_a_list_call_is_one_event_naming_the_clients_on_its_page(cast, api_as):
    api = api_as(cast.coordinator)
    assert api.get(reverse("client-list")).status_code == 200
    event = AuditEvent.objects.get(action="clients.client.listed")
    assert event.client_ids == f",{min(cast.mine.pk, cast.theirs.pk)},{max(cast.mine.pk, cast.theirs.pk)},"
    assert event.detail == {"count": 2, "via": "api"}
    assert AuditEvent.objects.for_client(cast.theirs.pk).filter(action="clients.client.listed").exists()


def test_creates_and_updates_are_recorded_and_refused_writes_are_not(cast, api_as):
    api = api_as(cast.coordinator)
    created = api.post(
        reverse("client-list"),
        {
            "program": cast.program.pk,
            "external_id": "MRN-NEW",
            "first_name": "A",
            "last_name": "B",
            "date_of_birth": "1990-01-01",
        },
        format="json",
    )
    assert created.status_code == 201
    client_id = created.json()["id"]
    assert api.patch(reverse("client-detail", args=[client_id]), {"first_name": "C"}, format="json").status_code == 200
    assert list(AuditEvent.objects.filter(client_id=client_id).values_list("action", flat=True).order_by("id")) == [
        "clients.client.created",
        "clients.client.updated",
    ]
    before = AuditEvent.objects.count()
    assert (
        api_as(cast.supporter_user)
        .patch(reverse("client-detail", args=[cast.mine.pk]), {"first_name": "X"}, format="json")
        .status_code
        == 403
    )
    assert AuditEvent.objects.count() == before


def test_admin_lists_views_and_changes_are_recorded(cast, client):
    client.force_login(cast.coordinator)
    assert client.get(reverse("admin:clients_client_changelist")).status_code == 200
    assert client.get(reverse("admin:clients_client_change", args=[cast.mine.pk])).status_code == 200
    listed = AuditEvent.objects.get(action="clients.client.listed", detail__via="admin")
    assert f",{cast.mine.pk}," in listed.client_ids and f",{cast.foreign.pk}," not in listed.client_ids
    assert AuditEvent.objects.filter(
        action="clients.client.viewed", client_id=cast.mine.pk, detail__via="admin"
    ).exists()


def test_the_application_cannot_change_or_delete_an_audit_row(cast):
    event = audit_record(action="clients.client.viewed", user=cast.coordinator, obj=cast.mine)
    event.action = "clients.client.listed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="clients.client.listed")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_create([AuditEvent(action="forged", prev_hash="0", hash="1")])
    assert AuditEvent.objects.get(pk=event.pk).action == "clients.client.viewed"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger is PostgreSQL's")
def test_postgresql_refuses_update_and_delete_in_sql(cast):
    from django.db import DatabaseError, transaction

    event = audit_record(action="clients.client.viewed", user=cast.coordinator, obj=cast.mine)
    for sql in [
        "UPDATE accounts_auditevent SET action = 'x' WHERE id = %s",
        "DELETE FROM accounts_auditevent WHERE id = %s",
    ]:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk, action="clients.client.viewed").exists()


def _tamper(sql: str, params: list) -> None:
    """Change rows behind the application's back, as someone with database access could."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE accounts_auditevent DISABLE TRIGGER accounts_auditevent_append_only")
        cur.execute(sql, params)
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE accounts_auditevent ENABLE TRIGGER accounts_auditevent_append_only")


def test_the_chain_verifies_and_breaks_visibly_when_a_row_is_altered_in_sql(cast, capsys):
    events = [
        audit_record(action="clients.client.viewed", user=cast.coordinator, obj=c)
        for c in (cast.mine, cast.theirs, cast.mine)
    ]
    call_command("verify_audit_chain")
    assert f"{AuditEvent.objects.count()} events verified" in capsys.readouterr().out
    _tamper("UPDATE accounts_auditevent SET username = 'someone-else' WHERE id = %s", [events[1].pk])
    with pytest.raises(CommandError, match=f"BROKEN at event id {events[1].pk}"):
        call_command("verify_audit_chain")


def test_removing_rows_from_the_middle_or_the_end_is_detected(cast):
    events = [audit_record(action="clients.client.viewed", user=cast.coordinator, obj=cast.mine) for _ in range(4)]
    _tamper("DELETE FROM accounts_auditevent WHERE id = %s", [events[-1].pk])
    report = verify_chain()
    assert not report.ok and "chain head" in report.reason
    _tamper("DELETE FROM accounts_auditevent WHERE id = %s", [events[1].pk])
    report = verify_chain()
    assert not report.ok and report.first_broken_id == events[2].pk


def test_a_forged_row_with_a_recomputed_hash_still_breaks_the_link(cast):
    events = [audit_record(action="clients.client.viewed", user=cast.coordinator, obj=cast.mine) for _ in range(3)]
    forged = AuditEvent.objects.get(pk=events[1].pk)
    forged.username = "ghost"
    forged_hash = forged.compute_hash()
    _tamper("UPDATE accounts_auditevent SET username = 'ghost', hash = %s WHERE id = %s", [forged_hash, events[1].pk])
    report = verify_chain()
    assert not report.ok and report.first_broken_id == events[2].pk


def _view(cast, client):  # noqa: ANN001, ANN202
    return audit_record(action="clients.client.viewed", user=cast.coordinator, obj=client)


def test_each_program_has_its_own_chain_and_program_less_events_theirs(cast):
    a1, b1, a2, none1, b2 = (
        _view(cast, cast.mine),
        audit_record(action="clients.client.viewed", user=cast.other_coordinator, obj=cast.foreign),
        _view(cast, cast.theirs),
        audit_record(action="dashboard.home.viewed", user=cast.coordinator),
        audit_record(action="clients.client.viewed", user=cast.other_coordinator, obj=cast.foreign),
    )
    assert (a1.chain, a2.chain, b1.chain, b2.chain) == (cast.program.pk,) * 2 + (cast.other_program.pk,) * 2
    assert none1.chain == PROGRAMLESS_CHAIN
    assert a2.prev_hash == a1.hash and b2.prev_hash == b1.hash  # each links to its own chain only
    heads = {h.chain: h for h in AuditChainHead.objects.filter(chain__in=[cast.program.pk, cast.other_program.pk])}
    assert heads[cast.program.pk].last_hash == a2.hash and heads[cast.other_program.pk].last_id == b2.pk
    report = verify_chain()
    assert report.ok and report.chains >= 3


def test_an_altered_row_is_caught_in_its_own_programs_chain(cast):
    _view(cast, cast.mine)
    foreign = [
        audit_record(action="clients.client.viewed", user=cast.other_coordinator, obj=cast.foreign) for _ in range(3)
    ]
    _view(cast, cast.mine)
    _tamper("UPDATE accounts_auditevent SET action = 'clients.client.updated' WHERE id = %s", [foreign[1].pk])
    report = verify_chain()
    assert not report.ok and report.first_broken_id == foreign[1].pk and "content" in report.reason


def test_a_row_removed_from_one_chain_is_caught_in_the_middle_and_at_the_end(cast):
    mine = [_view(cast, cast.mine) for _ in range(3)]
    foreign = [
        audit_record(action="clients.client.viewed", user=cast.other_coordinator, obj=cast.foreign) for _ in range(3)
    ]
    _tamper("DELETE FROM accounts_auditevent WHERE id = %s", [foreign[-1].pk])
    report = verify_chain()
    assert not report.ok and f"of program {cast.other_program.pk}" in report.reason
    assert report.first_broken_id == foreign[-1].pk  # the head still names the removed row
    _tamper("DELETE FROM accounts_auditevent WHERE id = %s", [mine[1].pk])
    report = verify_chain()
    assert not report.ok and report.first_broken_id == mine[2].pk and "link" in report.reason


def test_rows_swapped_within_a_chain_or_moved_to_another_chain_are_caught(cast):
    mine = [_view(cast, cast.mine) for _ in range(3)]
    audit_record(action="clients.client.viewed", user=cast.other_coordinator, obj=cast.foreign)
    parked = 10**12
    _tamper("UPDATE accounts_auditevent SET id = %s WHERE id = %s", [parked, mine[0].pk])
    _tamper("UPDATE accounts_auditevent SET id = %s WHERE id = %s", [mine[0].pk, mine[1].pk])
    _tamper("UPDATE accounts_auditevent SET id = %s WHERE id = %s", [mine[1].pk, parked])
    report = verify_chain()
    assert not report.ok and report.first_broken_id == mine[0].pk and "link" in report.reason
    # Put them back, then carry the last row over to the other program's chain.
    _tamper("UPDATE accounts_auditevent SET id = %s WHERE id = %s", [parked, mine[0].pk])
    _tamper("UPDATE accounts_auditevent SET id = %s WHERE id = %s", [mine[0].pk, mine[1].pk])
    _tamper("UPDATE accounts_auditevent SET id = %s WHERE id = %s", [mine[1].pk, parked])
    assert verify_chain().ok
    _tamper("UPDATE accounts_auditevent SET chain = %s WHERE id = %s", [cast.other_program.pk, mine[2].pk])
    report = verify_chain()
    assert not report.ok and report.first_broken_id == mine[2].pk and "another program" in report.reason


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need a server database")
def test_a_transaction_holding_one_programs_head_does_not_hold_up_another_programs_append(cast):
    _view(cast, cast.mine)  # both chains have their heads
    audit_record(action="clients.client.viewed", user=cast.other_coordinator, obj=cast.foreign)
    holder = connections.create_connection("default")  # a second session: another request's transaction
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute("SELECT id FROM accounts_auditchainhead WHERE chain = %s FOR UPDATE", [cast.program.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '500ms'")
        try:
            other = audit_record(action="clients.client.viewed", user=cast.other_coordinator, obj=cast.foreign)
            assert other.chain == cast.other_program.pk
            with pytest.raises(OperationalError, match="lock timeout"):
                _view(cast, cast.mine)  # the same program's chain does wait
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = 0")
    finally:
        holder.rollback()
        holder.close()
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need a server database")
def test_concurrent_writers_keep_the_chain_linear(cast):
    errors: list[BaseException] = []
    before = AuditEvent.objects.count()  # the cast's role grants are recorded too

    def write(n: int) -> None:
        try:
            for _ in range(n):
                audit_record(action="clients.client.viewed", user=cast.coordinator, client_id=cast.mine.pk)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(15,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert AuditEvent.objects.count() == before + 90
    report = verify_chain()
    assert report.ok and report.checked == before + 90
    assert sum(AuditChainHead.objects.values_list("count", flat=True)) == before + 90


def test_the_report_shows_a_coordinator_only_their_programs_entries_with_filters(cast, client):
    audit_record(action="clients.client.viewed", user=cast.supporter_user, obj=cast.mine)
    audit_record(action="clients.client.updated", user=cast.coordinator, obj=cast.theirs)
    audit_record(action="clients.client.viewed", user=cast.other_coordinator, obj=cast.foreign)
    client.force_login(cast.coordinator)
    page = client.get(reverse("security:audit-report"))
    assert page.status_code == 200
    shown = {e.pk for e in page.context["events"]}
    # Every event of the program, but the page's own record (written once the page was read).
    expected = AuditEvent.objects.filter(program_id=cast.program.pk).exclude(action="audit.events.listed")
    assert shown == set(expected.values_list("pk", flat=True))
    by_user = client.get(reverse("security:audit-report"), {"user": "supporter"}).context["events"]
    assert [e.username for e in by_user] == ["supporter"]
    # The client is searched by name or record number, through a POST kept in the session.
    response = client.post(reverse("security:audit-client-search"), {"q": cast.theirs.external_id})
    assert response.status_code == 302 and cast.theirs.external_id not in response["Location"]
    by_client = client.get(reverse("security:audit-report")).context["events"]
    # Events about that client (an earlier audit page that named it among others included).
    assert by_client and all(f",{cast.theirs.pk}," in e.client_ids for e in by_client)
    assert cast.theirs.external_id in client.get(reverse("security:audit-report")).content.decode()
    client.post(reverse("security:audit-client-search"), {"q": cast.theirs.last_name})
    by_name = client.get(reverse("security:audit-report")).context["events"]
    assert by_name and all(f",{cast.theirs.pk}," in e.client_ids for e in by_name)
    client.post(reverse("security:audit-client-search"), {"q": cast.foreign.external_id})  # another program's
    assert client.get(reverse("security:audit-report")).context["events"] == []
    client.post(reverse("security:audit-client-search"), {"clear": "1"})
    by_action = client.get(reverse("security:audit-report"), {"action": "clients.client.updated"}).context["events"]
    assert [e.action for e in by_action] == ["clients.client.updated"]
    made_up = client.get(reverse("security:audit-report"), {"action": "no.such.code"})
    assert made_up.context["events"] == [] and "action" in made_up.context["form"].errors
    future = client.get(reverse("security:audit-report"), {"date_from": "2199-01-01"}).context["events"]
    assert future == []
    unreadable = client.get(reverse("security:audit-report"), {"date_from": "2999-01-01"})
    assert unreadable.context["events"] == [] and "date_from" in unreadable.context["form"].errors


@pytest.mark.parametrize("role", ["supporter", "clinician", "funder", "outsider"])
def test_nobody_but_coordinators_reaches_the_report_or_its_export(cast, client, role):
    client.force_login(cast.user(role))
    assert client.get(reverse("security:audit-report")).status_code == 404


def test_the_csv_export_asks_to_reauthenticate_then_is_formula_safe(cast, client):
    hostile_user = UserFactory(username="=cmd|' /C calc'!A0")
    audit_record(action="clients.client.viewed", user=hostile_user, obj=cast.mine, program_id=cast.program.pk)
    audit_record(action="clients.client.viewed", user=UserFactory(username="+SUM(1,2)"), obj=cast.mine)
    client.force_login(cast.coordinator)
    response = client.get(reverse("security:audit-export"))
    assert response.status_code == 302 and reverse("account_reauthenticate") in response["Location"]
    client.logout()
    sign_in(client, cast.coordinator)
    response = client.get(reverse("security:audit-export"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    cells = [cell for row in rows for cell in row]
    assert "'=cmd|' /C calc'!A0" in cells and "'+SUM(1,2)" in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
    assert AuditEvent.objects.filter(action="audit.events.exported", user_id=cast.coordinator.pk).exists()


def test_the_audited_decorator_records_successful_page_views_only(cast):
    @audited("clients.client.viewed", client_kwarg="client_id")
    def view(request, client_id):
        from django.http import HttpResponse

        return HttpResponse(status=200 if client_id == cast.mine.pk else 404)

    request = RequestFactory().get("/x", REMOTE_ADDR="10.0.0.9")
    request.user = cast.coordinator
    view(request, client_id=cast.mine.pk)
    view(request, client_id=cast.foreign.pk)
    events = list(AuditEvent.objects.filter(action="clients.client.viewed"))
    assert [(e.client_id, e.ip) for e in events] == [(cast.mine.pk, "10.0.0.9")]


def test_disclosures_to_clinicians_are_listed_per_client(cast, client):
    audit_record(
        action="disclosure.feedback",
        user=cast.supporter_user,
        client_id=cast.mine.pk,
        object_type="peer_sessions.feedbackitem",
        object_id=41,
        detail={"recipient": "clinician"},
    )
    audit_record(action="clients.client.viewed", user=cast.supporter_user, obj=cast.mine)
    client.force_login(cast.coordinator)
    page = client.get(reverse("security:client-disclosures", args=[cast.mine.pk]))
    assert page.status_code == 200
    assert [row["event"].object_id for row in page.context["rows"]] == ["41"]
    assert client.get(reverse("security:client-disclosures", args=[cast.foreign.pk])).status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "sqlite", reason="the file lock queues SQLite writers only")
def test_sqlite_writers_queue_on_a_file_lock_beside_the_database(cast, tmp_path, monkeypatch):
    import fcntl

    from audit import records as audit

    database_file = tmp_path / "queue.sqlite3"
    monkeypatch.setitem(connection.settings_dict, "NAME", str(database_file))
    taken: list[int] = []
    real_flock = fcntl.flock

    def spy(file, operation):
        taken.append(operation)
        return real_flock(file, operation)

    monkeypatch.setattr(audit.fcntl, "flock", spy)
    audit_record(action="clients.client.viewed", user=cast.coordinator, obj=cast.mine)
    assert (tmp_path / "queue.sqlite3.audit-lock").exists()
    assert taken == [fcntl.LOCK_EX, fcntl.LOCK_UN]
    taken.clear()
    from django.db import transaction

    with transaction.atomic():  # already the writer: no second lock to wait for
        audit_record(action="clients.client.viewed", user=cast.coordinator, obj=cast.mine)
    assert taken == []
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need a server database")
def test_verifying_while_others_write_never_reports_a_false_break(cast):
    """Rows and head come from one snapshot: appends made meanwhile are not half seen."""
    for _ in range(20):
        audit_record(action="clients.client.viewed", user=cast.coordinator, client_id=cast.mine.pk)
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            while not stop.is_set():
                audit_record(action="clients.client.viewed", user=cast.coordinator, client_id=cast.mine.pk)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    writers = [threading.Thread(target=write) for _ in range(3)]
    for thread in writers:
        thread.start()
    try:
        reports = [verify_chain(batch_size=7) for _ in range(15)]
    finally:
        stop.set()
        for thread in writers:
            thread.join()
    assert not errors
    assert all(report.ok for report in reports), [r.reason for r in reports if not r.ok]
    assert reports[-1].checked > 20
    assert verify_chain().ok
