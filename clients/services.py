"""Writes for clients and caseloads."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from clients.models import AssignmentRole, CaseloadAssignment, Client, Clinician, Consent, ConsentScope


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
def assignment_save(*, assignment: CaseloadAssignment) -> CaseloadAssignment:
    """Save an assignment, refusing a primary that overlaps another primary.

    The client row is locked first so two concurrent saves for one client are
    checked one after the other (SQLite serialises writers by itself)."""
    Client.objects.select_for_update().filter(pk=assignment.client_id).first()
    if assignment.end_date is not None and assignment.end_date < assignment.start_date:
        raise ValidationError({"end_date": ["The end date must be on or after the start date."]})
    if assignment.supporter.program_id != assignment.client.program_id:
        raise ValidationError({"supporter": ["The supporter works in another program."]})
    clash = overlapping_primary(assignment)
    if clash is not None:
        raise ValidationError(
            {"start_date": [f"This client already has a primary supporter from {clash.start_date} "
                            f"to {clash.end_date or 'open-ended'}; end that assignment first."]}
        )
    assignment.save()
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
    if consent.expires_on is not None and consent.expires_on < consent.effective_on:
        errors["expires_on"] = ["The expiry must be on or after the effective date."]
    if consent.revoked_on is not None and consent.revoked_on < consent.signed_on:
        errors["revoked_on"] = ["A consent cannot be revoked before it was signed."]
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
            errors.setdefault("expires_on", []).append(
                "Give an expiry date, event or condition (42 CFR §2.31(a)(6))."
            )
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
    consent.save()
    if clinicians is not None:
        consent.clinicians.set(clinicians)
    return consent


@transaction.atomic
def consent_revoke(*, consent: Consent, revoked_on: date, reason: str) -> Consent:
    """Stop future sharing from `revoked_on`; what was already delivered stays delivered."""
    locked = Consent.objects.select_for_update().get(pk=consent.pk)
    if locked.revoked_on is not None:
        raise ValidationError({"revoked_on": [f"This consent was already revoked on {locked.revoked_on}."]})
    if revoked_on < locked.signed_on:
        raise ValidationError({"revoked_on": ["A consent cannot be revoked before it was signed."]})
    locked.revoked_on = revoked_on
    locked.revocation_reason = reason.strip()
    locked.save(update_fields=["revoked_on", "revocation_reason"])
    return locked
