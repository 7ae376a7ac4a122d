"""Writes for peer sessions, notes, bridging feedback and their notifications."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import actions
from audit.records import audit_record, audit_write
from clients.disclosure import covering_consents, record_disclosure
from clients.models import PART2_NOTICE, Client, Clinician, Consent
from core.jobs import LEASE, claim_job, dispatch, heartbeat, holds_claim, requeue_fields
from core.models import Program, Role, User
from sessions.billing import BILLING_FIELDS, billing_recompute, billing_recompute_attendances
from sessions.delivery import DeliveryResult, post_communication
from sessions.fhir import communication_json
from sessions.models import (
    DRAFT_FORM,
    DRAFT_KEEP,
    DRAFT_MAX_CHARS,
    LATE_ENTRY_AFTER,
    PENDING_DELIVERY_STATUSES,
    Attendance,
    DeliveryStatus,
    Draft,
    FeedbackCategory,
    FeedbackDelivery,
    FeedbackItem,
    FeedbackReply,
    FhirEndpoint,
    NoteAddendum,
    NotificationKind,
    PeerSession,
    ProgramSessionRules,
    SessionKind,
    Topic,
    Urgency,
    session_status_errors,
)
from sessions.notifications import notify
from sessions.selectors import on_caseload_today
from supporters.models import Supporter
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
    link = f"/feedback/{item.pk}/"
    recipient_users = [c.user for c in recipients]
    if urgency in (Urgency.IMMEDIATE, Urgency.SOON):
        notify(users=recipient_users, kind=NotificationKind.FEEDBACK_URGENT, link=link, email=True, about=item)
    else:
        notify(users=recipient_users, kind=NotificationKind.FEEDBACK_NEW, link=link, email=False, about=item)
    if emergency:
        notify(
            users=_coordinator_users(program.id),
            kind=NotificationKind.FEEDBACK_EMERGENCY,
            link=link,
            email=True,
            about=item,
        )
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
        users=[u for u in others if u is not None and u.pk != user.pk],
        kind=NotificationKind.FEEDBACK_REPLY,
        link=f"/feedback/{item.pk}/",
        email=True,
        about=item,
    )
    return reply


def feedback_escalate_overdue(*, now: datetime | None = None) -> int:
    """Mark unacknowledged items past their deadline as escalated, put them on the coordinators'
    worklist and remind the recipients. Each item escalates once, even with two runs at a time."""
    now = now or timezone.now()
    count = 0
    overdue = FeedbackItem.objects.overdue(now=now).filter(escalated_at__isnull=True).values_list("id", "program_id")
    for item_id, program_id in list(overdue):
        with transaction.atomic():
            claimed = FeedbackItem.objects.filter(pk=item_id, escalated_at__isnull=True).update(
                escalated_at=now, updated_at=now
            )
            if not claimed:
                continue
            item = FeedbackItem.objects.get(pk=item_id)
            link = f"/feedback/{item_id}/"
            notify(
                users=_coordinator_users(program_id),
                kind=NotificationKind.FEEDBACK_ESCALATED,
                link=link,
                email=True,
                about=item,
            )
            recipient_users = User.objects.filter(clinician_profiles__feedback_items=item_id)
            notify(users=recipient_users, kind=NotificationKind.FEEDBACK_REMINDER, link=link, email=True, about=item)
            audit_write(item, actions.UPDATED, action=actions.FEEDBACK_ESCALATED)
            count += 1
    return count


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
    """Try a failed or refused delivery again now (the page's button): the gate is asked again."""
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
