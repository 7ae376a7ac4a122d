"""Writes for clients and caseloads."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from clients.models import AssignmentRole, CaseloadAssignment, Client


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
