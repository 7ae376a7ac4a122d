"""Writes for tenancy and roles."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models, transaction
from guardian.shortcuts import assign_perm, remove_perm

from audit import actions
from audit.records import audit_record, audit_write
from core.models import ROLE_PERMISSION, Membership, Organization, Program, Role, StaffContact, User
from core.request_cache import forget


@transaction.atomic
def membership_grant(*, user: User, program: Program, role: str) -> Membership:
    """Give a user a role in a program, with the guardian permission that scoping reads."""
    membership, created = Membership.objects.get_or_create(user=user, program=program, role=role)
    if created:
        audit_write(membership, actions.CREATED, detail={"member": user.pk, "role": role})
    assign_perm(f"accounts.{ROLE_PERMISSION[Role(role)]}", user, program)
    forget()  # the rest of this request sees the new role
    if role == Role.COORDINATOR and not user.is_staff:
        # Coordinators manage their program's records in the admin, which
        # scopes every list through the same visible_to() as the API.
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return membership


@transaction.atomic
def membership_revoke(*, membership: Membership) -> None:
    remove_perm(f"accounts.{ROLE_PERMISSION[Role(membership.role)]}", membership.user, membership.program)
    forget()
    user = membership.user
    audit_write(membership, actions.DELETED, detail={"member": user.pk, "role": membership.role})
    membership.delete()
    if user.is_staff and not user.is_superuser and not user.memberships.filter(role=Role.COORDINATOR).exists():
        user.is_staff = False
        user.save(update_fields=["is_staff"])


@transaction.atomic
def program_create(*, slug: str, name: str, timezone: str, organization: Organization | None = None) -> Program:
    if organization is None:
        organization, _ = Organization.objects.get_or_create(slug=slug, defaults={"name": name})
    program = Program(organization=organization, slug=slug, name=name, timezone=timezone)
    program.full_clean()
    program.save()
    audit_write(program, actions.CREATED)
    return program


@transaction.atomic
def membership_designate_emergency(*, membership: Membership, allowed: bool, by: User | None = None) -> Membership:
    """Allow (or stop) a member breaking the glass for clients of the membership's program."""
    membership.emergency_access = allowed
    membership.save(update_fields=["emergency_access"])
    audit_record(
        action=actions.EMERGENCY_DESIGNATED if allowed else actions.EMERGENCY_UNDESIGNATED,
        user=by,
        obj=membership,
        detail={"member": membership.user_id},
    )
    return membership


@transaction.atomic
def program_treatment_disclosures_set(*, program: Program, permitted: bool, by: User | None) -> Program:
    """Switch a program to "treatment disclosures permitted" (or back): care-team clinicians then
    see session facts without a consent (docs/spec/roles.md). Refused for a 42 CFR Part 2 program
    (Program.clean); recorded in the audit trail with the old and new setting."""
    return _program_setting_set(
        program=program,
        field="treatment_disclosures_permitted",
        value=permitted,
        action=actions.TREATMENT_DISCLOSURES_SET,
        by=by,
    )


@transaction.atomic
def program_cosignature_set(*, program: Program, required: bool, by: User | None) -> Program:
    """Switch "notes need a supervisor's co-signature" on or off for the program (issue 16 item 6);
    recorded in the audit trail with the old and new setting."""
    return _program_setting_set(
        program=program, field="notes_need_cosignature", value=required, action=actions.COSIGNATURE_SET, by=by
    )


@transaction.atomic
def program_identifier_system_set(*, program: Program, system: str, by: User | None) -> Program:
    """The identifier system (URI) of the program's record numbers as the clinic's EHR knows them
    (FHIR Identifier.system; blank: the program's own URN). Recorded with the old and new value."""
    return _program_setting_set(
        program=program,
        field="fhir_identifier_system",
        value=system.strip(),
        action=actions.IDENTIFIER_SYSTEM_SET,
        by=by,
    )


def _program_setting_set(*, program: Program, field: str, value: bool | str, action: str, by: User | None) -> Program:
    """One program setting changed under a row lock, validated by the model (Program.clean refuses
    what the program may not have) and, when it changed, recorded with the old and new value."""
    program = Program.objects.select_for_update().get(pk=program.pk)
    before = getattr(program, field)
    setattr(program, field, value)
    program.full_clean()
    if before != value:
        program.save(update_fields=[field])
        audit_record(action=action, user=by, obj=program, program_id=program.pk, detail={"from": before, "to": value})
    return program


# --- contact preferences (the notification layer reads them: sessions.notifications) ----------

_Record = TypeVar("_Record", bound=models.Model)

CONTACT_FIELDS = ("phone", "email_allowed", "sms_allowed", "quiet_start", "quiet_end", "opted_out")


def record_fields_save(row: _Record, *, fields: dict[str, Any], by: User | None) -> _Record:
    """Set `fields` on a record, run the model's rules (full_clean: a ValidationError names the
    field), save it and audit the write; the entry names the fields changed, never their values
    (a phone number is an identifier). For contact preferences and the on-call rota."""
    creating = row.pk is None
    for name, value in fields.items():
        setattr(row, name, value)
    row.full_clean()
    row.save()
    audit_write(row, actions.CREATED if creating else actions.UPDATED, user=by, detail={"fields": sorted(fields)})
    return row


@transaction.atomic
def staff_contact_save(*, user: User, fields: dict[str, Any]) -> StaffContact:
    """A staff member sets their own contact preferences."""
    row = StaffContact.objects.select_for_update().filter(user=user).first() or StaffContact(user=user)
    record_fields_save(row, fields=fields, by=user)
    return row
