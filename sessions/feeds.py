"""A supporter's private calendar feed: an address with a secret token that a calendar app
(Google, Outlook, Apple) subscribes to without signing in. It lists the supporter's own sessions
from FEED_PAST ago to FEED_AHEAD ahead, each "Peer session" with its time and video link, never
a name (sessions.ics), so a leaked address shows when someone works, not whom they see. The
token's hash is stored (sessions.models.CalendarFeed); resetting or turning it off is on the page."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.scoping import role_program_ids
from sessions import services
from sessions.ics import sessions_ics
from sessions.models import CalendarFeed, PeerSession

if TYPE_CHECKING:
    from core.request_types import AuthenticatedRequest

FEED_PAST = timedelta(days=60)
FEED_AHEAD = timedelta(days=400)


@require_GET
def calendar_feed(request: AuthenticatedRequest, token: str) -> HttpResponse:
    """The feed itself: 404 for an unknown, reset or revoked token, or an account no longer a
    supporter; no sign-in (a calendar app has none)."""
    feed = (
        CalendarFeed.objects.select_related("user")
        .filter(token_hash=services.calendar_feed_token_hash(token), user__is_active=True)
        .first()
    )
    if feed is None:
        raise Http404
    programs = role_program_ids(feed.user).supporter
    if not programs:
        raise Http404
    now = timezone.now()
    sessions = PeerSession.objects.filter(
        program_id__in=programs, supporter__user=feed.user, start__gte=now - FEED_PAST, start__lt=now + FEED_AHEAD
    ).order_by("start", "id")
    CalendarFeed.objects.filter(pk=feed.pk).update(last_read_at=now)
    response = HttpResponse(sessions_ics(sessions), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


@login_required
def calendar_feed_settings(request: AuthenticatedRequest) -> HttpResponse:
    """Turn the feed on (its address shown once), make a new address, or turn it off."""
    if not role_program_ids(request.user).supporter:
        raise Http404
    address = ""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "revoke":
                services.calendar_feed_revoke(user=request.user)
            else:
                token = services.calendar_feed_reset(user=request.user)
                address = request.build_absolute_uri(reverse("peer_sessions:calendar-feed", args=[token]))
        except PermissionDenied:
            raise Http404 from None
    feed = CalendarFeed.objects.visible_to(request.user).first()
    return render(request, "peer_sessions/calendar_feed.html", {"feed": feed, "address": address})
