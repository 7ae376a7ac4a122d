"""Writes for peer sessions, notes, bridging feedback and their notifications."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit import actions
from audit.records import audit_write
from clients.disclosure import covering_consents, record_disclosure
from clients.models import PART2_NOTICE, CaseloadAssignment, Client, Clinician, Consent
from core.models import Program, Role, User
from sessions.billing import BILLING_FIELDS, billing_recompute, billing_recompute_attendances
from sessions.models import (
    LATE_ENTRY_AFTER,
    Attendance,
    AttendanceStatus,
    Channel,
    FeedbackCategory,
    FeedbackItem,
    FeedbackReply,
    FollowUpTask,
    NoteAddendum,
    NotificationKind,
    PeerSession,
    ProgramSessionRules,
    SessionKind,
    SessionStatus,
    TaskClosure,
    TaskKind,
    Topic,
    Urgency,
    is_delivered,
    session_status_errors,
)
from sessions.notifications import IN_APP_AND_EMAIL, notify
from supporters.models import OnCallShift, Supporter
from supporters.services import supporter_may_sign

logger = logging.getLogger(__name__)

SIGNED_MESSAGE = "This note is signed and can no longer be edited; add a dated addendum instead."


def _is_late(start: datetime, at: datetime) -> bool:
    return at - start > LATE_ENTRY_AFTER


@transaction.atomic
def peer_session_save(
    *, session: PeerSession, attendances: list[dict[str, Any]] | None, fields: dict[str, Any]
) -> PeerSession:
    """Create or update a session with its attendance list (replaced whole when given).

    A signed session is locked: the row is re-read under a lock so a save racing a
    signature either lands before it or is refused."""
    now = timezone.now()
    if session.pk:
        locked = PeerSession.objects.select_for_update().only("signed_at", "start").get(pk=session.pk)
        if locked.signed_at is not None:
            raise ValidationError({"narrative": [SIGNED_MESSAGE]})
        old_start = locked.start
    else:
        old_start = None
    narrative_changed = "narrative" in fields and (fields["narrative"] or "") != (session.narrative or "")
    for name, value in fields.items():
        setattr(session, name, value)
    topics = list(dict.fromkeys(session.topics or []))
    if any(topic not in Topic.values for topic in topics):
        raise ValidationError({"topics": [f"Topics must be among: {', '.join(Topic.values)}."]})
    session.topics = topics
    if attendances is not None:
        clients = [a["client"] for a in attendances]
        if len({c.pk for c in clients}) != len(clients):
            raise ValidationError({"attendances": ["Each client can attend a session once."]})
        if any(c.program_id != session.supporter.program_id for c in clients):
            raise ValidationError({"attendances": ["Every client must be in the supporter's program."]})
        if session.kind == SessionKind.ONE_TO_ONE and len(attendances) != 1:
            raise ValidationError({"attendances": ["A one-to-one session has exactly one client."]})
        if not attendances:
            raise ValidationError({"attendances": ["A session needs at least one client."]})
        if any(a.get("wellbeing") is not None and not 1 <= a["wellbeing"] <= 5 for a in attendances):
            raise ValidationError({"attendances": ["Wellbeing is rated from 1 to 5."]})
        attendance_statuses = [a["status"] for a in attendances]
    elif session.pk:
        attendance_statuses = list(session.attendances.values_list("status", flat=True))
    else:
        attendance_statuses = []
    status_errors = session_status_errors(
        status=session.status, start=session.start, attendance_statuses=attendance_statuses, now=now
    )
    if status_errors:
        raise ValidationError(status_errors)
    if session.pk is None or narrative_changed:
        session.entered_late = session.entered_late or _is_late(session.start, now)
    creating = session.pk is None
    # The supporter's program is usually loaded already (the serializer localised the start in it).
    session.program = session.supporter.program
    session.save()
    old_clients: set[int] = set()
    created: list[Attendance] = []
    if attendances is not None:
        if not creating:  # a new session has no attendance to replace
            old_clients = set(session.attendances.values_list("client_id", flat=True))
            session.attendances.all().delete()
        created = Attendance.objects.bulk_create(
            Attendance(session=session, client=a["client"], status=a["status"], wellbeing=a.get("wellbeing"))
            for a in attendances
        )
        client_ids = old_clients | {a["client"].pk for a in attendances}
    else:
        client_ids = set(session.attendances.values_list("client_id", flat=True))
    program = session.program
    days = {session.start.astimezone(program.tzinfo).date()}
    if old_start is not None:
        days.add(old_start.astimezone(program.tzinfo).date())
    recomputed = billing_recompute(program=program, client_ids=client_ids, days=days, as_of=now)
    if creating and attendances is not None:
        # Hand back the new session with its rows as written (billing as just recomputed) and
        # no addenda, so the response and the audit event need not read them back.
        billing = {a.pk: a for a in recomputed}
        for attendance in created:
            if attendance.pk in billing:
                for name in BILLING_FIELDS:
                    setattr(attendance, name, getattr(billing[attendance.pk], name))
        _set_prefetched(session, "attendances", created)
        _set_prefetched(session, "addenda", [])
    audit_write(session, actions.CREATED if creating else actions.UPDATED, client_ids=client_ids)
    # Follow-up tasks: a delivered contact answers those open; a no-show or an attempt opens one.
    rows = created if attendances is not None else list(session.attendances.all())
    delivered = {
        a.client_id
        for a in rows
        if is_delivered(attendance_status=a.status, session_status=session.status, start=session.start, as_of=now)
    }
    if delivered:
        tasks_close_by_contacts(client_ids=delivered, now=now)
    tasks_for_session(session=session, attendances=rows, now=now)
    return session


def _set_prefetched(instance: Any, related_name: str, rows: list[Any]) -> None:
    """What prefetch_related() would leave on the instance for this relation."""
    queryset = getattr(instance, related_name).all()
    queryset._result_cache = rows
    queryset._prefetch_done = True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[related_name] = queryset


def active_credential(supporter: Supporter) -> str:
    """The supporter's current certification as printed under a signature, e.g. 'State CPS #1234'."""
    today = supporter.program.local_today()
    certification = (
        supporter.certifications.filter(Q(expires_on__isnull=True) | Q(expires_on__gte=today))
        .filter(Q(issued_on__isnull=True) | Q(issued_on__lte=today))
        .order_by("-issued_on", "-id")
        .first()
    )
    if certification is None:
        return ""
    return (
        f"{certification.certification_type} #{certification.number}"
        if certification.number
        else (certification.certification_type)
    )


@transaction.atomic
def note_sign(*, session: PeerSession, user: User) -> PeerSession:
    """Sign the note: only its author, once. The conditional UPDATE makes two simultaneous
    signatures give exactly one; the loser gets a validation error."""
    if session.supporter.user_id != user.pk:
        raise PermissionDenied("Only the supporter who wrote the note can sign it.")
    if not (session.narrative or "").strip():
        raise ValidationError({"narrative": ["Write the note before signing it."]})

    if not supporter_may_sign(session.supporter):
        raise ValidationError(
            {"signed_at": ["Your credential has lapsed and this program does not allow signing until it is renewed."]}
        )
    now = timezone.now()
    updated = PeerSession.objects.filter(pk=session.pk, signed_at__isnull=True).update(
        signed_at=now, signed_by=user, signed_credential=active_credential(session.supporter)[:250]
    )
    if updated != 1:
        raise ValidationError({"signed_at": ["This note is already signed."]})
    session.refresh_from_db()
    # Units pending the signature become billable (sessions.billing).
    billing_recompute(
        program=session.program,
        client_ids=set(session.attendances.values_list("client_id", flat=True)),
        days={session.start.astimezone(session.program.tzinfo).date()},
        as_of=now,
    )
    audit_write(session, actions.UPDATED, user=user, action=actions.NOTE_SIGNED)
    return session


@transaction.atomic
def note_cosign(*, session: PeerSession, user: User) -> PeerSession:
    """The supervisor co-signs a signed note (issue 16 item 6): only where the program asks for
    co-signatures, only the author's supervisor (PeerSessionQuerySet.supervised_by), only a signed
    note, once. Only the co-signature columns are written; the note stays as signed. The
    conditional UPDATE makes two simultaneous co-signatures give exactly one."""
    if not PeerSession.objects.supervised_by(user).filter(pk=session.pk).exists():
        raise PermissionDenied("Only the supervisor of the note's author can co-sign it.")
    if not session.program.notes_need_cosignature:
        raise ValidationError({"cosigned_at": ["This program does not ask for co-signatures."]})
    if session.signed_at is None:
        raise ValidationError({"cosigned_at": ["The note is not signed yet; it can be co-signed once signed."]})
    updated = PeerSession.objects.filter(pk=session.pk, signed_at__isnull=False, cosigned_at__isnull=True).update(
        cosigned_at=timezone.now(), cosigned_by=user
    )
    if updated != 1:
        raise ValidationError({"cosigned_at": ["This note is already co-signed."]})
    session.refresh_from_db(fields=["cosigned_at", "cosigned_by"])
    audit_write(session, actions.UPDATED, user=user, action=actions.NOTE_COSIGNED)
    return session


@transaction.atomic
def program_session_rules_save(*, program: Program, fields: dict[str, Any]) -> ProgramSessionRules:
    """Save the program's billing and deadline rules and recompute every attendance's billing."""
    rules, _created = ProgramSessionRules.objects.select_for_update().get_or_create(program=program)
    for name, value in fields.items():
        setattr(rules, name, value)
    rules.full_clean()
    rules.save()
    billing_recompute_attendances(program=program, attendances=Attendance.objects.all())
    audit_write(rules, actions.CREATED if _created else actions.UPDATED, detail={"fields": sorted(fields)})
    return rules


@transaction.atomic
def note_addendum_add(*, session: PeerSession, user: User, text: str) -> NoteAddendum:
    if session.supporter.user_id != user.pk:
        raise PermissionDenied("Only the supporter who wrote the note can add to it.")
    if session.signed_at is None:
        raise ValidationError({"text": ["The note is still a draft; edit it instead of adding an addendum."]})
    if not text.strip():
        raise ValidationError({"text": ["Write the addendum."]})
    addendum = NoteAddendum.objects.create(
        session=session, author=user, text=text.strip(), entered_late=_is_late(session.start, timezone.now())
    )
    audit_write(
        addendum, actions.CREATED, user=user, client_ids=session.attendances.values_list("client_id", flat=True)
    )
    return addendum


def feedback_deadline(*, program_id: int, urgency: str, sent_at: datetime, tzinfo: Any) -> datetime:
    """When an unacknowledged item escalates: hours, business days (Mon–Fri in the program's
    zone) or calendar days after it was sent, by the program's rules."""
    rules = ProgramSessionRules.for_program(program_id)
    if urgency == Urgency.IMMEDIATE:
        return sent_at + timedelta(hours=rules.deadline_immediate_hours)
    if urgency == Urgency.ROUTINE:
        return sent_at + timedelta(days=rules.deadline_routine_days)
    local = sent_at.astimezone(tzinfo)
    remaining = rules.deadline_soon_business_days
    while remaining:
        local += timedelta(days=1)
        if local.weekday() < 5:
            remaining -= 1
    # Adding days to a zoned datetime moves the wall clock, so a DST change keeps the local time.
    return local


def _feedback_notice(item: FeedbackItem) -> dict[str, Any]:
    """What every notice about a feedback item carries: its program, category and urgency, and
    the link to it (nothing else of the item)."""
    return {
        "program": item.program,
        "link": f"/feedback/{item.pk}/",
        "category": item.category,
        "urgency": item.urgency,
    }


def _coordinator_users(program_id: int) -> list[User]:
    return list(User.objects.filter(memberships__program_id=program_id, memberships__role=Role.COORDINATOR))


@transaction.atomic
def feedback_send(
    *,
    author: Supporter,
    client: Client,
    recipients: list[Clinician],
    category: str,
    urgency: str,
    text: str,
    session: PeerSession | None = None,
    emergency_justification: str = "",
) -> FeedbackItem:
    """Send feedback about a client to clinicians on the client's care team.

    Every recipient must be covered today by an active consent (care team or naming them).
    Only an immediate safety item may go without one, with a justification: it is recorded
    as an emergency disclosure and the coordinators are told. Otherwise nothing is created."""
    program = author.program
    today = program.local_today()
    if client.program_id != program.id or not (
        CaseloadAssignment.objects.filter(client=client, supporter=author).active_on(today).exists()
    ):
        raise ValidationError({"client": ["This client is not on your caseload."]})
    if not text.strip():
        raise ValidationError({"text": ["Write what the clinician should know."]})
    recipients = list({clinician.pk: clinician for clinician in recipients}.values())
    if not recipients:
        raise ValidationError({"recipients": ["Choose at least one clinician."]})
    care_team = set(client.care_team.values_list("id", flat=True))
    outside = [c for c in recipients if c.pk not in care_team]
    if outside:
        raise ValidationError(
            {"recipients": [f"{', '.join(c.full_name for c in outside)} is not on this client's care team."]}
        )
    if session is not None and (
        session.supporter_id != author.pk or not session.attendances.filter(client=client).exists()
    ):
        raise ValidationError({"session": ["Link one of your sessions with this client."]})
    # The disclosure gate's consent rule (clients.disclosure): the treatment switch does not
    # cover feedback (roles.md "Consent rules for bridging feedback": a consent or the exception).
    covering, uncovered = feedback_coverage(client=client, program=program, recipients=recipients)
    emergency = False
    if uncovered:
        if category == FeedbackCategory.SAFETY and urgency == Urgency.IMMEDIATE:
            if not emergency_justification.strip():
                raise ValidationError(
                    {
                        "emergency_justification": [
                            "No active consent covers every recipient. An immediate safety item may still be sent "
                            "as an emergency disclosure: say why it cannot wait."
                        ]
                    }
                )
            emergency = True
        else:
            raise ValidationError(
                {
                    "recipients": [
                        f"The client has no active consent to share with {', '.join(c.full_name for c in uncovered)}; "
                        "nothing was sent."
                    ]
                }
            )
    now = timezone.now()
    item = FeedbackItem.objects.create(
        program=program,
        client=client,
        author=author,
        category=category,
        urgency=urgency,
        text=text.strip(),
        session=session,
        deadline=feedback_deadline(program_id=program.id, urgency=urgency, sent_at=now, tzinfo=program.tzinfo),
        is_emergency=emergency,
        emergency_justification=emergency_justification.strip() if emergency else "",
        redisclosure_notice=PART2_NOTICE if program.is_part2_program else "",
    )
    item.recipients.set(recipients)
    item.consents.set({consent.pk for consents in covering.values() for consent in consents})
    about = _feedback_notice(item)
    recipient_users = [c.user for c in recipients]
    if urgency in (Urgency.IMMEDIATE, Urgency.SOON):
        notify(recipients=recipient_users, kind=NotificationKind.FEEDBACK_URGENT, **about)
    else:  # a routine item waits in the inbox: no e-mail
        notify(recipients=recipient_users, kind=NotificationKind.FEEDBACK_NEW, channels=(Channel.IN_APP,), **about)
    if emergency:
        notify(recipients=_coordinator_users(program.id), kind=NotificationKind.FEEDBACK_EMERGENCY, **about)
        logger.warning("emergency disclosure recorded: feedback item %s", item.pk)
    record_disclosure(
        action=actions.DISCLOSURE_FEEDBACK_EMERGENCY if emergency else actions.DISCLOSURE_FEEDBACK,
        user=author.user,
        obj=item,
        recipients=recipients,
        consents=covering,
        detail={"supporter": author.pk},  # a supporter may have no login of their own
    )
    return item


def feedback_coverage(
    *, client: Client, program: Program, recipients: list[Clinician]
) -> tuple[dict[int, list[Consent]], list[Clinician]]:
    """The consents that let feedback about the client reach each recipient today, and the
    recipients no consent covers (the gate's consent basis: clients.disclosure.covering_consents)."""
    covering: dict[int, list[Consent]] = {
        clinician.pk: list(
            covering_consents(clinician_ids=[clinician.pk], program_ids=[program.id]).filter(client=client).distinct()
        )
        for clinician in recipients
    }
    return covering, [c for c in recipients if not covering[c.pk]]


def _recipient_clinician(item: FeedbackItem, user: User) -> Clinician | None:
    return item.recipients.filter(user_id=user.pk).first()


@transaction.atomic
def feedback_acknowledge(*, item: FeedbackItem, user: User) -> FeedbackItem:
    """A recipient acknowledges the item. The first acknowledgment stands; later ones change nothing."""
    if _recipient_clinician(item, user) is None:
        raise PermissionDenied("Only a clinician the item was sent to can acknowledge it.")
    acknowledged = FeedbackItem.objects.filter(pk=item.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=user
    )
    item.refresh_from_db()
    if acknowledged:  # the first acknowledgment is the one that happened
        audit_write(item, actions.UPDATED, user=user, action=actions.FEEDBACK_ACKNOWLEDGED)
    return item


@transaction.atomic
def feedback_reply(*, item: FeedbackItem, user: User, text: str) -> FeedbackReply:
    """Recipients and the author write in the item's thread; the other side is notified."""
    clinician = _recipient_clinician(item, user)
    is_author = item.author.user_id == user.pk
    if clinician is None and not is_author:
        raise PermissionDenied("Only the author and the recipients can reply.")
    if not text.strip():
        raise ValidationError({"text": ["Write a reply."]})
    recipients = list(item.recipients.select_related("user"))
    if is_author and clinician is None:
        # The author's reply is a new disclosure: a revoked or expired consent stops it at once
        # (roles.md). Only an emergency item's thread goes on under its exception.
        covering, uncovered = feedback_coverage(client=item.client, program=item.program, recipients=recipients)
        if uncovered and not item.is_emergency:
            raise ValidationError(
                {
                    "text": [
                        f"The client's consent no longer covers {', '.join(c.full_name for c in uncovered)}; "
                        "the reply was not sent."
                    ]
                }
            )
    reply = FeedbackReply.objects.create(item=item, author=user, text=text.strip())
    if is_author and clinician is None:
        record_disclosure(
            action=actions.DISCLOSURE_FEEDBACK_REPLY,
            user=user,
            obj=item,
            recipients=recipients,
            consents=covering,
            detail={"reply": reply.pk},
        )
    else:  # a clinician's answer discloses nothing of peer support; it is recorded as the write it is
        audit_write(reply, actions.CREATED, user=user, client_ids=[item.client_id])
    if clinician is not None and item.acknowledged_at is None:
        # Answering is acknowledging: the clinician clearly saw it.
        FeedbackItem.objects.filter(pk=item.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=reply.created_at, acknowledged_by=user
        )
    others = [c.user for c in recipients] if is_author else [item.author.user]
    notify(
        recipients=[u for u in others if u is not None and u.pk != user.pk],
        kind=NotificationKind.FEEDBACK_REPLY,
        **_feedback_notice(item),
    )
    return reply


def escalate_once(*, queryset: QuerySet[Any], now: datetime, escalate: Callable[[Any], None]) -> int:
    """Mark each row of `queryset` (overdue, by its model's rule) escalated at `now` and hand it
    to `escalate` (notices, audit) in the same transaction. A conditional update claims each row
    first, so every row escalates once, even with two runs at a time (beat and a runner)."""
    model = queryset.model
    count = 0
    for pk in list(queryset.filter(escalated_at__isnull=True).values_list("pk", flat=True)):
        with transaction.atomic():
            if not model.objects.filter(pk=pk, escalated_at__isnull=True).update(escalated_at=now):
                continue  # another run claimed it
            escalate(model.objects.get(pk=pk))
            count += 1
    return count


def feedback_escalate_overdue(*, now: datetime | None = None) -> int:
    """Mark unacknowledged items past their deadline as escalated, put them on the coordinators'
    worklist and remind the recipients. Each item escalates once, even with two runs at a time."""

    def escalate(item: FeedbackItem) -> None:
        about = _feedback_notice(item)
        notify(recipients=_coordinator_users(item.program_id), kind=NotificationKind.FEEDBACK_ESCALATED, **about)
        recipient_users = User.objects.filter(clinician_profiles__feedback_items=item.pk)
        notify(recipients=recipient_users, kind=NotificationKind.FEEDBACK_REMINDER, **about)
        audit_write(item, actions.UPDATED, action=actions.FEEDBACK_ESCALATED)

    now = now or timezone.now()
    return escalate_once(
        queryset=FeedbackItem.objects.overdue(now=now).select_related("program"), now=now, escalate=escalate
    )


# --- follow-up tasks (issue 17 item 4; discharges and requests for contact open them too) --------


@transaction.atomic
def task_open(
    *,
    kind: str,
    client: Client,
    source: str,
    assignee: Supporter | None,
    due_at: datetime,
    target_at: datetime | None = None,
    since: datetime | None = None,
    requested_by: User | None = None,
    note: str = "",
    channels: Collection[str] = (Channel.IN_APP,),
    urgent: bool = False,
    now: datetime | None = None,
) -> FollowUpTask:
    """Open a follow-up task about `client` for `assignee` (a supporter), once per `source` (ids
    only, e.g. "session:12", "appointment:40"): opening the same source again returns the task
    already there and tells nobody twice. The assignee is told on `channels` (urgent: in their
    quiet hours too, for someone on call). Without an assignee the task goes straight to the
    program's coordinators: it is escalated at once and they are told. A delivered peer contact
    from `since` (default: now) on closes it (tasks_close_by_contacts); so does task_complete."""
    now = now or timezone.now()
    if target_at is not None and target_at > due_at:
        raise ValidationError({"target_at": ["The target must come before the due time."]})
    if assignee is not None and assignee.program_id != client.program_id:
        raise ValidationError({"assignee": ["The supporter must work in the client's program."]})
    task, created = FollowUpTask.objects.get_or_create(
        client=client,
        kind=kind,
        source=source,
        defaults={
            "program_id": client.program_id,
            "assignee": assignee,
            "since": since or now,
            "due_at": due_at,
            "target_at": target_at,
            "requested_by": requested_by,
            "note": note.strip(),
            "escalated_at": None if assignee is not None else now,
        },
    )
    if not created:
        return task
    raised = actions.CONTACT_REQUEST_RAISED if kind == TaskKind.CONTACT_REQUEST else None
    audit_write(task, actions.CREATED, user=requested_by, action=raised, detail={"kind": kind, "source": source})
    # Nobody to take it: the coordinators are told at once, by e-mail as well.
    recipients = [assignee.user] if assignee is not None else _coordinator_users(client.program_id)
    notify(
        recipients=recipients,
        program=client.program,
        kind=NotificationKind.CONTACT_REQUESTED if kind == TaskKind.CONTACT_REQUEST else NotificationKind.TASK_OPENED,
        channels=channels if assignee is not None else (*channels, Channel.EMAIL),
        urgent=urgent,
        category=task.kind,
        link=task.link,
    )
    return task


@transaction.atomic
def task_complete(*, task: FollowUpTask, user: User, note: str) -> FollowUpTask:
    """Close a task by hand, with a note saying what was done: its assignee or a coordinator of
    its program. Once: a second closing (or a contact closing it first) is refused."""
    if not task.handled_by(user):
        raise PermissionDenied("Only the supporter it is assigned to or a coordinator can close this task.")
    if not note.strip():
        raise ValidationError({"note": ["Say what was done."]})
    if len(note) > 2000:
        raise ValidationError({"note": ["At most 2,000 characters."]})
    closed = FollowUpTask.objects.filter(pk=task.pk, done_at__isnull=True).update(
        done_at=timezone.now(), done_how=TaskClosure.BY_HAND, done_by=user, done_note=note.strip()
    )
    if not closed:
        raise ValidationError({"done_at": ["This task is already done."]})
    task.refresh_from_db()
    audit_write(task, actions.UPDATED, user=user, action=_closing_code(task), detail={"how": TaskClosure.BY_HAND})
    return task


def _closing_code(task: FollowUpTask) -> str:
    return actions.CONTACT_REQUEST_ANSWERED if task.kind == TaskKind.CONTACT_REQUEST else actions.TASK_COMPLETED


def tasks_close_by_contacts(*, client_ids: Iterable[int], now: datetime | None = None) -> int:
    """Close the open tasks of these clients that a delivered peer contact (sessions.models:
    Attendance.objects.delivered) starting at or after the task's `since` answers, each with the
    first such session. Called wherever contacts are written (peer_session_save, the import)."""
    now = now or timezone.now()
    closed = 0
    for task in FollowUpTask.objects.open().filter(client_id__in=list(client_ids)):
        contact = (
            Attendance.objects.delivered(as_of=now)
            .filter(client_id=task.client_id, session__start__gte=task.since)
            .order_by("session__start", "session_id")
            .values_list("session_id", flat=True)
            .first()
        )
        if contact is None:
            continue
        if FollowUpTask.objects.filter(pk=task.pk, done_at__isnull=True).update(
            done_at=now, done_how=TaskClosure.CONTACT, done_session_id=contact
        ):
            audit_write(
                task,
                actions.UPDATED,
                action=_closing_code(task),
                detail={"how": TaskClosure.CONTACT, "session": contact},
            )
            closed += 1
    return closed


def tasks_for_session(*, session: PeerSession, attendances: list[Attendance], now: datetime) -> list[FollowUpTask]:
    """A no-show or an attempted contact at a held session opens a follow-up task for the client's
    primary supporter (the session's supporter when the client has none), due after the program's
    `followup_due_days`; a delivered contact answers it from the session's start on."""
    if session.status != SessionStatus.HELD:
        return []
    kinds = {AttendanceStatus.NO_SHOW: TaskKind.NO_SHOW, AttendanceStatus.ATTEMPTED: TaskKind.ATTEMPTED_CONTACT}
    missed = [a for a in attendances if a.status in kinds]
    if not missed:
        return []
    rules = ProgramSessionRules.for_program(session.program_id)
    day = session.start.astimezone(session.program.tzinfo).date()
    primaries = {
        a.client_id: a.supporter
        for a in CaseloadAssignment.objects.filter(client_id__in=[a.client_id for a in missed])
        .primary_on(day)
        .select_related("supporter__user")
    }
    return [
        task_open(
            kind=kinds[AttendanceStatus(attendance.status)],
            client=attendance.client,
            source=f"session:{session.pk}",
            assignee=primaries.get(attendance.client_id, session.supporter),
            due_at=now + timedelta(days=rules.followup_due_days),
            since=session.start,
            now=now,
        )
        for attendance in missed
    ]


@transaction.atomic
def contact_request_raise(
    *,
    client: Client,
    requested_by: User | None,
    note: str = "",
    source: str = "",
    now: datetime | None = None,
) -> FollowUpTask:
    """Someone asks peer support to contact the client now: a clinician today (page and API),
    the client through the portal later. It becomes a follow-up task of kind contact_request for
    whoever is on call (OnCallShiftQuerySet.on_call), who is told at once in the app and by text
    message, in their quiet hours too; it is due after the program's contact_request_minutes and
    escalates to the coordinators then (task_escalate_overdue). With no one on call it goes
    straight to the coordinators. `requested_by`, when given, must be able to see the client;
    `source` makes a retry idempotent (default: a new request each call). Audited as
    peer_sessions.contact_request.raised; the answer as peer_sessions.contact_request.answered."""
    if len(note) > 1000:
        raise ValidationError({"note": ["At most 1,000 characters."]})
    if requested_by is not None and not Client.objects.visible_to(requested_by).filter(pk=client.pk).exists():
        raise PermissionDenied("You can ask for contact only with a client you may see.")
    now = now or timezone.now()
    shift = OnCallShift.objects.on_call(client.program_id, at=now)
    minutes = ProgramSessionRules.for_program(client.program_id).contact_request_minutes
    return task_open(
        kind=TaskKind.CONTACT_REQUEST,
        client=client,
        source=source or f"request:{uuid.uuid4().hex}",
        assignee=shift.supporter if shift is not None else None,
        due_at=now + timedelta(minutes=minutes),
        since=now,
        requested_by=requested_by,
        note=note,
        channels=(Channel.IN_APP, Channel.SMS),
        urgent=True,
        now=now,
    )


def task_escalate_overdue(*, now: datetime | None = None) -> int:
    """Tasks still open at their due time go to the program's coordinators (the home's overdue
    tasks, /tasks/?state=overdue) and the assignee is reminded, once each. A request for contact
    is the on-call supporter's: its escalation reaches the coordinators by text too, in their
    quiet hours as well (they stand behind the on-call rota)."""

    def escalate(task: FollowUpTask) -> None:
        urgent = task.kind == TaskKind.CONTACT_REQUEST
        channels = (Channel.IN_APP, Channel.EMAIL, Channel.SMS) if urgent else IN_APP_AND_EMAIL
        program = task.program
        notify(
            recipients=_coordinator_users(program.id),
            program=program,
            kind=NotificationKind.TASK_ESCALATED,
            channels=channels,
            urgent=urgent,
            category=task.kind,
            link=task.link,
        )
        if task.assignee is not None:
            notify(
                recipients=[task.assignee.user],
                program=program,
                kind=NotificationKind.TASK_REMINDER,
                category=task.kind,
                link=task.link,
            )
        audit_write(task, actions.UPDATED, action=actions.TASK_ESCALATED)

    now = now or timezone.now()
    overdue = FollowUpTask.objects.overdue(now=now).select_related("program", "assignee__user")
    return escalate_once(queryset=overdue, now=now, escalate=escalate)
