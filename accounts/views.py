from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.selectors import home_sections


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """One section per program, one panel per role held there (dashboard.selectors)."""
    return render(request, "home.html", {"sections": home_sections(request)})
