"""Include slots on the home page and the client page that other apps fill.

A panel is a template plus a function that returns its context, or None to
leave the panel out (nothing to show, or the feature is off). Apps register
panels from AppConfig.ready():

    from dashboard.panels import Panel, register
    register(Panel("home:coordinator", "reports/partials/continuity_panel.html", continuity_panel_context))

Places: "home:coordinator", "home:supporter", "home:clinician", "home:funder"
(called with the request and the Program), and "client" (called with the
request and the Client, already checked against visible_to).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

PLACES = frozenset({"home:coordinator", "home:supporter", "home:clinician", "home:funder", "client"})


@dataclass(frozen=True)
class Panel:
    place: str
    template_name: str
    get_context: Callable[[HttpRequest, Any], dict[str, Any] | None]
    order: int = 100


@dataclass(frozen=True)
class RenderedPanel:
    template_name: str
    context: dict[str, Any]


_registry: list[Panel] = []


def register(panel: Panel) -> None:
    if panel.place not in PLACES:
        raise ValueError(f"Unknown panel place {panel.place!r}; one of {sorted(PLACES)}")
    _registry[:] = [p for p in _registry if (p.place, p.template_name) != (panel.place, panel.template_name)]
    _registry.append(panel)


def panels_for(place: str, request: HttpRequest, subject: Any) -> list[RenderedPanel]:
    rendered = []
    for panel in sorted((p for p in _registry if p.place == place), key=lambda p: p.order):
        context = panel.get_context(request, subject)
        if context is not None:
            rendered.append(RenderedPanel(panel.template_name, context))
    return rendered
