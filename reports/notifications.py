"""Notices about funder reports, through the notification layer (sessions.notifications): a
label and a link to the reports page; no client, supporter or clinician data ever goes into one."""

from __future__ import annotations

from django.urls import reverse

from core.models import Role, User
from reports.models import FunderReport
from sessions.models import Channel, NotificationDelivery, NotificationKind
from sessions.notifications import notify


def notify_funders(report: FunderReport) -> list[NotificationDelivery]:
    """Tell the program's funders by e-mail that a report was published (sent once the
    publishing transaction commits)."""
    funders = User.objects.filter(memberships__program_id=report.program_id, memberships__role=Role.FUNDER).distinct()
    return notify(
        recipients=funders,
        program=report.program,
        kind=NotificationKind.REPORT_PUBLISHED,
        link=reverse("funder-reports"),
        channels=(Channel.EMAIL,),
    )
