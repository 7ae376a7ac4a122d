"""Everything held about one client, for a copy of their record on request
(HIPAA right of access, 45 CFR 164.524): JSON for machines, PDF for people.

Walks the client's reverse relations generically, so records other apps add
later (consents, notes, feedback, goals…) are included as long as they point
at the client with a foreign key.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import CSS, HTML

from audit.models import AuditEvent

# Who touched the record is part of it, but the hash-chain plumbing is not.
AUDIT_FIELDS = ["at", "username", "action", "object_type", "object_id", "emergency"]
SKIPPED_RELATIONS = {"emergency_grants"}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def _row(obj: models.Model) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        row[field.attname] = _plain(value)
        if field.is_relation and value is not None:
            related = getattr(obj, field.name, None)
            if related is not None:
                row[f"{field.name}_label"] = str(related)
    return row


def client_record(client: Any) -> dict[str, Any]:
    sections: dict[str, list[dict[str, Any]]] = {}
    for relation in client._meta.related_objects:
        accessor = relation.get_accessor_name()
        if accessor in SKIPPED_RELATIONS or accessor is None:
            continue
        if relation.many_to_many:
            rows = [_row(o) for o in getattr(client, accessor).all().order_by("pk")]
        elif relation.one_to_one:
            obj = getattr(client, accessor, None)
            rows = [_row(obj)] if obj is not None else []
        else:
            rows = [_row(o) for o in getattr(client, accessor).all().order_by("pk")]
        sections[relation.related_model._meta.verbose_name_plural.capitalize()] = rows
    for field in client._meta.many_to_many:
        sections[field.verbose_name.capitalize()] = [_row(o) for o in getattr(client, field.name).all()]
    access_log = [
        {name: _plain(getattr(e, name)) for name in AUDIT_FIELDS}
        for e in AuditEvent.objects.for_client(client.pk).order_by("at", "id")[:5000]
    ]
    return {
        "generated_at": timezone.now().isoformat(),
        "client": _row(client),
        "sections": sections,
        "access_log": access_log,
    }


def client_record_pdf(record: dict[str, Any]) -> bytes:
    html = render_to_string("security/client_record_pdf.html", {"record": record})
    css = CSS(filename=str(settings.BASE_DIR / "clients" / "static" / "clients" / "record.css"))
    return HTML(string=html).write_pdf(stylesheets=[css])
