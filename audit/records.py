"""The audit trail: who did what to which client's record, when and from where.

Append-only for the application: AuditEvent.save() refuses updates, delete() and
the queryset's update()/delete() refuse, and on PostgreSQL a trigger refuses
UPDATE and DELETE on the table (migration accounts.0002). Tamper-evident: each
row's hash is SHA-256 over its canonical fields plus the previous row's hash
in its chain: one chain per program (an event about no single program goes on
the program-less chain), each with its head (last id, hash, count) in
AuditChainHead, so an edited, removed or truncated row shows up in
`manage.py verify_audit_chain`, which walks every chain.

Writers of one chain are serialised on its head row (SELECT ... FOR UPDATE on
PostgreSQL, inside a single statement so the lock is held only for that
statement and its commit; SQLite has a single writer already), so each chain
stays linear under concurrent requests, and writers of different programs never
wait on each other. See `_append` and docs/security.md.

Every code comes from the one vocabulary, audit/actions.py. Services
record the writes they make with `audit_write(obj, verb)`; pages call
`audit_record(...)` or decorate a view with `@audited(...)`; see docs/security.md.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, models, router, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from audit import actions as audit_actions
from audit.models import GENESIS_HASH, PROGRAMLESS_CHAIN, AuditChainHead, AuditEvent, AuditEventQuerySet, chain_of
from core.request_cache import current_request
from core.scoping import role_program_ids

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.models import User

try:
    import fcntl
except ImportError:  # not POSIX: SQLite writers fall back to its own busy wait
    fcntl = None  # type: ignore[assignment]


def _id_list(ids: Iterable[int]) -> str:
    unique = sorted({int(i) for i in ids if i is not None})
    return f",{','.join(map(str, unique))}," if unique else ""


def _client_ip(request: HttpRequest | None) -> str | None:
    # REMOTE_ADDR only: a forwarded header is whatever the caller wants it to be.
    # Behind a proxy, have the proxy set REMOTE_ADDR (e.g. gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR") or None if request is not None else None


def _channel(request: HttpRequest | None) -> str:
    """Which door an event came through, from the request's path (no request: a command or task)."""
    if request is None:
        return "command"
    path = getattr(request, "path", "") or ""
    if path.startswith("/api/") or path.startswith("/fhir/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "page"


def _emergency_client_ids(user: Any, client_ids: set[int]) -> set[int]:
    if not client_ids or user is None or not getattr(user, "is_authenticated", False):
        return set()
    # Emergency grants and clients sit above the audit trail (clients/): named by label, as
    # Django names the user model, so the bottom layers never import the ones above them.
    return client_ids & apps.get_model("clients", "EmergencyAccess").objects.granted_client_ids(user)


def client_ids_of(obj: Any) -> list[int]:
    """Which clients an object is about: the client itself, its `client_id`, or
    the clients attending it (peer sessions). Models can define `audit_client_ids()`."""
    if obj is None:
        return []
    if hasattr(obj, "audit_client_ids"):
        return list(obj.audit_client_ids())
    if obj._meta.label == "clients.Client":
        return [obj.pk]
    if getattr(obj, "client_id", None) is not None:
        return [obj.client_id]
    if hasattr(obj, "attendances"):
        return [a.client_id for a in obj.attendances.all()]
    return []


# The foreign keys that lead from a record to its program, nearest first.
_PROGRAM_PATHS = ("client", "supporter", "session", "item", "goal", "certification")


def program_id_of(obj: Any) -> int | None:
    """The program a record belongs to: its own `program_id`, or that of its client, supporter,
    session, feedback item, goal or credential (followed as far as it takes)."""
    if obj is None:
        return None
    if obj._meta.label == "accounts.Program":
        return obj.pk
    if getattr(obj, "program_id", None) is not None:
        return obj.program_id
    for name in _PROGRAM_PATHS:
        try:
            field = obj._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if field.many_to_one and getattr(obj, field.attname, None) is not None:
            return program_id_of(getattr(obj, name))
    return None


def audit_record(
    *,
    action: str,
    request: HttpRequest | None = None,
    user: User | AnonymousUser | None = None,
    obj: models.Model | None = None,
    objects: Iterable[models.Model] | None = None,
    object_type: str = "",
    object_id: str | int | None = None,
    client_id: int | None = None,
    client_ids: Iterable[int] = (),
    program_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain and return it.

    Pass `obj` for one record (client and program are worked out from it),
    `objects` for a list page (their clients are named in one event), or the
    ids directly. Never put names, record numbers or birth dates in `detail`.
    If the user reached any of the clients through emergency access, the event
    is marked `emergency`. `action` must be a code of audit/actions.py.
    Without `request`, the request being answered (if any) gives the user, the
    address and the channel (`detail["via"]`: api, admin, page; command or task
    code passes its own).
    """
    if action not in audit_actions.ALL:
        raise ValueError(f"{action!r} is not an audit action (audit/actions.py)")
    if request is None:
        request = current_request()
    if user is None and request is not None:
        user = getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    clients: set[int] = set(client_ids)
    programs: set[int] = set()
    if client_id is not None:
        clients.add(client_id)
    if program_id is not None:
        programs.add(program_id)
    items = list(objects or [])
    if obj is not None:
        items.append(obj)
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk if object_id is None else object_id
    for item in items:
        clients.update(client_ids_of(item))
        item_program = program_id_of(item)
        if item_program is not None:
            programs.add(item_program)
    if items and not object_type:
        object_type = items[0]._meta.label_lower
    if clients and not programs:
        programs.update(
            apps.get_model("clients", "Client")
            .objects.filter(id__in=clients)
            .values_list("program_id", flat=True)
            .distinct()
        )
    detail = dict(detail or {})
    detail.setdefault("via", _channel(request))
    if obj is None and len(items) > 0:
        detail.setdefault("count", len(items))
    single_program = next(iter(programs)) if len(programs) == 1 else None
    roles = ""
    if user is not None:
        held = role_program_ids(user)
        wanted = programs or held.any()
        roles = ",".join(sorted({f"{role}@{p}" for p in wanted for role in held.roles_in(p)}))
    emergency = bool(_emergency_client_ids(user, clients))
    user_agent = (request.META.get("HTTP_USER_AGENT", "") if request is not None else "")[:300]
    event = AuditEvent(
        at=timezone.now(),
        user_id=user.pk if user is not None else None,
        username=user.get_username() if user is not None else "",
        roles=roles[:200],
        program_id=single_program,
        program_ids=_id_list(programs),
        client_id=next(iter(clients)) if len(clients) == 1 else None,
        client_ids=_id_list(clients),
        object_type=object_type[:100],
        object_id="" if object_id is None else str(object_id)[:64],
        action=action[:100],
        emergency=emergency,
        ip=_client_ip(request),
        user_agent=user_agent,
        detail=detail,
    )
    # Round-trip through JSON now so the hash covers exactly what the database returns.
    event.detail = json.loads(json.dumps(event.detail, default=str))
    _append(event)
    return event


def audit_write(
    obj: models.Model,
    verb: str,
    *,
    user: User | AnonymousUser | None = None,
    detail: dict[str, Any] | None = None,
    action: str | None = None,
    client_ids: Iterable[int] = (),
) -> AuditEvent:
    """Record a write a service has just made to `obj`: `<record>.<verb>` of the vocabulary
    (or `action`, a named code such as NOTE_SIGNED). Call it after the change succeeded,
    inside the same transaction, so nothing is recorded for a write that did not happen."""
    code = action or audit_actions.code_for(obj, verb)
    if verb == audit_actions.DELETED and obj.pk is None:
        raise ValueError("record a deletion before the row is deleted, while its id is known")
    return audit_record(action=code, user=user, obj=obj, detail=detail, client_ids=client_ids)


def _append(event: AuditEvent) -> None:
    """Link the event to its chain's head and store both.

    Everything above ran without a lock; this is the only serialised part, and only
    against writers of the same chain (the event's program, or the program-less chain):
    writes of different programs never wait on each other. On PostgreSQL it is one
    statement (lock the head, insert, move the head), so the row lock is held for that
    statement and its commit, not across client round trips. SQLite already has one
    writer at a time (BEGIN IMMEDIATE)."""
    db = router.db_for_write(AuditEvent)
    event.chain = chain_of(event.program_id)
    if connections[db].vendor == "postgresql":
        with transaction.atomic(using=db):
            if _append_in_one_statement(event, db):
                return
            _create_head(event.chain, db)  # the chain's first event (or a flushed database)
            if _append_in_one_statement(event, db):
                return
        raise RuntimeError("The audit chain head could not be locked.")
    with _sqlite_writer_queue(db), transaction.atomic(using=db):
        head = _locked_head(event.chain, db)
        event.prev_hash = head.last_hash
        event.hash = event.compute_hash()
        event.save(using=db)
        head.last_id = event.pk
        head.last_hash = event.hash
        head.count += 1
        head.save(update_fields=["last_id", "last_hash", "count"])


@contextlib.contextmanager
def _sqlite_writer_queue(db: str) -> Iterator[None]:
    """Queue SQLite audit writers on a file lock before they ask for the database's write lock.

    SQLite makes a blocked writer poll (its busy handler sleeps 1, 2, 5 … 100 ms between
    tries), so with every request appending an event, five gunicorn workers spent most of
    their time asleep while the lock sat free. flock() waiters are woken as soon as it is
    released. Skipped inside an enclosing transaction (it already holds SQLite's write lock:
    BEGIN IMMEDIATE), for in-memory databases and where flock does not exist."""
    connection = connections[db]
    name = str(connection.settings_dict.get("NAME") or "")
    if fcntl is None or connection.in_atomic_block or not name or "memory" in name:
        yield
        return
    with open(f"{name}.audit-lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _create_head(chain: int, db: str) -> None:
    """The chain's head at the genesis hash, unless a concurrent writer made it first."""
    connection = connections[db]
    head_table = connection.ops.quote_name(AuditChainHead._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {head_table} (chain, last_id, last_hash, count) VALUES (%s, 0, %s, 0) "  # noqa: S608
            "ON CONFLICT (chain) DO NOTHING",
            [chain, GENESIS_HASH],
        )


def _append_in_one_statement(event: AuditEvent, db: str) -> bool:
    """PostgreSQL: the chain's head row is locked (FOR UPDATE) before the insert reads it, the
    event's id is drawn after the lock (so within a chain id order is chain order), and the
    hash is SHA-256 of `prev_hash + "\\n" + canonical`, the same bytes chain_hash() hashes
    (canonical JSON is ASCII). False when the chain has no head yet."""
    connection = connections[db]
    fields = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key and f.name not in ("prev_hash", "hash")]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = [f.get_db_prep_save(getattr(event, f.attname), connection) for f in fields]
    event_table = connection.ops.quote_name(AuditEvent._meta.db_table)
    head_table = connection.ops.quote_name(AuditChainHead._meta.db_table)
    sql = f"""
        WITH head AS (
            SELECT last_hash FROM {head_table} WHERE chain = %s FOR UPDATE
        ), event AS (
            INSERT INTO {event_table} ({columns}, prev_hash, hash)
            SELECT {", ".join(["%s"] * len(fields))}, head.last_hash,
                   encode(sha256(convert_to(head.last_hash || chr(10) || %s, 'UTF8')), 'hex')
            FROM head
            RETURNING id, prev_hash, hash
        ), moved AS (
            UPDATE {head_table} SET last_id = event.id, last_hash = event.hash, count = {head_table}.count + 1
            FROM event WHERE {head_table}.chain = %s
        )
        SELECT id, prev_hash, hash FROM event
    """  # noqa: S608 - table and column names come from the model, every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, [event.chain, *values, event.canonical(), event.chain])
        found = cursor.fetchone()
    if found is None:
        return False
    event.pk, event.prev_hash, event.hash = found
    event._state.adding, event._state.db = False, db
    return True


def _locked_head(chain: int, db: str) -> AuditChainHead:
    heads = AuditChainHead.objects.using(db).select_for_update()
    head = heads.filter(chain=chain).first()
    if head is None:
        AuditChainHead.objects.using(db).get_or_create(chain=chain)
        head = heads.get(chain=chain)
    return head


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""
    chains: int = 0


@dataclass
class _ChainWalk:
    prev: str = GENESIS_HASH
    count: int = 0
    last_id: int = 0


def verify_chain(*, batch_size: int = 2000) -> ChainReport:
    """Walk every chain (one per program, the program-less one, and the installation's single
    chain of the rows written before chains per program) in one pass in id order, which within
    a chain is chain order; report the first row whose hash, link or chain is wrong, and a
    head that does not match its chain's last row or length (rows removed from the end, or a
    whole chain), or a chain without a head.

    The heads and every batch are read in one snapshot (REPEATABLE READ on PostgreSQL, one
    read transaction on SQLite), so rows appended while it runs are neither half seen nor
    taken for a break: the snapshot holds them and the head's update together, or neither."""
    db = router.db_for_write(AuditEvent)  # the primary: a replica may lag behind the heads
    connection = connections[db]
    outer = connection.in_atomic_block  # a caller's transaction (a test's) keeps its own snapshot rules
    walks: dict[int | None, _ChainWalk] = {}
    checked = 0
    with transaction.atomic(using=db):
        if connection.vendor == "postgresql" and not outer:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        heads = {head.chain: head for head in AuditChainHead.objects.using(db)}
        rows = AuditEvent.objects.using(db).order_by("id")
        last_id = 0
        while True:
            batch = list(rows.filter(id__gt=last_id)[:batch_size])
            if not batch:
                break
            for event in batch:
                if event.chain is not None and event.chain != chain_of(event.program_id):
                    return ChainReport(False, checked, event.pk, "it is on another program's chain than its own")
                walk = walks.setdefault(event.chain, _ChainWalk())
                if event.prev_hash != walk.prev:
                    return ChainReport(False, checked, event.pk, "its link to the previous row does not match")
                if event.compute_hash() != event.hash:
                    return ChainReport(False, checked, event.pk, "its content does not match its hash")
                walk.prev, walk.count, walk.last_id = event.hash, walk.count + 1, event.pk
                last_id = event.pk
                checked += 1
    for chain, walk in walks.items():
        if chain not in heads:
            return ChainReport(False, checked, walk.last_id, f"the chain {_chain_name(chain)} has no chain head")
    for chain, head in heads.items():
        walk = walks.get(chain, _ChainWalk())
        if head.last_hash != walk.prev or head.count != walk.count:
            return ChainReport(
                False,
                checked,
                head.last_id or None,
                f"the chain head {_chain_name(chain)} does not match its last row (rows removed)",
            )
    return ChainReport(True, checked, chains=len(walks))


def _chain_name(chain: int | None) -> str:
    if chain is None:
        return "of the rows written before chains per program"
    return "of events about no single program" if chain == PROGRAMLESS_CHAIN else f"of program {chain}"


def disclosures_for_client(client_id: int) -> AuditEventQuerySet:
    """Disclosures of a client's information to clinicians (feedback items and
    any other `disclosure.*` action), newest first. Scope the caller first:
    only show this for a client they can see."""
    return AuditEvent.objects.for_client(client_id).filter(action__startswith="disclosure.").order_by("-at", "-id")


def audited(action: str, *, object_type: str = "", client_kwarg: str | None = None) -> Callable:
    """Record the read `action` after a page answered a GET or HEAD with 2xx. The view names
    what it showed: `request.audit_object` (one record), `request.audit_objects` (the records
    of a list) and/or `request.audit_client_ids` (clients shown without their records);
    `client_kwarg` names the URL argument holding the client's id; `request.audit_skip` says
    the view recorded its own event (a CSV export of the list). A POST records nothing here:
    the service that makes a write records it, and only when it happened.

        @login_required
        @audited(actions.CLIENT_VIEWED, client_kwarg="pk")
        def client_detail(request, pk): ...
    """
    if action not in audit_actions.ALL:
        raise ValueError(f"{action!r} is not an audit action (audit/actions.py)")

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = view(request, *args, **kwargs)
            user = getattr(request, "user", None)
            if (
                request.method in ("GET", "HEAD")
                and 200 <= response.status_code < 300  # a redirect shows nothing
                and user is not None
                and user.is_authenticated
                # A download that records its own event (base.exports): one event per export.
                and not getattr(request, "audit_skip", False)
            ):
                client_id = kwargs.get(client_kwarg) if client_kwarg else None
                audit_record(
                    action=action,
                    request=request,
                    obj=getattr(request, "audit_object", None),
                    objects=getattr(request, "audit_objects", None),
                    object_type=object_type,
                    client_id=int(client_id) if client_id is not None else None,
                    client_ids=getattr(request, "audit_client_ids", ()),
                )
            return response

        return wrapper

    return decorator
