"""Bare comparison views for the benchmarks: the same rows as the API endpoints,
read with `.values()` and written with plain `create()`, with no DRF on the path.

Mounted only when settings.BENCH is on (config.settings.bench). They keep the
same token check and the same `visible_to()` scope, so the difference measured
is the framework (serializers, pagination, filters), not skipped security.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from knox.auth import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from clients.models import Client
from sessions.models import Attendance, FeedbackItem, FeedbackReply, NoteAddendum, PeerSession
from supporters.models import Supporter

if TYPE_CHECKING:
    from collections.abc import Iterable

    from core.models import User

CLIENT_FIELDS = [
    "id",
    "program_id",
    "external_id",
    "first_name",
    "last_name",
    "date_of_birth",
    "preferred_language",
    "site_id",
]
SESSION_FIELDS = [
    "id",
    "external_id",
    "supporter_id",
    "kind",
    "start",
    "duration_minutes",
    "modality",
    "status",
    "location",
    # The note, as the API gives it to its author and coordinators (narrative decrypted).
    "topics",
    "goals_addressed",
    "narrative",
    "next_steps",
    "entered_late",
    "signed_at",
    "signed_by_id",
    "signed_credential",
]

FEEDBACK_FIELDS = [
    "id",
    "program_id",
    "client_id",
    "author_id",
    "category",
    "urgency",
    "text",
    "session_id",
    "created_at",
    "deadline",
    "acknowledged_at",
    "acknowledged_by_id",
    "escalated_at",
    "is_emergency",
    "emergency_justification",
    "redisclosure_notice",
]


def _user(request: HttpRequest) -> User | None:  # the token's user, if any
    try:
        found = TokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return None
    return found[0] if found else None


def _page_size(request: HttpRequest) -> int:
    try:
        return max(1, min(200, int(request.GET.get("page_size", 50))))
    except ValueError:
        return 50


def _care_teams(client_ids: list[int]) -> dict[int, list[int]]:
    teams: dict[int, list[int]] = defaultdict(list)
    for client_id, clinician_id in Client.care_team.through.objects.filter(client_id__in=client_ids).values_list(
        "client_id", "clinician_id"
    ):
        teams[client_id].append(clinician_id)
    return teams


def clients_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user is None:
        return JsonResponse({"detail": "unauthenticated"}, status=401)
    rows = list(Client.objects.visible_to(user).order_by("-id").values(*CLIENT_FIELDS)[: _page_size(request)])
    teams = _care_teams([row["id"] for row in rows])
    for row in rows:
        row["care_team"] = teams.get(row["id"], [])
    return JsonResponse({"results": rows})


def client_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    if user is None:
        return JsonResponse({"detail": "unauthenticated"}, status=401)
    row = Client.objects.visible_to(user).filter(pk=pk).values(*CLIENT_FIELDS).first()
    if row is None:
        return JsonResponse({"detail": "not found"}, status=404)
    row["care_team"] = _care_teams([pk]).get(pk, [])
    return JsonResponse(row)


@csrf_exempt
def sessions(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user is None:
        return JsonResponse({"detail": "unauthenticated"}, status=401)
    if request.method == "POST":
        return _session_create(request, user)
    rows = list(
        PeerSession.objects.visible_to(user).order_by("-start", "-id").values(*SESSION_FIELDS)[: _page_size(request)]
    )
    attendances: dict[int, list[dict]] = defaultdict(list)
    for row in cast(
        "Iterable[dict[str, Any]]",
        Attendance.objects.filter(session_id__in=[r["id"] for r in rows])
        .order_by("id")
        .values("session_id", "client_id", "status"),
    ):
        attendances[row.pop("session_id")].append(row)
    addenda: dict[int, list[dict]] = defaultdict(list)
    for row in cast(
        "Iterable[dict[str, Any]]",
        NoteAddendum.objects.filter(session_id__in=[r["id"] for r in rows])
        .order_by("created_at", "id")
        .values("session_id", "id", "text", "created_at", "author_id", "entered_late"),
    ):
        addenda[row.pop("session_id")].append(row)
    for row in rows:
        row["attendances"] = attendances.get(row["id"], [])
        row["addenda"] = addenda.get(row["id"], [])
    return JsonResponse({"results": rows})


def _session_create(request: HttpRequest, user: User) -> HttpResponse:
    data = json.loads(request.body)
    supporter = Supporter.objects.visible_to(user).filter(pk=data["supporter"]).values("id", "program_id").first()
    if supporter is None:
        return JsonResponse({"detail": "no such supporter"}, status=400)
    with transaction.atomic():
        session = PeerSession.objects.create(
            program_id=supporter["program_id"],
            supporter_id=supporter["id"],
            kind=data["kind"],
            start=datetime.fromisoformat(data["start"]),
            duration_minutes=data["duration_minutes"],
            modality=data["modality"],
        )
        Attendance.objects.bulk_create(
            Attendance(session=session, client_id=a["client"], status=a["status"]) for a in data["attendances"]
        )
    return JsonResponse({"id": session.id}, status=201)


def feedback_inbox(request: HttpRequest) -> HttpResponse:
    """The feedback list as its recipient reads it: items, recipients, replies and the same status."""
    user = _user(request)
    if user is None:
        return JsonResponse({"detail": "unauthenticated"}, status=401)
    rows = list(FeedbackItem.objects.visible_to(user).order_by("-id").values(*FEEDBACK_FIELDS)[: _page_size(request)])
    ids = [row["id"] for row in rows]
    recipients: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    for item_id, clinician_id, user_id in FeedbackItem.recipients.through.objects.filter(
        feedbackitem_id__in=ids
    ).values_list("feedbackitem_id", "clinician_id", "clinician__user_id"):
        recipients[item_id].append((clinician_id, user_id))
    replies: dict[int, list[dict]] = defaultdict(list)
    reply_rows = FeedbackReply.objects.filter(item_id__in=ids).order_by("id")
    for reply in cast(
        "Iterable[dict[str, Any]]", reply_rows.values("id", "item_id", "author_id", "text", "created_at")
    ):
        replies[reply.pop("item_id")].append(reply)
    for row in rows:
        recipient_users = {user_id for _, user_id in recipients[row["id"]]}
        row["recipients"] = [clinician_id for clinician_id, _ in recipients[row["id"]]]
        row["replies"] = replies.get(row["id"], [])
        if any(reply["author_id"] in recipient_users for reply in row["replies"]):
            row["status"] = "replied"
        else:
            row["status"] = "acknowledged" if row["acknowledged_at"] else "unread"
    return JsonResponse({"results": rows})
