"""Scoped reads for reports: time to acknowledgment of bridging feedback."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from django.db.models import QuerySet

from clients.models import Clinician
from sessions.models import FeedbackItem

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.models import User


def acknowledgment_hours(
    items: QuerySet[FeedbackItem] | None = None, *, user: User | AnonymousUser | None = None
) -> dict[str, list[dict]]:
    """Hours from sending to acknowledgment, per clinician and per program: count, median, mean.

    Pass an already scoped queryset (`items`) or a `user` to scope by FeedbackItem.visible_to.
    Only acknowledged items count; the clinician is the one who acknowledged."""
    if items is not None:
        queryset = items
    else:  # no user sees nothing
        queryset = FeedbackItem.objects.visible_to(user) if user is not None else FeedbackItem.objects.none()
    rows = list(
        queryset.filter(acknowledged_at__isnull=False).values_list(
            "program_id", "acknowledged_by_id", "created_at", "acknowledged_at"
        )
    )
    if not rows:
        return {"by_clinician": [], "by_program": []}
    frame = pd.DataFrame(rows, columns=["program_id", "user_id", "sent", "acknowledged"])
    frame["hours"] = (frame["acknowledged"] - frame["sent"]).dt.total_seconds().to_numpy(dtype="float64") / 3600.0
    clinicians = {
        (c.program_id, c.user_id): c.pk
        for c in Clinician.objects.filter(
            user_id__in=frame["user_id"].unique().tolist(), program_id__in=frame["program_id"].unique().tolist()
        )
    }
    frame["clinician_id"] = [clinicians.get(key) for key in zip(frame["program_id"], frame["user_id"], strict=True)]

    def summarise(keys: list[str]) -> list[dict]:
        grouped = frame.dropna(subset=keys).groupby(keys)["hours"].agg(["count", "median", "mean"]).reset_index()
        return [
            {
                **{k: int(row[k]) for k in keys},
                "count": int(row["count"]),
                "median_hours": round(float(row["median"]), 2),
                "mean_hours": round(float(row["mean"]), 2),
            }
            for row in grouped.to_dict("records")
        ]

    return {"by_clinician": summarise(["program_id", "clinician_id"]), "by_program": summarise(["program_id"])}
