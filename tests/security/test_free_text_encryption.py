"""Free text that can carry health information is encrypted at rest like notes (issue 14.8):
next steps, goals addressed, location, emergency justifications, goals, goal progress and
referral notes. The column holds a Fernet token, never the words; the ORM reads the words;
an empty text stays empty; rows written before encryption are encrypted by the migration."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection

from core.fields import encrypt_rows, is_encrypted
from tests.factories import (
    FeedbackItemFactory,
    GoalProgressFactory,
    PeerSessionFactory,
    RecoveryGoalFactory,
    ReferralFactory,
)

SECRET = "told me about the overdose last week"

FIELDS = [
    ("peer_sessions", "PeerSession", "location", lambda cast: PeerSessionFactory(supporter=cast.supporter)),
    ("peer_sessions", "PeerSession", "goals_addressed", lambda cast: PeerSessionFactory(supporter=cast.supporter)),
    ("peer_sessions", "PeerSession", "next_steps", lambda cast: PeerSessionFactory(supporter=cast.supporter)),
    (
        "peer_sessions",
        "FeedbackItem",
        "emergency_justification",
        lambda cast: FeedbackItemFactory(author=cast.supporter, client=cast.mine),
    ),
    ("clients", "RecoveryGoal", "goal", lambda cast: RecoveryGoalFactory(client=cast.mine)),
    ("clients", "GoalProgress", "note", lambda cast: GoalProgressFactory(goal=RecoveryGoalFactory(client=cast.mine))),
    ("clients", "Referral", "reason", lambda cast: ReferralFactory(client=cast.mine)),
    ("clients", "Referral", "follow_up_notes", lambda cast: ReferralFactory(client=cast.mine)),
]
IDS = [f"{model}.{field}" for _, model, field, _ in FIELDS]


def stored(obj, field: str) -> str | None:
    model = type(obj)
    column = model._meta.get_field(field).column
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s", [obj.pk])  # noqa: S608 - names from the model
        return cursor.fetchone()[0]


@pytest.mark.parametrize("app, model_name, field, make", FIELDS, ids=IDS)
def test_the_column_holds_a_token_and_the_orm_reads_the_words(cast, app, model_name, field, make):
    obj = make(cast)
    model = type(obj)
    assert is_encrypted(model._meta.get_field(field))
    setattr(obj, field, SECRET)
    obj.save()
    raw = stored(obj, field)
    assert SECRET not in raw and raw.startswith("gAAAA")  # a Fernet token
    assert getattr(model.objects.get(pk=obj.pk), field) == SECRET
    assert model.objects.filter(pk=obj.pk).values_list(field, flat=True).get() == SECRET


@pytest.mark.parametrize("app, model_name, field, make", FIELDS[:3], ids=IDS[:3])
def test_an_empty_text_stays_empty(cast, app, model_name, field, make):
    obj = make(cast)
    setattr(obj, field, "")
    obj.save()
    assert stored(obj, field) == ""
    assert getattr(type(obj).objects.get(pk=obj.pk), field) == ""


@pytest.mark.parametrize(
    "module, app, model_name, fields",
    [
        ("sessions.migrations.0005_encrypt_free_text", "peer_sessions", "PeerSession", ["next_steps", "location"]),
        ("clients.migrations.0010_encrypt_free_text", "clients", "Referral", ["reason", "follow_up_notes"]),
    ],
)
def test_the_data_migration_encrypts_rows_written_before(cast, module, app, model_name, fields):
    model = apps.get_model(app, model_name)
    obj = (
        PeerSessionFactory(supporter=cast.supporter)
        if model_name == "PeerSession"
        else ReferralFactory(client=cast.mine)
    )
    table = model._meta.db_table
    with connection.cursor() as cursor:  # as an older release wrote them: plain text
        for field in fields:
            cursor.execute(f"UPDATE {table} SET {field} = %s WHERE id = %s", [f"{SECRET} ({field})", obj.pk])  # noqa: S608
    assert stored(obj, fields[0]) == f"{SECRET} ({fields[0]})"
    migration = importlib.import_module(module)
    for name in dir(migration):
        if name.startswith("encrypt_") and name != "encrypt_rows":
            getattr(migration, name)(apps, None)
    for field in fields:
        assert stored(obj, field).startswith("gAAAA")
        assert getattr(model.objects.get(pk=obj.pk), field) == f"{SECRET} ({field})"
    # Running it again changes nothing a reader sees.
    assert encrypt_rows(model, fields) >= 1
    assert getattr(model.objects.get(pk=obj.pk), fields[0]) == f"{SECRET} ({fields[0]})"
