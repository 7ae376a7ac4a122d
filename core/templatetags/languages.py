"""{% load languages %}: language codes as names on pages ({{ client.preferred_language|language_name }},
{{ supporter.languages|language_names }})."""

from __future__ import annotations

from collections.abc import Iterable

from django import template

from core.languages import language_name as name_of

register = template.Library()


@register.filter
def language_name(code: str | None) -> str:
    return name_of(code) if code else ""


@register.filter
def language_names(codes: Iterable[str] | None) -> str:
    return ", ".join(name_of(code) for code in codes or ())
