"""Writes for clients and caseloads."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import pandas as pd
from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import actions
from audit.records import audit_record, audit_write
from base.importing import KINDS, import_csv_file
from base.services import record_fields_save
from clients.adt import AdtError, VisitFacts, parse_fhir_encounter, parse_hl7
from clients.collection import Status as CollectionStatus
from clients.collection import collection_schedule
from clients.matching import handover_suggestions, has_free_place
from clients.models import (
    RUNNING_IMPORT_STATUSES,
    AdtMessage,
    AdtSource,
    AdtStatus,
    AppointmentKind,
    AppointmentStatus,
    AssignmentRole,
    CaseloadAssignment,
    Client,
    ClientContact,
    ClientPreference,
    ClinicalAppointment,
    Clinician,
    CollectionPoint,
    Consent,
    ConsentScope,
    ContactRhythm,
    GoalProgress,
    GoalStatus,
    ImportJob,
    ImportJobStatus,
    Instrument,
    OutcomeMeasure,
    RecoveryGoal,
    Referral,
    ReferralStatus,
    Resource,
)
from clients.signals import transitions_recorded
from core.jobs import LostClaim, claim_job, dispatch, heartbeat, holds_claim, reap_stale_jobs, requeue_fields
from core.models import Program, User
from supporters.services import clean_lived_experience_areas, program_policy, supporter_may_take_clients

logger = logging.getLogger(__name__)


def overlapping_primary(assignment: CaseloadAssignment) -> CaseloadAssignment | None:
    """Another primary assignment of the same client whose dates overlap this one."""
    if assignment.role != AssignmentRole.PRIMARY:
        return None
    others = CaseloadAssignment.objects.filter(client_id=assignment.client_id, role=AssignmentRole.PRIMARY)
    if assignment.pk:
        others = others.exclude(pk=assignment.pk)
    overlap = Q(end_date__isnull=True) | Q(end_date__gte=assignment.start_date)
    if assignment.end_date is not None:
        overlap &= Q(start_date__lte=assignment.end_date)
    return others.filter(overlap).order_by("start_date").first()


@transaction.atomic
def client_save(
    *, client: Client, fields: dict[str, Any] | None = None, care_team: Iterable[Clinician] | None = None
) -> Client:
    """Create or update a client; `care_team`, when given, replaces the team.

    The rules live on the model, so the API, the admin and the importer refuse the same input:
    the language code (a field validator), the site and the date of birth (Client.clean()),
    the record number unique in the program, and the care team's program (Client.validate_care_team).
    Recorded in the audit trail here, whichever channel called."""
    for name, value in (fields or {}).items():
        setattr(client, name, value)
    errors: dict[str, list] = {}
    try:
        client.full_clean()
    except ValidationError as exc:
        errors.update(exc.message_dict)
    team = list(care_team) if care_team is not None else None
    if team is not None:
        try:
            client.validate_care_team(team)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    verb = actions.CREATED if client.pk is None else actions.UPDATED
    client.save()
    if team is not None:
        client.care_team.set(team)
    audit_write(client, verb, detail={"fields": sorted(fields or {})})
    return client


def assignment_validate(assignment: CaseloadAssignment) -> None:
    """Every rule of an assignment: the model's (field rules, the end date on or after the start in
    CaseloadAssignment.clean()), the supporter's program and credential, and no overlapping primary.
    The admin form calls it too, so a refusal there is a form error."""
    assignment.full_clean()
    if assignment.supporter.program_id != assignment.client.program_id:
        raise ValidationError({"supporter": ["The supporter works in another program."]})
    if assignment.pk is None:
        # A lapsed credential under a 'block' policy stops new clients (existing ones stay).

        allowed, message = supporter_may_take_clients(assignment.supporter)
        if not allowed:
            raise ValidationError({"supporter": [message]})
    clash = overlapping_primary(assignment)
    if clash is not None:
        raise ValidationError(
            {
                "start_date": [
                    f"This client already has a primary supporter from {clash.start_date} "
                    f"to {clash.end_date or 'open-ended'}; end that assignment first."
                ]
            }
        )


@transaction.atomic
def assignment_save(*, assignment: CaseloadAssignment) -> CaseloadAssignment:
    """Save an assignment that passes assignment_validate.

    The client row is locked first so two concurrent saves for one client are
    checked one after the other (SQLite serialises writers by itself)."""
    Client.objects.select_for_update().filter(pk=assignment.client_id).first()
    assignment_validate(assignment)
    verb = actions.CREATED if assignment.pk is None else actions.UPDATED
    assignment.save()
    audit_write(assignment, verb)
    return assignment


PART2_REQUIRED = {
    "discloser_name": "Name the program that discloses (42 CFR §2.31(a)(2)).",
    "recipients_description": "Name the recipients (42 CFR §2.31(a)(3)).",
    "information_description": "Say how much and what kind of information may be shared (42 CFR §2.31(a)(1)).",
    "signed_by_name": "Record who signed: the client or their representative (42 CFR §2.31(a)(7)).",
}


def consent_validate(consent: Consent, clinicians: list[Clinician] | None) -> None:
    """Field rules, plus every element 42 CFR §2.31 requires when the program is a Part 2 program."""
    errors: dict[str, list[str]] = {}
    if not consent.purpose.strip():
        errors["purpose"] = ["Say what the information is shared for."]
    try:
        consent.clean()  # the date order
    except ValidationError as exc:
        errors.update(exc.message_dict)
    program_id = consent.client.program_id
    if clinicians is not None:
        if consent.scope == ConsentScope.NAMED_CLINICIANS and not clinicians:
            errors["clinicians"] = ["Name at least one clinician."]
        if any(c.program_id != program_id for c in clinicians):
            errors["clinicians"] = ["Every clinician must work in the client's program."]
    if consent.client.program.is_part2_program:
        for field, message in PART2_REQUIRED.items():
            if not getattr(consent, field).strip():
                errors.setdefault(field, []).append(message)
        if consent.expires_on is None and not consent.expiry_event.strip():
            errors.setdefault("expires_on", []).append("Give an expiry date, event or condition (42 CFR §2.31(a)(6)).")
        if not consent.revocation_statement_included:
            errors.setdefault("revocation_statement_included", []).append(
                "The form must tell the client they may revoke consent (42 CFR §2.31(a)(6))."
            )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def consent_save(*, consent: Consent, clinicians: list[Clinician] | None = None) -> Consent:
    """Create or update a consent; `clinicians` replaces the named list when given."""
    named = clinicians if clinicians is not None else (list(consent.clinicians.all()) if consent.pk else [])
    consent_validate(consent, named)
    verb = actions.CREATED if consent.pk is None else actions.UPDATED
    consent.save()
    if clinicians is not None:
        consent.clinicians.set(clinicians)
    audit_write(consent, verb)
    return consent


@transaction.atomic
def consent_revoke(*, consent: Consent, revoked_on: date, reason: str) -> Consent:
    """Stop future sharing from `revoked_on`; what was already delivered stays delivered."""
    locked = Consent.objects.select_for_update().get(pk=consent.pk)
    if locked.revoked_on is not None:
        raise ValidationError({"revoked_on": [f"This consent was already revoked on {locked.revoked_on}."]})
    locked.revoked_on = revoked_on
    locked.clean()  # not before it was signed
    locked.revocation_reason = reason.strip()
    locked.save(update_fields=["revoked_on", "revocation_reason"])
    audit_write(locked, actions.UPDATED, action=actions.CONSENT_REVOKED, detail={"revoked_on": revoked_on})
    return locked


@transaction.atomic
def assignment_transfer(
    *, client: Client, to_supporter: Any, start_date: date, handoff_note: str
) -> CaseloadAssignment:
    """Hand the client's primary support to another supporter: the current primary ends
    the day before `start_date` and the new one starts on it, in one transaction."""
    Client.objects.select_for_update().filter(pk=client.pk).first()
    if not handoff_note.strip():
        raise ValidationError({"handoff_note": [_("Write a hand-off note for the new supporter.")]})
    current = (
        CaseloadAssignment.objects.filter(client_id=client.pk, role=AssignmentRole.PRIMARY)
        .active_on(start_date)
        .first()
    )
    if current is not None:
        if current.supporter_id == to_supporter.pk:
            raise ValidationError({"supporter": [_("This supporter is already the client's primary supporter.")]})
        if current.start_date >= start_date:
            raise ValidationError({"start_date": [_("The current assignment starts on or after this date.")]})
        current.end_date = start_date - timedelta(days=1)
        assignment_save(assignment=current)
    new = CaseloadAssignment(
        client=client,
        supporter=to_supporter,
        start_date=start_date,
        role=AssignmentRole.PRIMARY,
        handoff_note=handoff_note.strip(),
    )
    assignment_save(assignment=new)
    audit_write(
        new,
        actions.CREATED,
        action=actions.ASSIGNMENT_TRANSFERRED,
        detail={"from_supporter": current.supporter_id if current else None, "to_supporter": to_supporter.pk},
    )
    return new


def reassign_field(client_id: int) -> str:
    """The field that carries one client's choice on the reassignment page (and its errors)."""
    return f"client_{client_id}"


def departing_caseload(supporter: Any, day: date) -> tuple[list[Client], list[CaseloadAssignment]]:
    """What a departing supporter hands over on `day`: the clients they are the primary
    supporter of (each needs a new primary) and their secondary assignments (which end)."""
    active = CaseloadAssignment.objects.filter(supporter=supporter).active_on(day).select_related("client")
    primaries = sorted(
        (a.client for a in active if a.role == AssignmentRole.PRIMARY),
        key=lambda c: (c.last_name, c.first_name, c.pk),
    )
    return primaries, [a for a in active if a.role == AssignmentRole.SECONDARY]


@transaction.atomic
def caseload_reassign(
    *, from_supporter: Any, choices: dict[int, Any], start_date: date, handoff_note: str
) -> list[CaseloadAssignment]:
    """Hand a departing supporter's whole caseload over (issue 16 item 5): each primary client to
    the supporter chosen for them, through assignment_transfer (its rules, its audit event),
    with one hand-off note; their secondary assignments end the day before `start_date`. All or
    nothing: every refusal is collected, by client, and nothing is saved unless there is none.

    A choice must be one the matching suggestion calls eligible (clients.matching: capacity,
    already supporting the client, a lapsed credential the program blocks), and no supporter may
    receive more clients than the free places the matching counts for them."""
    if not handoff_note.strip():
        raise ValidationError({"handoff_note": [_("Write a hand-off note for the new supporters.")]})
    primaries, secondaries = departing_caseload(from_supporter, start_date)
    if not primaries and not secondaries:
        raise ValidationError({"supporter": [_("This supporter has no clients on %(day)s.") % {"day": start_date}]})
    errors: dict[str, list[str]] = {}
    taken: dict[int, int] = {}
    for handover in handover_suggestions(primaries, departing_id=from_supporter.pk, day=start_date):
        client = handover.client
        field = reassign_field(client.pk)
        chosen = choices.get(client.pk)
        if chosen is None:
            errors[field] = [_("Choose a new primary supporter.")]
            continue
        match = next((m for m in handover.matches if m.supporter_id == chosen.pk), None)
        if match is None:
            errors[field] = [_("Choose an active supporter of the client's program.")]
            continue
        if not match.eligible:
            errors[field] = [" ".join(str(c) for c in match.cautions)]
            continue
        if has_free_place(match, taken):
            taken[chosen.pk] = taken.get(chosen.pk, 0) + 1
        else:
            errors[field] = [
                _("%(name)s has no free place left for this client (caseload limit %(max)s).")
                % {"name": chosen.full_name, "max": chosen.max_caseload}
            ]
    created: list[CaseloadAssignment] = []
    for client in primaries:
        field = reassign_field(client.pk)
        if field in errors:
            continue
        try:
            with transaction.atomic():  # a savepoint: one refusal does not hide the others
                created.append(
                    assignment_transfer(
                        client=client, to_supporter=choices[client.pk], start_date=start_date, handoff_note=handoff_note
                    )
                )
        except ValidationError as exc:
            errors[field] = [str(m) for m in exc.messages]
    for assignment in secondaries:
        assignment.end_date = start_date - timedelta(days=1)
        try:
            with transaction.atomic():
                assignment_save(assignment=assignment)
        except ValidationError as exc:
            errors.setdefault(reassign_field(assignment.client_id), []).extend(str(m) for m in exc.messages)
    if errors:
        raise ValidationError(errors)  # the outer transaction rolls every transfer back
    audit_record(
        action=actions.CASELOAD_REASSIGNED,
        obj=from_supporter,
        client_ids=[c.pk for c in primaries] + [a.client_id for a in secondaries],
        detail={
            "transferred": len(created),
            "secondary_ended": len(secondaries),
            "to_supporters": sorted({a.supporter_id for a in created}),
        },
    )
    return created


@transaction.atomic
def care_rhythm_set(*, client: Client, every_days: int | None, user: User) -> Client:
    """The contact frequency agreed with the client (ContactRhythm; None: the program's default),
    set by the program's coordinators or the client's current supporters; audited with the old and
    new value. Contact due and overdue follow from it (sessions.selectors)."""
    if not Client.objects.caseload_scope(user).filter(pk=client.pk).exists():
        raise PermissionDenied(_("Only the program's coordinators and the client's supporters set the care rhythm."))
    if every_days is not None and every_days not in ContactRhythm.values:
        raise ValidationError({"contact_every_days": [_("Choose weekly, every two weeks or monthly.")]})
    locked = Client.objects.select_for_update().get(pk=client.pk)
    old = locked.contact_every_days
    if old != every_days:
        Client.objects.filter(pk=client.pk).update(contact_every_days=every_days, updated_at=timezone.now())
        audit_write(
            client, actions.UPDATED, user=user, action=actions.CARE_RHYTHM_SET, detail={"old": old, "new": every_days}
        )
    client.contact_every_days = every_days
    return client


@transaction.atomic
def client_contact_save(*, client: Client, user: User, fields: dict[str, Any]) -> ClientContact:
    """How the client agreed to be reached (sessions.notifications reads it): set by the
    program's coordinators and the client's current supporters (caseload_q), nobody else."""
    if not Client.objects.caseload_scope(user).filter(pk=client.pk).exists():
        raise PermissionDenied(_("Only the program's coordinators and the client's supporters set how to reach them."))
    row = ClientContact.objects.select_for_update().filter(client=client).first() or ClientContact(client=client)
    record_fields_save(row, fields=fields, by=user)
    return row


@transaction.atomic
def client_preference_set(*, client: Client, requested_lived_experience: list[str]) -> ClientPreference:
    areas = clean_lived_experience_areas(client.program_id, requested_lived_experience, "requested_lived_experience")
    preference, _created = ClientPreference.objects.select_for_update().get_or_create(client=client)
    preference.requested_lived_experience = areas
    preference.save()
    audit_write(preference, actions.CREATED if _created else actions.UPDATED)
    return preference


# --- recovery goals --------------------------------------------------------------------------


def _clean_steps(steps: Any) -> list[str]:
    if isinstance(steps, str):
        steps = steps.splitlines()
    if not isinstance(steps, list) or not all(isinstance(x, str) for x in steps):
        raise ValidationError({"steps": [_("Give the steps as a list of text.")]})
    cleaned = [x.strip() for x in steps if x.strip()]
    if len(cleaned) > 30 or any(len(x) > 500 for x in cleaned):
        raise ValidationError({"steps": [_("At most 30 steps of up to 500 characters.")]})
    return cleaned


@transaction.atomic
def goal_save(*, goal: RecoveryGoal, fields: dict[str, Any], by: Any) -> RecoveryGoal:
    if "client" in fields and goal.pk and fields["client"].pk != goal.client_id:
        raise ValidationError({"client": [_("A goal cannot move to another client.")]})
    for name, value in fields.items():
        setattr(goal, name, value)
    goal.steps = _clean_steps(goal.steps)
    if not (goal.goal or "").strip():
        raise ValidationError({"goal": [_("Write the goal in the client's words.")]})
    goal.program_id = goal.client.program_id
    if goal.pk is None:
        goal.created_by = by
    if goal.status == GoalStatus.ACHIEVED:
        today = goal.client.program.local_today()
        goal.achieved_on = goal.achieved_on or today
        if goal.achieved_on > today:
            raise ValidationError({"achieved_on": [_("The date cannot be in the future.")]})
    else:
        goal.achieved_on = None
    goal.full_clean()
    verb = actions.CREATED if goal.pk is None else actions.UPDATED
    goal.save()
    audit_write(goal, verb, user=by)
    return goal


@transaction.atomic
def goal_progress_add(*, goal: RecoveryGoal, note: str, author: Any, peer_session: Any = None) -> GoalProgress:
    if not note.strip():
        raise ValidationError({"note": [_("Write what changed.")]})
    if peer_session is not None and not peer_session.attendances.filter(client_id=goal.client_id).exists():
        raise ValidationError({"peer_session": [_("The client did not attend that session.")]})
    progress = GoalProgress.objects.create(goal=goal, note=note.strip(), author=author, peer_session=peer_session)
    audit_write(progress, actions.CREATED, user=author)
    return progress


# --- outcome measures ------------------------------------------------------------------------


def score_responses(instrument: Instrument, responses: Any) -> int:
    """Validate one answer per item within the item range and return the total."""
    if not isinstance(responses, list) or len(responses) != len(instrument.items):
        raise ValidationError({"responses": [_("Give %(n)s answers, one per item.") % {"n": len(instrument.items)}]})
    bad = [
        i + 1
        for i, value in enumerate(responses)
        if isinstance(value, bool)
        or not isinstance(value, int)
        or not instrument.item_min <= value <= instrument.item_max
    ]
    if bad:
        raise ValidationError(
            {
                "responses": [
                    _("Items %(items)s must be whole numbers from %(lo)s to %(hi)s.")
                    % {"items": ", ".join(map(str, bad)), "lo": instrument.item_min, "hi": instrument.item_max}
                ]
            }
        )
    return sum(responses)


@transaction.atomic
def instrument_save(*, instrument: Instrument, fields: dict[str, Any]) -> Instrument:
    for name, value in fields.items():
        setattr(instrument, name, value)
    if instrument.program_id is None:
        raise ValidationError({"program": [_("Program instruments belong to a program.")]})
    items = instrument.items
    if (
        not isinstance(items, list)
        or not 1 <= len(items) <= 100
        or not all(isinstance(x, str) and x.strip() for x in items)
    ):
        raise ValidationError({"items": [_("Give 1 to 100 item labels.")]})
    if instrument.item_max <= instrument.item_min:
        raise ValidationError({"item_max": [_("The highest score must be above the lowest.")]})
    instrument.full_clean()
    verb = actions.CREATED if instrument.pk is None else actions.UPDATED
    instrument.save()
    audit_write(instrument, verb)
    return instrument


@transaction.atomic
def outcome_measure_record(
    *, client: Client, instrument: Instrument, administered_on: date, responses: Any, by: Any
) -> OutcomeMeasure:
    """Score and store one administration; the client's first of an instrument is the intake."""
    Client.objects.select_for_update().filter(pk=client.pk).first()
    if instrument.program_id not in (None, client.program_id):
        raise ValidationError({"instrument": [_("That instrument belongs to another program.")]})
    if administered_on > client.program.local_today():
        raise ValidationError({"administered_on": [_("The date cannot be in the future.")]})
    total = score_responses(instrument, responses)
    earlier = OutcomeMeasure.objects.filter(client=client, instrument=instrument)
    is_intake = not earlier.filter(administered_on__lte=administered_on).exists()
    if is_intake:
        earlier.filter(is_intake=True).update(is_intake=False)  # a back-dated first one takes over
    measure = OutcomeMeasure.objects.create(
        program_id=client.program_id,
        client=client,
        instrument=instrument,
        administered_on=administered_on,
        responses=responses,
        total=total,
        is_intake=is_intake,
        administered_by=by,
    )
    audit_write(measure, actions.CREATED, user=by)
    return measure


@transaction.atomic
def collection_point_save(*, point: CollectionPoint, fields: dict[str, Any]) -> CollectionPoint:
    """Add or change one time point of a program's data-collection protocol (clients.collection)."""
    for name, value in fields.items():
        setattr(point, name, value)
    point.full_clean()  # CollectionPoint.clean(): the instrument is the library's or the program's
    verb = actions.CREATED if point.pk is None else actions.UPDATED
    point.save()
    audit_write(point, verb, detail={"fields": sorted(fields)})
    return point


@transaction.atomic
def collection_point_delete(*, point: CollectionPoint) -> None:
    audit_write(point, actions.DELETED)
    point.delete()


def outcome_next_due(client: Client, instrument: Instrument) -> date | None:
    """When the client should next answer `instrument`. Where the program's collection protocol
    has time points for it (clients.collection), the protocol decides: today while a window is
    open, else the day the next window opens (None once none is left). Otherwise intake first
    (due now), then every `outcome_interval_days` after the latest."""
    points = list(CollectionPoint.objects.filter(program_id=client.program_id, instrument=instrument))
    if points:
        today = client.program.local_today()
        schedule = collection_schedule(
            program=client.program, clients=Client.objects.filter(pk=client.pk), today=today, points=points
        )
        if any(row.status == CollectionStatus.OPEN for row in schedule):
            return today
        return min((row.opens for row in schedule if row.status == CollectionStatus.UPCOMING), default=None)
    latest = (
        OutcomeMeasure.objects.filter(client=client, instrument=instrument)
        .order_by("-administered_on")
        .values_list("administered_on", flat=True)
        .first()
    )
    if latest is None:
        return client.program.local_today()
    return latest + timedelta(days=program_policy(client.program_id).outcome_interval_days)


def program_outcome_summary(program_id: int, instrument: Instrument) -> dict[str, Any]:
    """Mean change from intake to latest for clients measured at least twice (vectorised)."""
    rows = OutcomeMeasure.objects.filter(program_id=program_id, instrument=instrument).values_list(
        "client_id", "administered_on", "id", "total"
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["client_id", "day", "id", "total"])
    measured = int(frame["client_id"].nunique()) if not frame.empty else 0
    if frame.empty:
        return {
            "clients_measured": 0,
            "clients_with_followup": 0,
            "mean_intake": None,
            "mean_latest": None,
            "mean_change": None,
            "improved": 0,
        }
    frame["total"] = frame["total"].astype("int64")
    frame = frame.sort_values(["client_id", "day", "id"])
    grouped = frame.groupby("client_id")["total"]
    per_client = pd.DataFrame({"first": grouped.first(), "last": grouped.last(), "n": grouped.size()})
    followed = per_client[per_client["n"] >= 2]
    change = followed["last"] - followed["first"]
    return {
        "clients_measured": measured,
        "clients_with_followup": len(followed),
        "mean_intake": round(float(followed["first"].mean()), 1) if len(followed) else None,
        "mean_latest": round(float(followed["last"].mean()), 1) if len(followed) else None,
        "mean_change": round(float(change.mean()), 1) if len(followed) else None,
        "improved": int((change > 0).sum()) if instrument.higher_is_better else int((change < 0).sum()),
    }


# --- resources and referrals -----------------------------------------------------------------


@transaction.atomic
def resource_save(*, resource: Resource, fields: dict[str, Any]) -> Resource:
    for name, value in fields.items():
        setattr(resource, name, value)
    resource.full_clean()  # Resource.clean(): language codes, some way to reach it
    verb = actions.CREATED if resource.pk is None else actions.UPDATED
    resource.save()
    audit_write(resource, verb)
    return resource


@transaction.atomic
def referral_create(
    *, client: Client, resource: Resource, referred_on: date, reason: str, follow_up_on: date | None, by: Any
) -> Referral:
    errors: dict[str, list[str]] = {}
    if resource.program_id != client.program_id:
        errors["resource"] = [_("The resource is in another program's directory.")]
    elif not resource.is_active:
        errors["resource"] = [_("The resource is no longer listed.")]
    if referred_on > client.program.local_today():
        errors["referred_on"] = [_("The date cannot be in the future.")]
    if follow_up_on is not None and follow_up_on < referred_on:
        errors["follow_up_on"] = [_("Follow up on or after the referral date.")]
    if errors:
        raise ValidationError(errors)
    referral = Referral.objects.create(
        program_id=client.program_id,
        client=client,
        resource=resource,
        referred_on=referred_on,
        reason=reason,
        follow_up_on=follow_up_on,
        referred_by=by,
    )
    audit_write(referral, actions.CREATED, user=by)
    return referral


@transaction.atomic
def referral_update(
    *,
    referral: Referral,
    status: str,
    note: str = "",
    follow_up_on: date | None = None,
    outcome: str = "",
    today: date | None = None,
) -> Referral:
    """Move a referral along until it is closed; closing needs an outcome and ends follow-up."""
    referral = Referral.objects.select_for_update().get(pk=referral.pk)
    today = today or referral.client.program.local_today()
    if referral.status == ReferralStatus.CLOSED:
        raise ValidationError({"status": [_("This referral is closed.")]})
    if status not in ReferralStatus.values:
        raise ValidationError({"status": [_("Unknown status.")]})
    if status == ReferralStatus.CLOSED:
        if not outcome:
            raise ValidationError({"outcome": [_("Say how the referral ended.")]})
        referral.closed_on = today
        referral.outcome = outcome
        referral.follow_up_on = None
    else:
        if outcome:
            raise ValidationError({"outcome": [_("An outcome is given when closing.")]})
        if follow_up_on is not None and follow_up_on < today:
            raise ValidationError({"follow_up_on": [_("Follow up today or later.")]})
        referral.follow_up_on = follow_up_on
    referral.status = status
    if note.strip():
        stamp = f"{today.isoformat()} ({referral.get_status_display()}): {note.strip()}"
        referral.follow_up_notes = f"{referral.follow_up_notes}\n{stamp}".strip()
    referral.full_clean()
    referral.save()
    audit_write(referral, actions.UPDATED, detail={"status": status})
    return referral


# ---------------------------------------------------------------------------
# Dashboard imports: an uploaded file is checked in the background (a dry run), shown as a
# preview, and imported when the coordinator confirms. See docs/imports.md.

IMPORT_PROGRESS_KEY = "import-job-progress:{}"
IMPORT_PREVIEW_TTL = timedelta(hours=24)


def import_job_progress(job: ImportJob) -> int:
    """Progress of a running job. The import runs inside one transaction, so its row cannot
    report progress to other connections; the cache carries it (shared cache needed with workers)."""
    if not job.is_running:
        return job.progress
    return int(cache.get(IMPORT_PROGRESS_KEY.format(job.pk), job.progress))


def import_jobs_expire(*, older_than: timedelta = IMPORT_PREVIEW_TTL) -> int:
    """Delete the uploads of previews nobody confirmed, and of interrupted jobs nobody retried:
    the file is PHI and must not linger."""
    cutoff = timezone.now() - older_than
    stale = list(
        ImportJob.objects.filter(
            Q(status=ImportJobStatus.PREVIEWED) | Q(status=ImportJobStatus.FAILED, interrupted=True),
            created_at__lt=cutoff,
        ).exclude(upload="")
    )
    for job in stale:
        job.upload.delete(save=False)
        if job.status == ImportJobStatus.PREVIEWED:
            job.status = ImportJobStatus.EXPIRED
        job.finished_at = job.finished_at or timezone.now()
    ImportJob.objects.bulk_update(stale, ["upload", "status", "finished_at"])
    return len(stale)


def import_jobs_reap() -> int:
    """Fail the jobs whose worker died (core.jobs): the file stays for a retry."""
    return len(
        reap_stale_jobs(
            ImportJob,
            running=RUNNING_IMPORT_STATUSES,
            failed_status=ImportJobStatus.FAILED,
            extra={"finished_at": timezone.now()},
        )
    )


@transaction.atomic
def import_job_start(*, program: Program, user: User, kind: str, upload: File) -> ImportJob:
    # Each new upload sweeps abandoned previews, so no scheduler is needed for this.
    import_jobs_expire()
    if kind not in KINDS:
        raise ValidationError({"kind": [f"Choose one of {', '.join(KINDS)}."]})
    job = ImportJob(program=program, created_by=user, kind=kind, status=ImportJobStatus.PREVIEWING)
    job.upload.save("upload.csv", upload, save=False)
    job.save()
    transaction.on_commit(partial(_dispatch_import_job, job.pk))
    return job


@transaction.atomic
def import_job_confirm(*, job: ImportJob) -> ImportJob:
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportJobStatus.PREVIEWED:
        raise ValidationError({"status": ["Only a checked file without errors can be imported."]})
    job.status = ImportJobStatus.IMPORTING
    job.progress = 0
    for field, value in requeue_fields().items():
        setattr(job, field, value)
    job.save()
    transaction.on_commit(partial(_dispatch_import_job, job.pk))
    return job


@transaction.atomic
def import_job_retry(*, job: ImportJob) -> ImportJob:
    """Run an interrupted job again from where it stood: the check if the file was never
    checked, the import (which checks everything again) if it was confirmed."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if not job.can_retry:
        raise ValidationError({"status": ["Only a job whose worker stopped can be retried."]})
    job.status = ImportJobStatus.IMPORTING if job.preview.get("ok") else ImportJobStatus.PREVIEWING
    job.progress = 0
    job.finished_at = None
    job.result = {}
    for field, value in requeue_fields().items():
        setattr(job, field, value)
    job.save()
    transaction.on_commit(partial(_dispatch_import_job, job.pk))
    return job


def import_job_run(*, job_id: uuid.UUID | str) -> None:
    """The background half: a dry run while previewing, the real import after confirmation.

    The worker claims the job and keeps its lease alive (core.jobs). The import and the
    job's outcome commit in one transaction, and only while the claim is still ours: a worker
    killed mid-import leaves nothing written, and the reaper marks the job failed. The upload
    is deleted as soon as it is no longer needed (it holds PHI)."""
    job = ImportJob.objects.select_related("program").get(pk=job_id)
    token = claim_job(ImportJob, job.pk, statuses=RUNNING_IMPORT_STATUSES)
    if token is None:  # not runnable, or another worker holds it
        return
    key = IMPORT_PROGRESS_KEY.format(job.pk)
    previewing = job.status == ImportJobStatus.PREVIEWING
    outcome: dict[str, Any] = {"progress": 100, "claim": None, "heartbeat_at": None}
    keep_upload = False
    try:
        with heartbeat(ImportJob, job.pk, token), transaction.atomic():
            with job.upload.open("rb") as handle:
                data = handle.read()
            result = import_csv_file(
                program=job.program,
                kind=job.kind,
                data=data,
                dry_run=previewing,
                progress=lambda percent: cache.set(key, percent, 3600),
                by=job.created_by,
                via="page",
            )
            summary = result.as_dict(max_errors=IMPORT_ERRORS_SHOWN)
            if previewing:
                outcome["preview"] = summary
                outcome["status"] = ImportJobStatus.PREVIEWED if result.ok else ImportJobStatus.INVALID
            else:
                # Stored data may have changed since the preview; the import re-checks everything.
                outcome["result"] = summary
                outcome["status"] = ImportJobStatus.DONE if result.ok else ImportJobStatus.INVALID
            keep_upload = previewing and result.ok
            outcome["finished_at"] = None if outcome["status"] == ImportJobStatus.PREVIEWED else timezone.now()
            if not holds_claim(ImportJob, job.pk, token, statuses=RUNNING_IMPORT_STATUSES):
                raise LostClaim
            ImportJob.objects.filter(pk=job.pk).update(**outcome)
    except LostClaim:
        logger.warning("import job %s was reaped while running; its writes were rolled back", job.pk)
        cache.delete(key)
        return
    except Exception:
        # Never log the exception text: it can quote cells of the file.
        logger.error("import job %s failed", job.pk)
        ImportJob.objects.filter(pk=job.pk, claim=token).update(
            status=ImportJobStatus.FAILED,
            result={"ok": False, "errors": [], "error_count": 0},
            finished_at=timezone.now(),
            **{k: v for k, v in outcome.items() if k in ("progress", "claim", "heartbeat_at")},
        )
    if not keep_upload:
        job.upload.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(upload="")
    cache.delete(key)


IMPORT_ERRORS_SHOWN = 1000


# The worker's entry point, beside the service it runs (as pretix keeps its tasks in its services):
# the dispatcher below enqueues it, so a tasks module would both import this one and be imported
# by it. clients.tasks lists it for Celery's autodiscovery.
@shared_task(name="clients.tasks.run_import_job", ignore_result=True)
def run_import_job(job_id: str) -> None:
    import_job_run(job_id=job_id)


def _dispatch_import_job(job_id: uuid.UUID) -> None:
    # No broker (e.g. `make run`): in a thread beside the request so the page can poll progress.
    dispatch(run_import_job, str(job_id), in_thread=settings.IMPORT_JOBS_IN_THREAD)


# ---------------------------------------------------------------------------
# Hospital visits in real time (issue 20 item 3; docs/interop.md): HL7 v2 ADT over MLLP and FHIR
# Encounters. clients.adt reads a message; these store it and record what it means, in one
# transaction, before the sender is answered.


@dataclass(frozen=True)
class AdtOutcome:
    """What became of one message: the acknowledgment code (AA, AE, AR), its text, the stored
    message (None when it could not be stored), and whether it had been received before."""

    code: str
    reason: str
    message: AdtMessage | None
    duplicate: bool = False
    condition: str = ""


ADT_ALREADY_RECEIVED = "Already received."
ADT_HELD_REASON = "No client with this record number in the program: held for review."


def transition_event_record(
    *,
    program: Program,
    client: Client,
    kind: str,
    at: datetime,
    visit_key: str,
    time_given: bool,
    detail: dict[str, Any],
) -> ClinicalAppointment:
    """Record a discharge or an emergency visit as the continuity engine's transition event
    (continuity.md §2: an attended appointment of that kind), once per visit (`visit_key`, the
    appointment's external id). Again for the same visit: the time moves only when the message
    gives it (`time_given`). The one writer for ADT and FHIR alike."""
    ClinicalAppointment.check_status_against_start(at, AppointmentStatus.ATTENDED)  # not in the future
    existing = ClinicalAppointment.objects.select_for_update().filter(program=program, external_id=visit_key).first()
    if existing is None:
        appointment = ClinicalAppointment.objects.create(
            program=program,
            client=client,
            external_id=visit_key,
            start=at,
            kind=kind,
            status=AppointmentStatus.ATTENDED,
        )
        audit_write(appointment, actions.CREATED, detail=detail)
        # Follow-up within hours: the task for the client's supporter opens in this transaction.
        transitions_recorded.send(sender=Program, program=program, appointment_ids=[appointment.pk])
        return appointment
    if existing.client_id != client.pk or existing.kind != kind:
        raise ValidationError({"visit": [_("This visit number is already recorded for another patient or kind.")]})
    if time_given and existing.start != at:
        existing.start = at
        existing.save(update_fields=["start"])
        audit_write(existing, actions.UPDATED, detail=detail)
    return existing


def _adt_apply(record: AdtMessage, facts: VisitFacts, program: Program, client: Client | None = None) -> None:
    """Match the client (or take the one a coordinator chose) and record the transition event,
    inside the caller's transaction. AdtError for content the records refuse."""
    client = client or Client.objects.filter(program=program, external_id=facts.record_number).first()
    record.client = client
    record.processed_at = timezone.now()
    if client is None:
        record.status, record.reason = AdtStatus.HELD, ADT_HELD_REASON
        return
    record.status = AdtStatus.ACCEPTED
    detail = {"via": "adt" if record.source == AdtSource.HL7V2 else "api", "event": facts.event}
    try:
        if facts.is_update:
            changed = []
            for kind, at in (
                (AppointmentKind.EMERGENCY_VISIT, facts.admitted_at),
                (AppointmentKind.INPATIENT_DISCHARGE, facts.discharged_at),
            ):
                key = facts.visit_key(kind, None)
                if (
                    at is not None
                    and facts.visit_number
                    and ClinicalAppointment.objects.filter(program=program, external_id=key).exists()
                ):
                    changed.append(
                        transition_event_record(
                            program=program,
                            client=client,
                            kind=kind,
                            at=at,
                            visit_key=key,
                            time_given=True,
                            detail=detail,
                        )
                    )
            record.appointment = changed[0] if changed else None
            record.reason = "" if changed else _("No recorded visit to update: nothing changed.")
            return
        transition = facts.transition()
        if transition is None:
            record.reason = _("Not a discharge or an emergency visit: nothing to record.")
            return
        transition_kind, at, given = transition
        if at is None:
            raise AdtError("AE", "The message gives no time for the visit.", "101")
        record.appointment = transition_event_record(
            program=program,
            client=client,
            kind=transition_kind,
            at=at,
            visit_key=facts.visit_key(transition_kind, at),
            time_given=given,
            detail=detail,
        )
    except ValidationError as exc:
        raise AdtError("AE", " ".join(exc.messages)[:200]) from exc


def _adt_store_rejected(
    *, program: Program, source: str, raw: str, error: AdtError, control_id: str = ""
) -> AdtOutcome:
    """Keep a message we could not take, with why (it counts as not received: a corrected
    resend under the same control id is taken)."""
    try:
        record = AdtMessage.objects.create(
            program=program,
            source=source,
            control_id=control_id,
            raw=raw,
            status=AdtStatus.REJECTED,
            reason=error.reason[:300],
            processed_at=timezone.now(),
        )
    except DatabaseError:
        logger.error("ADT: a rejected message could not be stored")
        record = None
    return AdtOutcome(error.code, error.reason, record, condition=error.condition)


def adt_message_receive(
    *, program: Program, raw: str, source: str = AdtSource.HL7V2, record_number: str = ""
) -> AdtOutcome:
    """Store one message and record what it means, in one transaction; the answer to send only
    after it committed (so a sender that gets AA can forget the message, and one that gets
    nothing sends it again). A control id received before changes nothing and is accepted again.
    `record_number`: for a FHIR Encounter, its subject as the API resolved it."""
    try:
        if source == AdtSource.FHIR:
            facts = parse_fhir_encounter(raw, program, record_number)
        else:
            facts = parse_hl7(raw, program)[1]
    except AdtError as exc:
        return _adt_store_rejected(program=program, source=source, raw=raw, error=exc)
    try:
        with transaction.atomic():
            seen = _adt_seen(program, source, facts.control_id)
            if seen is not None:
                return AdtOutcome("AA", ADT_ALREADY_RECEIVED, seen, duplicate=True)
            record = AdtMessage(
                program=program,
                source=source,
                control_id=facts.control_id,
                event=facts.event,
                raw=raw,
                record_number=facts.record_number,
            )
            _adt_apply(record, facts, program)
            record.save()
            audit_write(record, actions.CREATED, detail={"via": "adt" if source == AdtSource.HL7V2 else "api"})
    except AdtError as exc:
        return _adt_store_rejected(program=program, source=source, raw=raw, error=exc, control_id=facts.control_id)
    except IntegrityError:
        # The same message on two connections at once: the other stored it.
        seen = _adt_seen(program, source, facts.control_id)
        if seen is not None:
            return AdtOutcome("AA", ADT_ALREADY_RECEIVED, seen, duplicate=True)
        return AdtOutcome("AR", "The message conflicts with one being stored; send it again.", None, condition="207")
    except DatabaseError:
        logger.error("ADT: a message could not be stored; the sender is told to resend")
        return AdtOutcome("AR", "Could not store the message; send it again.", None, condition="207")
    return AdtOutcome("AA", record.reason or "Accepted.", record)


def _adt_seen(program: Program, source: str, control_id: str) -> AdtMessage | None:
    return (
        AdtMessage.objects.filter(program=program, source=source, control_id=control_id)
        .exclude(status=AdtStatus.REJECTED)
        .first()
    )


def _adt_facts(record: AdtMessage) -> VisitFacts:
    if record.source == AdtSource.FHIR:
        return parse_fhir_encounter(record.raw, record.program, record.record_number)
    return parse_hl7(record.raw, record.program)[1]


@transaction.atomic
def adt_message_match(*, message: AdtMessage, client: Client, user: User) -> AdtMessage:
    """A coordinator says whose visit a held message is (the hospital's record number may differ
    from the clinic's): the visit is recorded for that client, as if it had matched."""
    record = AdtMessage.objects.select_for_update().select_related("program").get(pk=message.pk)
    if record.status != AdtStatus.HELD:
        raise ValidationError({"status": [_("Only a held message can be matched.")]})
    if client.program_id != record.program_id:
        raise ValidationError({"client": [_("Choose a client of the message's program.")]})
    try:
        _adt_apply(record, _adt_facts(record), record.program, client=client)
    except AdtError as exc:
        raise ValidationError({"client": [exc.reason]}) from exc
    record.reviewed_by = user
    record.save()
    audit_write(record, actions.UPDATED, user=user, detail={"matched": True})
    return record


def adt_messages_rematch(*, program: Program, user: User | None = None) -> int:
    """Match the program's held messages again by record number (after clients were added or
    imported); how many now found their client. Each message in its own transaction."""
    matched = 0
    for message_id in list(
        AdtMessage.objects.filter(program=program, status=AdtStatus.HELD)
        .order_by("received_at", "id")
        .values_list("id", flat=True)
    ):
        with transaction.atomic():
            record = AdtMessage.objects.select_for_update().select_related("program").get(pk=message_id)
            if record.status != AdtStatus.HELD:
                continue
            try:
                _adt_apply(record, _adt_facts(record), program)
            except AdtError as exc:
                record.status, record.reason = AdtStatus.REJECTED, exc.reason[:300]
            if record.status == AdtStatus.HELD:
                continue  # still nobody: leave the row as it was
            record.reviewed_by = user
            record.save()
            audit_write(record, actions.UPDATED, user=user, detail={"rematched": True})
            matched += record.status == AdtStatus.ACCEPTED
    return matched


@transaction.atomic
def adt_message_dismiss(*, message: AdtMessage, user: User) -> AdtMessage:
    """A held message about someone who is not the program's client: set aside, nothing recorded."""
    updated = AdtMessage.objects.filter(pk=message.pk, status=AdtStatus.HELD).update(
        status=AdtStatus.DISMISSED, reviewed_by=user, processed_at=timezone.now()
    )
    if not updated:
        raise ValidationError({"status": [_("Only a held message can be dismissed.")]})
    message.refresh_from_db()
    audit_write(message, actions.UPDATED, user=user, detail={"dismissed": True})
    return message
