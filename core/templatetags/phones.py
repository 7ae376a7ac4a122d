"""{% load phones %}: a stored E.164 number as people write it ({{ shift.phone|phone }})."""

from __future__ import annotations

from django import template

from core.phones import display_phone

register = template.Library()


@register.filter
def phone(value: str | None) -> str:
    return display_phone(value) if value else ""
