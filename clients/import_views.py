"""Coordinator pages: upload a CSV, see its errors or a preview, confirm, watch the progress."""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from base.importing import KINDS
from clients import services
from clients.models import ImportJob, ImportJobStatus
from core.models import Program
from core.scoping import role_program_ids

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.models import User
    from core.request_types import AuthenticatedRequest


class ImportForm(forms.Form):
    program = forms.ModelChoiceField(queryset=Program.objects.none(), label=_("Program"))
    kind = forms.ChoiceField(choices=[(k, k) for k in KINDS], label=_("What the file holds"))
    file = forms.FileField(label=_("CSV file"))

    def __init__(self, *args: Any, user: User | AnonymousUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        programs = Program.objects.filter(id__in=role_program_ids(user).coordinator).order_by("name")
        cast(forms.ModelChoiceField, self.fields["program"]).queryset = programs
        if len(programs) == 1:
            self.fields["program"].initial = programs[0].pk

    def clean_file(self) -> UploadedFile:
        upload = self.cleaned_data["file"]
        if upload.size > settings.IMPORT_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(mb)d MB.") % {"mb": settings.IMPORT_MAX_UPLOAD_BYTES // 1_000_000}
            )
        return upload


def _job_for(request: HttpRequest, job_id: uuid.UUID) -> ImportJob:
    # A job whose worker died shows as failed (and retryable) the moment anyone looks, even
    # before the periodic reaper's next pass.
    services.import_jobs_reap()
    return get_object_or_404(ImportJob.objects.visible_to(request.user).select_related("program"), pk=job_id)


@login_required
def import_start(request: AuthenticatedRequest) -> HttpResponse:
    if not role_program_ids(request.user).coordinator:
        raise Http404
    form = ImportForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        job = services.import_job_start(
            program=form.cleaned_data["program"],
            user=request.user,
            kind=form.cleaned_data["kind"],
            upload=form.cleaned_data["file"],
        )
        return redirect("import-job", job_id=job.pk)
    services.import_jobs_reap()
    jobs = ImportJob.objects.visible_to(request.user).select_related("program").order_by("-created_at")[:20]
    return render(
        request, "clients/import_start.html", {"form": form, "jobs": jobs}, status=400 if form.errors else 200
    )


@login_required
@require_GET
def import_job(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = _job_for(request, job_id)
    return render(
        request,
        "clients/import_job.html",
        {
            "job": job,
            "summary": job.result or job.preview,
            "progress": services.import_job_progress(job),
            "statuses": ImportJobStatus,
        },
    )


@login_required
@require_POST
def import_job_confirm(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = _job_for(request, job_id)
    # Already importing, or not importable: the job page says which.
    with contextlib.suppress(ValidationError):
        services.import_job_confirm(job=job)
    return redirect("import-job", job_id=job.pk)


@login_required
@require_POST
def import_job_retry(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = _job_for(request, job_id)
    try:
        services.import_job_retry(job=job)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("import-job", job_id=job.pk)


@login_required
@require_GET
def import_job_status(request: HttpRequest, job_id: uuid.UUID) -> JsonResponse:
    job = _job_for(request, job_id)
    return JsonResponse(
        {"status": job.status, "running": job.is_running, "progress": services.import_job_progress(job)}
    )
