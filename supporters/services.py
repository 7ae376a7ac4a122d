"""Rules and writes for supporters: credentials and training hours, program policy,
supervision, lived experience and caseload capacity.

Other apps call `supporter_may_sign(supporter)` before a note is signed and
`supporter_may_take_clients(supporter)` (through clients.services.assignment_save)
before a new assignment starts.
"""

from __future__ import annotations

import calendar
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils.text import slugify
from django.utils.translation import gettext as _

from audit import actions
from audit.records import audit_write
from base.services import record_fields_save
from core.models import Membership, Program, Role, User
from core.scoping import role_program_ids
from supporters.models import (
    BUILTIN_LIVED_EXPERIENCE_AREAS,
    CEHours,
    Certification,
    CredentialReminder,
    CredentialType,
    LapsedPolicy,
    LivedExperience,
    OnCallShift,
    ProgramPolicy,
    SupervisionFormat,
    SupervisionSession,
    Supporter,
)
from supporters.signals import credentials_changed

logger = logging.getLogger(__name__)

REMINDER_THRESHOLDS = (90, 60, 30)


class CredentialStatus:
    ACTIVE = "active"
    EXPIRING_90 = "expiring_90"
    EXPIRING_60 = "expiring_60"
    EXPIRING_30 = "expiring_30"
    LAPSED = "lapsed"
    RENEWED = "renewed"

    LABELS = {
        ACTIVE: "Active",
        EXPIRING_90: "Expires within 90 days",
        EXPIRING_60: "Expires within 60 days",
        EXPIRING_30: "Expires within 30 days",
        LAPSED: "Lapsed",
        RENEWED: "Renewed",
    }
    DUE = frozenset({EXPIRING_90, EXPIRING_60, EXPIRING_30, LAPSED})


def credential_status(expires_on: date | None, today: date) -> str:
    """A credential is valid through its expiry date and lapsed the day after."""
    if expires_on is None:
        return CredentialStatus.ACTIVE
    days_left = (expires_on - today).days
    if days_left < 0:
        return CredentialStatus.LAPSED
    if days_left <= 30:
        return CredentialStatus.EXPIRING_30
    if days_left <= 60:
        return CredentialStatus.EXPIRING_60
    if days_left <= 90:
        return CredentialStatus.EXPIRING_90
    return CredentialStatus.ACTIVE


def _credential_key(certification: Certification) -> tuple[int, str]:
    """Rows of one supporter for the same credential (by type, or by name when untyped)."""
    if certification.credential_type_id:
        return certification.supporter_id, f"type:{certification.credential_type_id}"
    return certification.supporter_id, f"name:{certification.certification_type.strip().lower()}"


def _expiry_sort(cert: Certification) -> tuple[date, int]:
    return cert.expires_on or date.max, cert.pk or 0


def credential_statuses(certifications: Iterable[Certification], today: date) -> dict[int, str]:
    """The status of each certification, as every page, API field, worklist and reminder shows it.

    A row is judged by its expiry (credential_status), except that a row superseded by a
    later-expiring row of the same supporter and credential, issued by `today`, is "renewed":
    only the latest row of a credential can be lapsed or due. A past `today` (a session's
    date, for billing) sees the credentials as they stood then. Pass all rows of the
    supporters concerned."""
    certifications = list(certifications)
    latest: dict[tuple[int, str], Certification] = {}
    for cert in certifications:
        if cert.issued_on is not None and cert.issued_on > today:
            continue  # not issued yet on `today` (a past session's date, for billing): renews nothing
        key = _credential_key(cert)
        if key not in latest or _expiry_sort(cert) > _expiry_sort(latest[key]):
            latest[key] = cert
    return {
        cert.pk: CredentialStatus.RENEWED
        if latest.get(_credential_key(cert), cert) is not cert and not (cert.issued_on and cert.issued_on > today)
        else credential_status(cert.expires_on, today)
        for cert in certifications
    }


def lapsed_certifications(certifications: list[Certification], today: date) -> list[Certification]:
    """Credentials whose latest expiry has passed (a renewed credential does not count)."""
    statuses = credential_statuses(certifications, today)
    return [c for c in certifications if statuses[c.pk] == CredentialStatus.LAPSED]


def program_policy(program_id: int) -> ProgramPolicy:
    """The program's policy row, or the defaults (unsaved) when it has none."""
    policy = ProgramPolicy.objects.filter(program_id=program_id).first()
    return policy or ProgramPolicy(program_id=program_id)


def supporter_is_lapsed(supporter: Supporter, today: date | None = None) -> bool:
    today = today or supporter.program.local_today()
    return bool(lapsed_certifications(list(supporter.certifications.all()), today))


def lapsed_policy_blocks(program_id: int) -> bool:
    """Whether a lapsed credential stops the supporter (new clients, signing notes, billing units)
    rather than only warning: the program's lapsed-credential policy."""
    return program_policy(program_id).lapsed_credential_policy == LapsedPolicy.BLOCK


def supporter_may_take_clients(supporter: Supporter, today: date | None = None) -> tuple[bool, str]:
    """(allowed, message). Under a 'warn' policy a lapsed supporter is allowed with a warning message."""
    if not supporter_is_lapsed(supporter, today):
        return True, ""
    if lapsed_policy_blocks(supporter.program_id):
        return False, _("This supporter's credential has lapsed; the program does not allow new clients until renewed.")
    return True, _("Warning: this supporter's credential has lapsed.")


def supporter_may_sign(supporter: Supporter, today: date | None = None) -> bool:
    """Whether the supporter may sign session notes today. False only when a credential
    has lapsed and the program's policy is 'block'; under 'warn' signing is allowed."""
    if not supporter_is_lapsed(supporter, today):
        return True
    return not lapsed_policy_blocks(supporter.program_id)


@transaction.atomic
def supporter_save(*, supporter: Supporter, fields: dict[str, Any]) -> Supporter:
    """Create or update a supporter. The rules are the model's (language codes, caseload range,
    the site in the program: Supporter.clean()), so the API and the admin refuse the same input."""
    for name, value in fields.items():
        setattr(supporter, name, value)
    supporter.full_clean()
    verb = actions.CREATED if supporter.pk is None else actions.UPDATED
    supporter.save()
    audit_write(supporter, verb)
    return supporter


# --- credentials and training hours -------------------------------------------------------


@transaction.atomic
def credential_type_save(*, credential_type: CredentialType, fields: dict[str, Any]) -> CredentialType:
    """Category hours are normalised and checked against the total in CredentialType.clean()."""
    for name, value in fields.items():
        setattr(credential_type, name, value)
    credential_type.full_clean(validate_unique=False)
    verb = actions.CREATED if credential_type.pk is None else actions.UPDATED
    credential_type.save()
    audit_write(credential_type, verb)
    return credential_type


@transaction.atomic
def certification_save(*, certification: Certification, fields: dict[str, Any]) -> Certification:
    for name, value in fields.items():
        setattr(certification, name, value)
    ctype = certification.credential_type
    if ctype is not None:
        if ctype.program_id != certification.supporter.program_id:
            raise ValidationError({"credential_type": [_("The credential type belongs to another program.")]})
        certification.certification_type = certification.certification_type or ctype.name
        certification.issuing_body = certification.issuing_body or ctype.issuing_body
    if not certification.certification_type:
        raise ValidationError({"certification_type": [_("Name the credential or choose its type.")]})
    certification.full_clean()  # Certification.clean(): expiry on or after the issue date
    verb = actions.CREATED if certification.pk is None else actions.UPDATED
    certification.save()
    credentials_changed.send(sender=Program, program=certification.supporter.program, supporter=certification.supporter)
    audit_write(certification, verb)
    return certification


def renewal_cycle_start(certification: Certification) -> date | None:
    """Hours count from the start of the current renewal period: the later of the issue
    date and (expiry − renewal period)."""
    starts = [d for d in [certification.issued_on] if d]
    ctype = certification.credential_type
    if ctype is not None and certification.expires_on is not None:
        starts.append(_add_months(certification.expires_on, -ctype.renewal_period_months))
    return max(starts) if starts else None


def _add_months(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass
class CEProgress:
    certification: Certification
    cycle_start: date | None
    total_hours: Decimal
    total_required: Decimal
    by_category: list[dict[str, Any]] = field(default_factory=list)

    @property
    def requirement_met(self) -> bool:
        return self.total_hours >= self.total_required and all(row["met"] for row in self.by_category)

    @property
    def hours_short(self) -> Decimal:
        return max(self.total_required - self.total_hours, Decimal(0))


def ce_progress(certification: Certification, entries: list[CEHours] | None = None) -> CEProgress:
    """Hours logged in the current cycle against the credential type's requirement.
    Pass `entries` (e.g. prefetched) to avoid a query."""
    if entries is None:
        entries = list(certification.ce_hours.all())
    start = renewal_cycle_start(certification)
    counted = [
        e
        for e in entries
        if (start is None or e.completed_on >= start)
        and (certification.expires_on is None or e.completed_on <= certification.expires_on)
    ]
    ctype = certification.credential_type
    required = dict(ctype.category_hours_required) if ctype else {}
    by_category: dict[str, Decimal] = defaultdict(Decimal)
    for entry in counted:
        by_category[entry.category] += entry.hours
    rows = []
    for category in sorted(set(required) | set(by_category)):
        need = Decimal(required.get(category, "0"))
        have = by_category.get(category, Decimal(0))
        rows.append({"category": category, "hours": have, "required": need, "met": have >= need})
    return CEProgress(
        certification=certification,
        cycle_start=start,
        total_hours=sum((e.hours for e in counted), Decimal(0)),
        total_required=ctype.ce_hours_required if ctype else Decimal(0),
        by_category=rows,
    )


@transaction.atomic
def ce_hours_log(
    *,
    certification: Certification,
    category: str,
    hours: Decimal,
    completed_on: date,
    title: str,
    provider: str = "",
    today: date | None = None,
) -> CEHours:
    """A supporter logs training hours against one of their credentials."""
    today = today or certification.supporter.program.local_today()
    errors: dict[str, list[str]] = {}
    if completed_on > today:
        errors["completed_on"] = [_("Training cannot be completed in the future.")]
    if not slugify(category):
        errors["category"] = [_("Give a category, e.g. ethics.")]
    if hours is None or hours <= 0 or hours > 100:
        errors["hours"] = [_("Hours must be more than 0 and at most 100.")]
    if errors:
        raise ValidationError(errors)
    entry = CEHours(
        certification=certification,
        category=slugify(category),
        hours=hours,
        completed_on=completed_on,
        title=title,
        provider=provider,
    )
    entry.full_clean()
    entry.save()
    audit_write(entry, actions.CREATED)
    return entry


# --- reminders ------------------------------------------------------------------------------


def _coordinator_emails(program_id: int) -> list[str]:
    return sorted(
        {
            email
            for email in Membership.objects.filter(
                program_id=program_id, role=Role.COORDINATOR, user__is_active=True
            ).values_list("user__email", flat=True)
            if email
        }
    )


def send_credential_reminders(*, today_by_program: dict[int, date] | None = None) -> int:
    """Email the supporter and the program's coordinators when a credential is 90, 60 and
    30 days from expiry. Each threshold goes once per credential and expiry date, even if
    the command runs daily or twice; a first run inside 30 days sends only the 30-day one.
    The email names the supporter and the credential, never a client."""
    sent = 0
    candidates = (
        Certification.objects.filter(expires_on__isnull=False, supporter__is_active=True)
        .select_related("supporter__program")
        .prefetch_related("reminders", "supporter__certifications")
    )
    for cert in candidates.iterator(chunk_size=500):
        assert cert.expires_on is not None  # the query asked for one
        program = cert.supporter.program
        today = (today_by_program or {}).get(program.id) or program.local_today()
        days_left = (cert.expires_on - today).days
        if days_left < 0 or days_left > max(REMINDER_THRESHOLDS):
            continue
        if credential_statuses(cert.supporter.certifications.all(), today)[cert.pk] == CredentialStatus.RENEWED:
            continue  # already renewed: the newer row gets its own reminders
        due = min(t for t in REMINDER_THRESHOLDS if days_left <= t)
        done = {r.threshold_days for r in cert.reminders.all() if r.expires_on == cert.expires_on}
        if due in done:
            continue
        try:
            with transaction.atomic():
                # Record first (unique per threshold), so a concurrent run cannot send twice.
                for threshold in REMINDER_THRESHOLDS:
                    if threshold >= due and threshold not in done:
                        CredentialReminder.objects.create(
                            certification=cert, threshold_days=threshold, expires_on=cert.expires_on
                        )
                recipients = [e for e in [cert.supporter.email] if e] + _coordinator_emails(program.id)
                send_mail(
                    subject=_("Credential expires in %(days)s days") % {"days": days_left},
                    message=_(
                        '%(name)s\'s credential "%(credential)s" expires on %(expires)s (%(days)s days from '
                        "today). Please plan the renewal and log any outstanding training hours."
                    )
                    % {
                        "name": cert.supporter.full_name,
                        "credential": cert.certification_type,
                        "expires": cert.expires_on.isoformat(),
                        "days": days_left,
                    },
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    recipient_list=recipients,
                )
        except IntegrityError:
            continue  # another run recorded it first
        sent += 1
    logger.info("credential reminders sent: %s", sent)
    return sent


# --- supervision --------------------------------------------------------------------------


@transaction.atomic
def supervision_session_save(
    *,
    program: Program,
    supervisor: User,
    supervisees: list[Supporter],
    held_on: date,
    duration_minutes: int,
    format: str,
    topics: str = "",
    session: SupervisionSession | None = None,  # noqa: A002 - domain word
) -> SupervisionSession:
    errors: dict[str, list[str]] = {}
    roles = role_program_ids(supervisor).roles_in(program.id)
    if not roles & {Role.COORDINATOR.value, Role.SUPPORTER.value}:
        errors["supervisor"] = [_("The supervisor must be a coordinator or supporter of this program.")]
    if not supervisees:
        errors["supervisees"] = [_("Name at least one supporter.")]
    elif any(s.program_id != program.id for s in supervisees):
        errors["supervisees"] = [_("Every supporter must work in this program.")]
    elif any(s.user_id == supervisor.pk for s in supervisees):
        errors["supervisees"] = [_("A supervisor cannot supervise themselves.")]
    elif format == SupervisionFormat.INDIVIDUAL and len(supervisees) != 1:
        errors["supervisees"] = [_("Individual supervision has exactly one supporter.")]
    if held_on > program.local_today():
        errors["held_on"] = [_("Record supervision once it has happened.")]
    if errors:
        raise ValidationError(errors)
    session = session or SupervisionSession()
    session.program = program
    session.supervisor = supervisor
    session.held_on = held_on
    session.duration_minutes = duration_minutes
    session.format = format
    session.topics = topics
    session.full_clean()
    verb = actions.CREATED if session.pk is None else actions.UPDATED
    session.save()
    session.supervisees.set(supervisees)
    audit_write(session, verb, detail={"supervisees": [s.pk for s in supervisees]})
    return session


def month_bounds(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    last = day.replace(day=calendar.monthrange(day.year, day.month)[1])
    return first, last


def supervision_hours(program_id: int, month: date) -> dict[int, Decimal]:
    """Hours of supervision each active supporter received in the month (one aggregate query)."""
    first, last = month_bounds(month)
    rows = (
        Supporter.objects.filter(program_id=program_id, is_active=True)
        .annotate(
            minutes=Sum(
                "supervision_sessions__duration_minutes", filter=Q(supervision_sessions__held_on__range=(first, last))
            )
        )
        .values_list("id", "minutes")
    )
    return {sid: (Decimal(minutes or 0) / 60).quantize(Decimal("0.01")) for sid, minutes in rows}


def supervision_behind(program_id: int, month: date) -> list[int]:
    """Active supporters whose supervision hours in the month fall short of the program's requirement."""
    required = program_policy(program_id).supervision_hours_per_month
    return sorted(sid for sid, hours in supervision_hours(program_id, month).items() if hours < required)


def supervisor_ratios(program_id: int, month: date) -> list[dict[str, Any]]:
    """Distinct supporters each supervisor supervised in the month, against the program's limit."""
    first, last = month_bounds(month)
    limit = program_policy(program_id).max_supervisees_per_supervisor
    rows = (
        SupervisionSession.objects.filter(program_id=program_id, held_on__range=(first, last))
        .values("supervisor_id", "supervisor__first_name", "supervisor__last_name", "supervisor__username")
        .annotate(supervisees=Count("supervisees", distinct=True))
        .order_by("supervisor__last_name", "supervisor_id")
    )
    return [
        {
            "supervisor_id": r["supervisor_id"],
            "supervisor": f"{r['supervisor__first_name']} {r['supervisor__last_name']}".strip()
            or r["supervisor__username"],
            "supervisees": r["supervisees"],
            "limit": limit,
            "over_limit": r["supervisees"] > limit,
        }
        for r in rows
    ]


# --- lived experience ------------------------------------------------------------------------


def lived_experience_choices(program_id: int) -> list[tuple[str, str]]:
    extra = program_policy(program_id).extra_lived_experience_areas or []
    return [(code, str(label)) for code, label in BUILTIN_LIVED_EXPERIENCE_AREAS] + [
        (str(item["code"]), str(item["label"])) for item in extra if isinstance(item, dict) and "code" in item
    ]


def clean_lived_experience_areas(program_id: int, areas: Any, field_name: str) -> list[str]:
    if not isinstance(areas, list):
        raise ValidationError({field_name: [_("Give a list of areas.")]})
    allowed = {code for code, _label in lived_experience_choices(program_id)}
    unknown = [a for a in areas if a not in allowed]
    if unknown:
        raise ValidationError({field_name: [_("Unknown areas: %(a)s") % {"a": ", ".join(map(str, unknown))}]})
    return sorted(set(areas))


@transaction.atomic
def lived_experience_set(*, supporter: Supporter, areas: list[str]) -> LivedExperience:
    """The supporter's own disclosure; an empty list withdraws it."""
    cleaned = clean_lived_experience_areas(supporter.program_id, areas, "areas")
    record, _created = LivedExperience.objects.select_for_update().get_or_create(supporter=supporter)
    record.areas = cleaned
    record.save()
    audit_write(record, actions.CREATED if _created else actions.UPDATED)
    return record


@transaction.atomic
def program_policy_save(*, program: Program, fields: dict[str, Any]) -> ProgramPolicy:
    policy, _created = ProgramPolicy.objects.select_for_update().get_or_create(program=program)
    blocked = policy.lapsed_credential_policy
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.full_clean()  # ProgramPolicy.clean() checks the extra lived-experience areas
    policy.save()
    if policy.lapsed_credential_policy != blocked:
        # The same policy decides whether a lapsed credential's sessions earn units.
        credentials_changed.send(sender=Program, program=program, supporter=None)
    audit_write(policy, actions.CREATED if _created else actions.UPDATED, detail={"fields": sorted(fields)})
    return policy


# --- caseloads ------------------------------------------------------------------------------


def caseload_loads(program_id: int, day: date) -> dict[int, int]:
    """Clients per supporter (primary and secondary) active on `day`, one aggregate query."""
    active = Q(assignments__start_date__lte=day) & (
        Q(assignments__end_date__isnull=True) | Q(assignments__end_date__gte=day)
    )
    rows = (
        Supporter.objects.filter(program_id=program_id)
        .annotate(load=Count("assignments__client", filter=active, distinct=True))
        .values_list("id", "load")
    )
    return dict(rows)


# --- the on-call rota --------------------------------------------------------------------------


@transaction.atomic
def on_call_shift_save(*, shift: OnCallShift, fields: dict[str, Any], by: User | None) -> OnCallShift:
    """Add or change a shift of the rota (coordinators: the page and the API check the role)."""
    if shift.pk is not None and "program" in fields and fields["program"].pk != shift.program_id:
        raise ValidationError({"program": [_("A shift cannot move between programs.")]})
    return record_fields_save(shift, fields=fields, by=by)


@transaction.atomic
def on_call_shift_delete(*, shift: OnCallShift, by: User | None) -> None:
    audit_write(shift, actions.DELETED, user=by)
    shift.delete()
