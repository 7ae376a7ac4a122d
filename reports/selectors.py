"""Who may see which continuity report: the one place the report is scoped (spec/roles.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.http import Http404

from accounts.models import Program, Role
from accounts.scoping import role_program_ids
from clients.models import CaseloadAssignment
from reports.continuity import COUNT_KEYS, continuity_result
from reports.suppression import suppress_summary
from supporters.models import Supporter


@dataclass(frozen=True)
class ReportScope:
    """coordinator: everything; supporter: computed on their current caseload only;
    funder: the summary, de-identified and suppressed."""

    program: Program
    level: str  # "coordinator" | "supporter" | "funder"


def continuity_scope(user: Any, program_id: int) -> ReportScope:
    """The caller's view of a program's report; 404 for anyone with no view of it
    (outsiders and clinicians alike: the report is outside their scope)."""
    program = Program.objects.visible_to(user).filter(id=program_id).first()
    if program is None:
        raise Http404
    roles = role_program_ids(user).roles_in(program.id)
    for level in (Role.COORDINATOR, Role.SUPPORTER, Role.FUNDER):
        if level.value in roles:
            return ReportScope(program=program, level=level.value)
    raise Http404


def scoped_continuity_report(scope: ReportScope, user: Any, *, start: date, end: date, **params: int) -> dict[str, Any]:
    """The report object as `scope` allows it (see docs/continuity.md)."""
    program = scope.program
    if scope.level == Role.COORDINATOR:
        return continuity_result(program=program, start=start, end=end, **params).report
    if scope.level == Role.SUPPORTER:
        caseload = (
            CaseloadAssignment.objects.visible_to(user)
            .filter(client__program=program, supporter__user=user)
            .active_on(program.local_today())
            .values_list("client_id", flat=True)
        )
        report = continuity_result(
            program=program, start=start, end=end, client_ids=sorted(set(caseload)), **params
        ).report
        own = set(
            Supporter.objects.visible_to(user).filter(program=program, user=user).values_list("external_id", flat=True)
        )
        report["by_supporter"] = [row for row in report["by_supporter"] if row["supporter"] in own]
        return report
    result = continuity_result(program=program, start=start, end=end, **params)
    summary, suppressed = suppress_summary(result.report["summary"], result.summary_counts, COUNT_KEYS)
    return {
        "program": result.report["program"],
        "period": result.report["period"],
        "params": result.report["params"],
        "summary": summary,
        "suppressed": suppressed,
    }
