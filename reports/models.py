"""Funder reports: generated in the background, published once, then kept unchanged."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.jobs import LeasedJob
from core.models import Program
from core.scoping import role_program_ids
from reports.funder.periods import Period

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.models import User


class ReportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Generating")
    READY = "ready", _("Ready to publish")
    FAILED = "failed", _("Failed")
    PUBLISHED = "published", _("Published")


GENERATING_STATUSES = (ReportStatus.QUEUED, ReportStatus.RUNNING)


class PeriodKind(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")
    CUSTOM = "custom", _("Custom dates")


class PublishedReportError(ValidationError):
    """A published report is a record: it is never changed or deleted."""


class FunderReportQuerySet(models.QuerySet["FunderReport"]):
    def visible_to(self, user: User | AnonymousUser) -> FunderReportQuerySet:
        """Coordinators: every report of their programs. Funders: published reports
        of the programs they fund. Everyone else: nothing."""
        roles = role_program_ids(user)
        return self.filter(
            Q(program_id__in=roles.coordinator) | Q(program_id__in=roles.funder, status=ReportStatus.PUBLISHED)
        )

    def update(self, **kwargs: Any) -> int:
        if self.filter(status=ReportStatus.PUBLISHED).exists():
            raise PublishedReportError(_("A published report cannot be changed."))
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self.filter(status=ReportStatus.PUBLISHED).exists():
            raise PublishedReportError(_("A published report cannot be deleted."))
        return super().delete()


def report_upload_to(report: FunderReport, filename: str) -> str:
    # No identifiers in file names: program id, period and report id only.
    return f"funder_reports/{report.program_id}/{filename}"


class FunderReport(LeasedJob):
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="funder_reports")
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=ReportStatus.choices, default=ReportStatus.QUEUED)
    # Set by the scheduler: publish (and notify funders) as soon as generation succeeds.
    auto_publish = models.BooleanField(default=False)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    figures = models.JSONField(null=True, blank=True)
    pdf = models.FileField(upload_to=report_upload_to, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    pages = models.PositiveSmallIntegerField(null=True, blank=True)
    code_version = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    generated_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = FunderReportQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start", "-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(period_end__gte=models.F("period_start")), name="report_period_order"),
            models.CheckConstraint(
                condition=~Q(status="published") | (Q(published_at__isnull=False) & ~Q(pdf_sha256="")),
                name="report_published_is_complete",
            ),
        ]
        indexes = [models.Index(fields=["program", "status", "period_start"], name="report_program_status_idx")]

    def __str__(self) -> str:
        return f"{self.program} · {self.period_start}–{self.period_end} · {self.get_status_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Immutability is checked against the stored row, so an in-memory change
        # to a published report cannot be saved either.
        if self.pk and FunderReport.objects.filter(pk=self.pk, status=ReportStatus.PUBLISHED).exists():
            raise PublishedReportError(_("A published report cannot be changed."))
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self.pk and FunderReport.objects.filter(pk=self.pk, status=ReportStatus.PUBLISHED).exists():
            raise PublishedReportError(_("A published report cannot be deleted."))
        return super().delete(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.status == ReportStatus.PUBLISHED

    @property
    def period_label(self) -> str:
        return Period(self.period_start, self.period_end, self.period_kind).label


class ContinuitySnapshot(models.Model):
    """The continuity page's default view of one program, stored (reports.snapshots): the report,
    the monthly trend and the follow-up after transitions, for the default period and parameters
    as of `computed_at`. Refreshed after every import into the program and by the clock job when
    the program's day has moved on; the page computes live for any other period."""

    program = models.OneToOneField(Program, on_delete=models.CASCADE, related_name="continuity_snapshot")
    computed_at = models.DateTimeField()
    start = models.DateField()
    end = models.DateField()
    params = models.JSONField()
    report = models.JSONField()
    trend = models.JSONField()
    transition_response = models.JSONField(null=True)
    # "Who is in a gap now" at the default threshold, as a coordinator of the program saw it then:
    # the first rows the page shows (reports.selectors.GapRow as JSON) and how many there were.
    worklist = models.JSONField(null=True)
    worklist_total = models.PositiveIntegerField(null=True)
    # The period's follow-up collection rate ({"done": n, "due": n}), read the same way.
    collection = models.JSONField(null=True)
    seconds = models.FloatField(help_text=_("How long computing it took."))

    def __str__(self) -> str:
        return f"{self.program} · {self.start}–{self.end} · {self.computed_at:%Y-%m-%d %H:%M}"
