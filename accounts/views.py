from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.db import models
from django.http import HttpResponse
from django.shortcuts import render

from audit import actions
from audit.records import audit_record, client_ids_of
from dashboard.selectors import home_sections

if TYPE_CHECKING:
    from config.request_types import AuthenticatedRequest


@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    """One section per program, one panel per role held there (dashboard.selectors)."""
    sections = home_sections(request)
    # The clients the home names (a supporter's caseload and today's sessions, a clinician's list).
    shown: set[int] = set()
    for section in sections:
        for role in section.roles:
            for value in role.data.values():
                if isinstance(value, list):
                    shown.update(i for item in value if isinstance(item, models.Model) for i in client_ids_of(item))
    response = render(request, "home.html", {"sections": sections})
    if shown:
        audit_record(action=actions.HOME_VIEWED, request=request, client_ids=shown, object_type="dashboard.home")
    return response
