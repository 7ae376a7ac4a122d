"""Writes for peer sessions, notes, bridging feedback and their notifications."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from collections.abc import Callable, Collection, Iterable
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import actions
from audit.records import audit_record, audit_write
from clients.disclosure import covering_consents, record_disclosure
from clients.models import (
    PART2_NOTICE,
    TRANSITION_KINDS,
    AppointmentStatus,
    CaseloadAssignment,
    Client,
    ClinicalAppointment,
    Clinician,
    Consent,
    client_of,
    followup_window,
)
from core.jobs import LEASE, claim_job, dispatch, heartbeat, holds_claim, requeue_fields
from core.models import Program, Role, User
from core.scoping import role_program_ids
from sessions.billing import BILLING_FIELDS, billing_recompute, billing_recompute_attendances
from sessions.delivery import DeliveryResult, post_communication
from sessions.fhir import communication_json
from sessions.meetings import meeting_url
from sessions.models import (
    DRAFT_FORM,
    DRAFT_KEEP,
    DRAFT_MAX_CHARS,
    LATE_ENTRY_AFTER,
    MAX_SERIES_OCCURRENCES,
    PENDING_DELIVERY_STATUSES,
    Attendance,
    AttendanceStatus,
    CalendarFeed,
    Channel,
    DeliveryStatus,
    Draft,
    FeedbackCategory,
    FeedbackDelivery,
    FeedbackItem,
    FeedbackReply,
    FhirEndpoint,
    FollowUpTask,
    Modality,
    NoteAddendum,
    NotificationKind,
    PeerSession,
    ProgramSessionRules,
    SeriesException,
    SessionKind,
    SessionSeries,
    SessionStatus,
    TaskClosure,
    TaskKind,
    Topic,
    Urgency,
    is_delivered,
    session_status_errors,
)
from sessions.notifications import IN_APP_AND_EMAIL, notify
from sessions.recurrence import occurrence_dates, occurrence_start
from sessions.selectors import on_caseload_today
from supporters.models import OnCallShift, Supporter
from supporters.services import supporter_may_sign

logger = logging.getLogger(__name__)

# What to do when no consent covers a clinician (the feedback refusal and the form say it).
CONSENT_NEXT_STEP = (
    "Next step: the client signs a consent to share with their care team, and a coordinator "
    "records it on the client's Consents page."
)
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
    if session.modality == Modality.VIDEO and session.status == SessionStatus.SCHEDULED and not session.video_url:
        session.video_url = meeting_url()  # a room on the program's meeting server, if it has one
    if session.dropin_count and session.kind != SessionKind.GROUP:
        raise ValidationError({"dropin_count": ["Drop-in attendees are counted on group sessions only."]})
    if attendances is not None:
        clients = [a["client"] for a in attendances]
        if len({c.pk for c in clients}) != len(clients):
            raise ValidationError({"attendances": ["Each client can attend a session once."]})
        if any(c.program_id != session.supporter.program_id for c in clients):
            raise ValidationError({"attendances": ["Every client must be in the supporter's program."]})
        if session.kind == SessionKind.ONE_TO_ONE and len(attendances) != 1:
            raise ValidationError({"attendances": ["A one-to-one session has exactly one client."]})
        if not attendances and not session.dropin_count:
            raise ValidationError(
                {"attendances": ["A session needs at least one client (a group: or its drop-in attendees)."]}
            )
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


@transaction.atomic
def peer_session_log(*, session: PeerSession, user: User) -> PeerSession:
    """ "Log it": a scheduled session whose time has come becomes a held one with everyone booked
    marked as attended (completed), through peer_session_save; the supporter then writes the
    note and corrects any attendance that went otherwise. Only the session's supporter."""
    if session.supporter.user_id != user.pk:
        raise PermissionDenied("Only the session's supporter logs it.")
    if session.status != SessionStatus.SCHEDULED:
        raise ValidationError({"status": [_("Only a scheduled session is logged this way.")]})
    if session.start > timezone.now():
        raise ValidationError({"start": [_("This session has not started yet.")]})
    booked = [a.client for a in session.attendances.select_related("client")]
    return peer_session_save(
        session=session,
        attendances=[{"client": c, "status": AttendanceStatus.COMPLETED} for c in booked],
        fields={"status": SessionStatus.HELD},
    )


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
        signed_at=now,
        signed_by=user,
        signed_credential=active_credential(session.supporter)[:250],
        updated_at=now,
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
        cosigned_at=timezone.now(), cosigned_by=user, updated_at=timezone.now()
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
    if not on_caseload_today(supporter=author, client=client):
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
                        f"nothing was sent. {CONSENT_NEXT_STEP}"
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
    if FhirEndpoint.objects.filter(program=program, is_active=True).exists():
        feedback_delivery_queue(item=item)
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


def feedback_still_disclosable(
    *, item: FeedbackItem, recipients: list[Clinician]
) -> tuple[dict[int, list[Consent]], list[Clinician]]:
    """Whether something more of an item may reach its recipients now (the author's reply, its
    delivery to the EHR): the consents covering each today, and those no consent covers any more.
    A revoked or expired consent stops it at once (roles.md); only an emergency item goes on
    under the exception it was sent under."""
    covering, uncovered = feedback_coverage(client=item.client, program=item.program, recipients=recipients)
    return covering, [] if item.is_emergency else uncovered


def _recipient_clinician(item: FeedbackItem, user: User) -> Clinician | None:
    return item.recipients.filter(user_id=user.pk).first()


@transaction.atomic
def feedback_acknowledge(*, item: FeedbackItem, user: User) -> FeedbackItem:
    """A recipient acknowledges the item. The first acknowledgment stands; later ones change nothing."""
    if _recipient_clinician(item, user) is None:
        raise PermissionDenied("Only a clinician the item was sent to can acknowledge it.")
    now = timezone.now()
    acknowledged = FeedbackItem.objects.filter(pk=item.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=now, acknowledged_by=user, updated_at=now
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
        covering, uncovered = feedback_still_disclosable(item=item, recipients=recipients)
        if uncovered:
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
            acknowledged_at=reply.created_at, acknowledged_by=user, updated_at=reply.created_at
        )
    others = [c.user for c in recipients] if is_author else [item.author.user]
    notify(
        recipients=[u for u in others if u is not None and u.pk != user.pk],
        kind=NotificationKind.FEEDBACK_REPLY,
        **_feedback_notice(item),
    )
    return reply


def escalate_once(
    *, queryset: QuerySet[Any], now: datetime, escalate: Callable[[Any], None], also: dict[str, Any] | None = None
) -> int:
    """Mark each row of `queryset` (overdue, by its model's rule) escalated at `now` (with the
    columns in `also`) and hand it to `escalate` (notices, audit) in the same transaction. A
    conditional update claims each row first, so every row escalates once, even with two runs at
    a time (beat and a runner)."""
    model = queryset.model
    count = 0
    for pk in list(queryset.filter(escalated_at__isnull=True).values_list("pk", flat=True)):
        with transaction.atomic():
            if not model.objects.filter(pk=pk, escalated_at__isnull=True).update(escalated_at=now, **(also or {})):
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
    overdue = FeedbackItem.objects.overdue(now=now).select_related("program")
    return escalate_once(queryset=overdue, now=now, escalate=escalate, also={"updated_at": now})


# Form fields never kept in a draft.
DRAFT_SKIPPED_FIELDS = frozenset({"csrfmiddlewaretoken", "draft_form"})


def draft_fields(data: Any) -> dict[str, list[str]]:
    """The fields of a submitted form as a draft holds them ({name: [values]}), without the
    CSRF token; 400 on anything but short names and text."""
    fields: dict[str, list[str]] = {}
    for name, values in data.lists():
        if name in DRAFT_SKIPPED_FIELDS:
            continue
        if len(name) > 100 or len(values) > 200:
            raise ValidationError({"data": ["This is not a form's fields."]})
        fields[name] = [str(v) for v in values]
    if len(json.dumps(fields)) > DRAFT_MAX_CHARS:
        raise ValidationError({"data": [f"A draft holds at most {DRAFT_MAX_CHARS} characters."]})
    return fields


@transaction.atomic
def draft_save(*, user: User, form: str, fields: dict[str, list[str]], now: datetime | None = None) -> Draft:
    """Keep what the user has typed into `form` so far (replacing the draft before it). The
    caller has checked that the user may write that form (sessions.selectors.draft_form_allowed).
    The first save of a draft is recorded (who started one, for which form); later saves are
    the same draft growing and are not, nor is the text ever put in the trail."""
    if not DRAFT_FORM.match(form):
        raise ValidationError({"form": ["Unknown form."]})
    draft, created = Draft.objects.select_for_update().get_or_create(
        user=user, form=form, defaults={"data": "{}", "updated_at": now or timezone.now()}
    )
    draft.data = json.dumps(fields)
    draft.updated_at = now or timezone.now()
    draft.save(update_fields=["data", "updated_at"])
    if created:
        audit_write(draft, actions.CREATED, user=user, detail={"form": form})
    return draft


@transaction.atomic
def draft_discard(*, user: User, form: str) -> bool:
    """Delete the user's draft of `form`: the note or feedback was saved, or the user threw it away."""
    deleted, _rows = Draft.objects.filter(user_id=user.pk, form=form).delete()
    return bool(deleted)


def draft_purge_expired(*, now: datetime | None = None) -> int:
    """Delete drafts not saved for DRAFT_KEEP (the daily clock job purge-expired-drafts)."""
    now = now or timezone.now()
    deleted, _rows = Draft.objects.filter(updated_at__lt=now - DRAFT_KEEP).delete()
    if deleted:
        audit_record(action=actions.DRAFTS_PURGED, object_type="peer_sessions.draft", detail={"count": deleted})
    return deleted


# ---------------------------------------------------------------------------
# Feedback delivered to the EHR (issue 20 item 2; docs/interop.md). A delivery is a leased job
# (core.jobs): one attempt at a time, retried with exponential backoff from its own state, so
# retries happen with a broker (the task re-enqueues itself with a countdown) and without one
# (the clock job `deliver-due-feedback` takes every due attempt), and a worker killed mid-attempt
# leaves a lease that goes stale and is taken over.

# Waits before attempts 2, 3, … (the first goes at once): 30 s, 2 min, 8 min, 32 min, ~2 h.
DELIVERY_FIRST_WAIT = timedelta(seconds=30)
DELIVERY_BACKOFF_FACTOR = 4
DELIVERY_MAX_ATTEMPTS = 6
DELIVERY_BATCH = 100


def delivery_wait(attempts: int) -> timedelta:
    """How long after the `attempts`-th failed attempt the next one is due."""
    return DELIVERY_FIRST_WAIT * DELIVERY_BACKOFF_FACTOR ** max(attempts - 1, 0)


def feedback_delivery_queue(*, item: FeedbackItem) -> FeedbackDelivery:
    """Queue the item's delivery to its program's EHR, sent once the caller's transaction commits."""
    delivery, _ = FeedbackDelivery.objects.get_or_create(
        item=item, defaults={"program_id": item.program_id, "next_attempt_at": timezone.now()}
    )
    audit_write(delivery, actions.CREATED, client_ids=[item.client_id])
    transaction.on_commit(partial(_dispatch_delivery, delivery.pk))
    return delivery


@transaction.atomic
def feedback_delivery_retry(*, delivery: FeedbackDelivery, user: User) -> FeedbackDelivery:
    """Try a failed or refused delivery again now (the page's button): the item's author or a
    coordinator of its program; the gate is asked again at send time."""
    item = delivery.item
    if item.author.user_id != user.pk and item.program_id not in role_program_ids(user).coordinator:
        raise PermissionDenied("Only the author or a coordinator can try a delivery again.")
    updated = FeedbackDelivery.objects.filter(
        pk=delivery.pk, status__in=[DeliveryStatus.FAILED, DeliveryStatus.REFUSED]
    ).update(status=DeliveryStatus.QUEUED, next_attempt_at=timezone.now(), reason="", attempts=0, **requeue_fields())
    if not updated:
        raise ValidationError({"status": [_("Only a failed or refused delivery can be tried again.")]})
    delivery.refresh_from_db()
    audit_write(delivery, actions.UPDATED, user=user, detail={"retried": True})
    transaction.on_commit(partial(_dispatch_delivery, delivery.pk))
    return delivery


def feedback_delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> str | None:
    """One attempt, if one is due (at `now`) and no live worker holds it: the gate at send time,
    the POST, then the outcome written only while the lease is still ours. The new status, or None."""
    now = now or timezone.now()
    due = FeedbackDelivery.objects.filter(pk=delivery_id, status__in=PENDING_DELIVERY_STATUSES).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    if not due.exists():
        return None
    token = claim_job(
        FeedbackDelivery, delivery_id, statuses=PENDING_DELIVERY_STATUSES, set_status=DeliveryStatus.SENDING
    )
    if token is None:
        return None
    delivery = FeedbackDelivery.objects.select_related("item__program", "item__client", "item__author").get(
        pk=delivery_id
    )
    item = delivery.item
    recipients = list(item.recipients.all())
    endpoint = FhirEndpoint.objects.filter(program_id=item.program_id, is_active=True).first()
    covering, refused = feedback_still_disclosable(item=item, recipients=recipients)
    result: DeliveryResult | None = None
    if endpoint is not None and not refused:
        with heartbeat(FeedbackDelivery, delivery_id, token):
            result = post_communication(
                endpoint,
                communication_json(item, local=False),
                identifier=f"{item.program.own_identifier_namespace}:feedback|{item.pk}",
            )
    with transaction.atomic():
        if not holds_claim(FeedbackDelivery, delivery_id, token, statuses=[DeliveryStatus.SENDING]):
            logger.warning("feedback delivery %s was taken over while it ran", delivery_id)
            return None
        delivery.refresh_from_db()
        changes: dict[str, Any] = {"claim": None, "heartbeat_at": None, "next_attempt_at": None}
        if endpoint is None:
            changes.update(status=DeliveryStatus.FAILED, reason=str(_("The program has no active EHR endpoint.")))
        elif refused:
            names = ", ".join(c.full_name for c in refused)
            changes.update(
                status=DeliveryStatus.REFUSED,
                reason=str(_("The client's consent no longer covers %(names)s; nothing was sent.")) % {"names": names},
            )
        else:
            assert result is not None
            changes["last_http_status"] = result.status
            if result.ok:
                changes.update(
                    status=DeliveryStatus.DELIVERED,
                    reason="",
                    delivered_at=timezone.now(),
                    remote_location=result.location,
                )
            elif result.retryable and delivery.attempts < DELIVERY_MAX_ATTEMPTS:
                changes.update(
                    status=DeliveryStatus.QUEUED,
                    reason=result.reason,
                    next_attempt_at=timezone.now() + delivery_wait(delivery.attempts),
                )
            else:
                changes.update(status=DeliveryStatus.FAILED, reason=result.reason)
        FeedbackDelivery.objects.filter(pk=delivery_id).update(**changes)
        for name, value in changes.items():
            setattr(delivery, name, value)
        audit_write(
            delivery,
            actions.UPDATED,
            detail={"status": delivery.status, "attempt": delivery.attempts, "http": delivery.last_http_status},
        )
        if delivery.status == DeliveryStatus.DELIVERED:
            record_disclosure(
                action=actions.DISCLOSURE_FEEDBACK_EHR,
                user=None,
                obj=item,
                recipients=recipients,
                consents=covering,
                detail={
                    "endpoint": endpoint.pk if endpoint else None,
                    "delivery": delivery.pk,
                    "attempt": delivery.attempts,
                },
            )
        if delivery.status == DeliveryStatus.QUEUED and not settings.CELERY_TASK_ALWAYS_EAGER:
            wait = delivery_wait(delivery.attempts).total_seconds()
            transaction.on_commit(partial(deliver_feedback.apply_async, args=(delivery_id,), countdown=wait))
    return delivery.status


def feedback_deliveries_due(*, now: datetime | None = None) -> int:
    """The clock job: every delivery whose next attempt is due, and every one whose worker died
    (a stale lease); how many were attempted. Safe beside a broker's own retries (the lease)."""
    now = now or timezone.now()
    due = (
        FeedbackDelivery.objects.filter(status__in=PENDING_DELIVERY_STATUSES)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - LEASE))
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:DELIVERY_BATCH]
    )
    attempted = 0
    for delivery_id in list(due):
        attempted += feedback_delivery_attempt(delivery_id=delivery_id, now=now) is not None
    return attempted


@transaction.atomic
def fhir_endpoint_save(*, program: Program, fields: dict[str, Any], by: User | None) -> FhirEndpoint:
    """Set the program's EHR endpoint. A secret left blank keeps the one stored (pages never show
    it back); the audit names the fields changed, never their values."""
    endpoint = FhirEndpoint.objects.select_for_update().filter(program=program).first() or FhirEndpoint(program=program)
    creating = endpoint.pk is None
    for name, value in fields.items():
        if name in ("bearer_token", "client_secret") and not value:
            continue
        setattr(endpoint, name, value)
    endpoint.full_clean()
    endpoint.save()
    audit_write(endpoint, actions.CREATED if creating else actions.UPDATED, user=by, detail={"fields": sorted(fields)})
    return endpoint


# The worker's entry point, beside the service it runs (as run_import_job): sessions.tasks lists it.
@shared_task(name="peer_sessions.deliver_feedback", ignore_result=True)
def deliver_feedback(delivery_id: int) -> None:
    feedback_delivery_attempt(delivery_id=delivery_id)


def _dispatch_delivery(delivery_id: int) -> None:
    dispatch(deliver_feedback, delivery_id, in_thread=settings.FHIR_DELIVERY_IN_THREAD)


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


# A transition's follow-up task aims at the first peer contact within this many hours
# (issue 20: target 48 hours; due when the 7-day window of continuity.md §2 ends).
TRANSITION_TARGET_HOURS = 48


def tasks_for_transitions(
    *, program: Program, appointment_ids: Iterable[int], now: datetime | None = None, **_signal: Any
) -> list[FollowUpTask]:
    """A discharge or an emergency visit (continuity.md §2) of a client enrolled on its local date
    opens a follow-up task for the client's primary supporter that day (else a supporter assigned
    that day): target TRANSITION_TARGET_HOURS after the event, due when the 7-day follow-up window
    ends, told in the app and by text message; past the target it escalates to the coordinators
    (task_escalate_overdue). The first peer contact that counts for the follow-up (from date(a) + 1
    on, the HEDIS-aligned rule) closes it. Once per appointment; an event whose window has ended
    opens nothing. Receives clients.signals.transitions_recorded (ADT, FHIR, imports)."""
    now = now or timezone.now()
    tz = program.tzinfo
    appointments = ClinicalAppointment.objects.filter(
        pk__in=list(appointment_ids),
        program=program,
        kind__in=TRANSITION_KINDS,
        status=AppointmentStatus.ATTENDED,
        start__lte=now,
    ).select_related("client__program")
    # Set-based for an import's thousands: the events whose window is still open, grouped by
    # their local date, then one query per date (at most the window's 8 days) for the clients
    # enrolled that day, instead of one per event.
    events: dict[date, list[ClinicalAppointment]] = {}
    for appointment in appointments:
        day = appointment.start.astimezone(tz).date()
        if followup_window(day, tz)[1] > now:
            events.setdefault(day, []).append(appointment)
    tasks = []
    for day, on_day in sorted(events.items()):
        window_start, window_end = followup_window(day, tz)
        enrolments: dict[int, CaseloadAssignment] = {}
        for assignment in (
            CaseloadAssignment.objects.filter(client_id__in={a.client_id for a in on_day})
            .active_on(day)
            .select_related("supporter__user")
            .order_by("role", "start_date", "id")  # "primary" sorts before "secondary"
        ):
            enrolments.setdefault(assignment.client_id, assignment)  # the first: the primary, if any
        for appointment in sorted(on_day, key=lambda a: a.pk):
            enrolment = enrolments.get(appointment.client_id)
            if enrolment is None:
                continue  # not enrolled that day: not a transition event of the program's clients
            tasks.append(
                task_open(
                    kind=TaskKind.TRANSITION_FOLLOWUP,
                    client=appointment.client,
                    source=f"appointment:{appointment.pk}",
                    assignee=enrolment.supporter,
                    due_at=window_end,
                    target_at=min(appointment.start + timedelta(hours=TRANSITION_TARGET_HOURS), window_end),
                    since=window_start,
                    channels=(Channel.IN_APP, Channel.SMS),
                    now=now,
                )
            )
    return tasks


@transaction.atomic
def contact_request_raise(
    *,
    client: Client,
    requested_by: User | None,
    note: str = "",
    source: str = "",
    now: datetime | None = None,
    in_hours_to: Supporter | None = None,
) -> FollowUpTask:
    """Someone asks peer support to contact the client now: a clinician today (page and API),
    the client through the portal later. It becomes a follow-up task of kind contact_request for
    whoever is on call (OnCallShiftQuerySet.on_call), who is told at once in the app and by text
    message, in their quiet hours too; it is due after the program's contact_request_minutes and
    escalates to the coordinators then (task_escalate_overdue). With no one on call it goes
    straight to the coordinators. `requested_by`, when given, must be able to see the client;
    `source` makes a retry idempotent (default: a new request each call). Audited as
    peer_sessions.contact_request.raised; the answer as peer_sessions.contact_request.answered.

    The client asks for themselves from the portal ("I'd like to talk": `requested_by` is their
    own account) with `in_hours_to`, their supporter: the on-call rota covers the hours outside
    the supporters' own, so with nobody on call now the request goes to that supporter, with the
    same deadline and escalation."""
    if len(note) > 1000:
        raise ValidationError({"note": ["At most 1,000 characters."]})
    if (
        requested_by is not None
        and client_of(requested_by) != client
        and not Client.objects.visible_to(requested_by).filter(pk=client.pk).exists()
    ):
        raise PermissionDenied("You can ask for contact only with a client you may see.")
    now = now or timezone.now()
    shift = OnCallShift.objects.on_call(client.program_id, at=now)
    minutes = ProgramSessionRules.for_program(client.program_id).contact_request_minutes
    assignee = shift.supporter if shift is not None else in_hours_to
    return task_open(
        kind=TaskKind.CONTACT_REQUEST,
        client=client,
        source=source or f"request:{uuid.uuid4().hex}",
        assignee=assignee,
        due_at=now + timedelta(minutes=minutes),
        since=now,
        requested_by=requested_by,
        note=note,
        channels=(Channel.IN_APP, Channel.SMS),
        urgent=True,
        now=now,
    )


def task_escalate_overdue(*, now: datetime | None = None) -> int:
    """Tasks still open at their target time (a transition's 48 hours), or at their due time when
    they have no target, go to the program's coordinators (the home's escalated tasks) and the
    assignee is reminded, once each. A request for contact
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
    late = FollowUpTask.objects.to_escalate(now=now).select_related("program", "assignee__user")
    return escalate_once(queryset=late, now=now, escalate=escalate)


# --------------------------------------------------------------------------- recurring series

SERIES_FIELDS = ("kind", "modality", "duration_minutes", "location", "video_url")


def _series_errors(series: SessionSeries, clients: list[Client]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if series.ends_on is None and series.count is None:
        errors["ends_on"] = [_("Give the series an end: a last date or a number of sessions.")]
    if series.ends_on is not None and series.ends_on < series.starts_on:
        errors["ends_on"] = [_("The last date is before the first.")]
    if series.count is not None and not 1 <= series.count <= MAX_SERIES_OCCURRENCES:
        errors["count"] = [_("Between 1 and %(max)s sessions.") % {"max": MAX_SERIES_OCCURRENCES}]
    if len({c.pk for c in clients}) != len(clients):
        errors["clients"] = [_("Each client can be in a series once.")]
    elif any(c.program_id != series.supporter.program_id for c in clients):
        errors["clients"] = [_("Every client must be in the supporter's program.")]
    elif series.kind == SessionKind.ONE_TO_ONE and len(clients) != 1:
        errors["clients"] = [_("A one-to-one series has exactly one client.")]
    elif not clients:
        errors["clients"] = [_("A series needs at least one client.")]
    return errors


def series_starts(series: SessionSeries) -> dict[date, datetime]:
    """Occurrence date -> start of each occurrence the series wants now: the rule's dates at its
    wall-clock time in the program's zone, less the skipped ones, the moved ones at their new start."""
    tz = series.program.tzinfo
    dates = occurrence_dates(
        recurrence=series.recurrence, starts_on=series.starts_on, ends_on=series.ends_on, count=series.count
    )
    # Read afresh: a prefetched list would miss the exception just recorded.
    exceptions = dict(SeriesException.objects.filter(series=series).values_list("occurrence_date", "moved_to"))
    starts = {}
    for day in dates:
        if day in exceptions and exceptions[day] is None:
            continue  # skipped
        starts[day] = exceptions.get(day) or occurrence_start(day, series.start_time, tz)
    return starts


def _series_sync(series: SessionSeries, clients: list[Client], now: datetime) -> None:
    """Bring the series' sessions to its rule, through peer_session_save (one rule for sessions):
    future occurrences still scheduled are created or updated; those the rule no longer wants
    (skipped, past a shortened end) are cancelled. Past and logged sessions stay as they are."""
    wanted = series_starts(series)
    existing = {s.occurrence_date: s for s in series.sessions.select_related("supporter__program") if s.occurrence_date}
    fields = {name: getattr(series, name) for name in SERIES_FIELDS}
    for day, start in sorted(wanted.items()):
        session = existing.get(day)
        if session is None:
            if start <= now:
                continue  # a series never books the past
            session = PeerSession(supporter=series.supporter, series=series, occurrence_date=day)
        elif session.status != SessionStatus.SCHEDULED or session.start <= now:
            continue
        elif _occurrence_matches(session, start, fields, clients):
            continue  # unchanged: no write, no audit event
        peer_session_save(
            session=session,
            attendances=[{"client": c, "status": AttendanceStatus.SCHEDULED} for c in clients],
            fields={**fields, "start": start, "status": SessionStatus.SCHEDULED},
        )
    for day, booked in existing.items():
        if day not in wanted and booked.status == SessionStatus.SCHEDULED and booked.start > now:
            clients_of = list(Client.objects.filter(attendances__session=booked))
            peer_session_save(
                session=booked,
                attendances=[{"client": c, "status": AttendanceStatus.CANCELLED} for c in clients_of],
                fields={"status": SessionStatus.CANCELLED},
            )


def _occurrence_matches(session: PeerSession, start: datetime, fields: dict[str, Any], clients: list[Client]) -> bool:
    return (
        session.start == start
        and all(getattr(session, name) == value for name, value in fields.items())
        and sorted(session.attendances.values_list("client_id", flat=True)) == sorted(c.pk for c in clients)
    )


@transaction.atomic
def session_series_save(
    *, series: SessionSeries, clients: list[Client], fields: dict[str, Any], now: datetime | None = None
) -> SessionSeries:
    """Create or change a series and book its occurrences (their sessions follow the change;
    those already held or logged do not)."""
    now = now or timezone.now()
    creating = series.pk is None
    for name, value in fields.items():
        setattr(series, name, value)
    errors = _series_errors(series, clients)
    if errors:
        raise ValidationError(errors)
    series.program = series.supporter.program
    if series.modality == Modality.VIDEO and not series.video_url:
        # One room for the whole series: a group meets at the same link every week.
        series.video_url = meeting_url()
    series.full_clean(exclude=["program", "supporter", "clients"])
    series.save()
    series.clients.set(clients)
    _series_sync(series, clients, now)
    audit_write(series, actions.CREATED if creating else actions.UPDATED, client_ids=[c.pk for c in clients])
    return series


def _occurrence_check(series: SessionSeries, occurrence_date: date) -> None:
    dates = occurrence_dates(
        recurrence=series.recurrence, starts_on=series.starts_on, ends_on=series.ends_on, count=series.count
    )
    if occurrence_date not in dates:
        raise ValidationError({"occurrence_date": [_("This date is not one of the series' sessions.")]})


@transaction.atomic
def session_series_skip(*, series: SessionSeries, occurrence_date: date, now: datetime | None = None) -> SessionSeries:
    """Skip one occurrence: its scheduled session is cancelled (if not logged already)."""
    _occurrence_check(series, occurrence_date)
    SeriesException.objects.update_or_create(
        series=series, occurrence_date=occurrence_date, defaults={"moved_to": None}
    )
    _series_sync(series, list(series.clients.all()), now or timezone.now())
    audit_write(series, actions.UPDATED, detail={"skipped": occurrence_date.isoformat()})
    return series


@transaction.atomic
def session_series_move(
    *, series: SessionSeries, occurrence_date: date, start: datetime, now: datetime | None = None
) -> SessionSeries:
    """Move one occurrence to another start (in the future); the others keep the rule."""
    now = now or timezone.now()
    _occurrence_check(series, occurrence_date)
    if start <= now:
        raise ValidationError({"start": [_("Move a session to a time that has not passed.")]})
    SeriesException.objects.update_or_create(
        series=series, occurrence_date=occurrence_date, defaults={"moved_to": start}
    )
    _series_sync(series, list(series.clients.all()), now)
    audit_write(series, actions.UPDATED, detail={"moved": occurrence_date.isoformat()})
    return series


# --------------------------------------------------------------------------- calendar feeds


def calendar_feed_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def calendar_feed_reset(*, user: User) -> str:
    """A new private feed address for a supporter's own sessions (the old one stops working);
    returns the token, which is shown once: only its hash is kept."""
    if not role_program_ids(user).supporter:
        raise PermissionDenied("Calendar feeds are for supporters' own sessions.")
    token = secrets.token_urlsafe(32)  # 256 bits
    feed, created = CalendarFeed.objects.update_or_create(
        user=user, defaults={"token_hash": calendar_feed_token_hash(token), "last_read_at": None}
    )
    audit_write(feed, actions.CREATED if created else actions.UPDATED, user=user)
    return token


@transaction.atomic
def calendar_feed_revoke(*, user: User) -> bool:
    """Turn the feed off: its address answers 404 from now on."""
    feed = CalendarFeed.objects.filter(user=user).first()
    if feed is None:
        return False
    audit_write(feed, actions.DELETED, user=user)
    feed.delete()
    return True
