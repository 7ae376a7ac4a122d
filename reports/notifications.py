"""E-mail notices about funder reports. They name the program and period only:
no client, supporter or clinician data ever goes into a notice."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mass_mail
from django.urls import reverse

from core.models import Membership, Role
from reports.models import FunderReport


def notify_funders(report: FunderReport) -> int:
    """Tell the program's funders a report was published, with a link to the reports page."""
    recipients = sorted(
        Membership.objects.filter(program_id=report.program_id, role=Role.FUNDER, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
        .distinct()
    )
    if not recipients:
        return 0
    link = settings.SITE_URL.rstrip("/") + reverse("funder-reports")
    subject = f"Program report published: {report.program.name}, {report.period_label}"
    body = (
        f"The {report.period_label} report of {report.program.name} has been published.\n\n"
        f"Download it (sign-in required): {link}\n\n"
        "The report is de-identified: it holds aggregate figures only.\n"
    )
    # One message per recipient, so funders never see each other's addresses.
    return send_mass_mail(
        [(subject, body, settings.DEFAULT_FROM_EMAIL, [address]) for address in recipients], fail_silently=False
    )
