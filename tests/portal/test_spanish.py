"""Spanish: the portal, its e-mails and text messages exist in English and Spanish, the client's
preferred language is the default, and the switch on every page changes it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from clients.models import ClientContact, GoalDomain, GoalStatus
from portal import services
from sessions import models as session_models
from tests.portal.helpers import portal_user
from tests.security.helpers import sign_in

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po"
# What reaches a client: the portal's code and templates, the notification layer's messages,
# the staff side of the portal, and the labels notices are made of.
CLIENT_FACING = (
    "portal/",
    "sessions/notifications.py",
    "dashboard/portal_views.py",
    "dashboard/templates/dashboard/safety_plan.html",
    "templates/account/login.html",
)


def _labels_of(*choices: type) -> set[str]:
    return {str(label) for choice in choices for label in choice.labels}


@pytest.fixture(scope="module")
def catalogue() -> polib.POFile:
    return polib.pofile(str(CATALOGUE))


def test_the_spanish_catalogue_has_no_fuzzy_entry(catalogue):
    assert [entry.msgid for entry in catalogue.fuzzy_entries()] == []


def test_the_spanish_catalogue_has_no_untranslated_entry(catalogue):
    """Staff pages included: regenerate with makemessages and translate what it adds."""
    assert [entry.msgid for entry in catalogue.untranslated_entries()] == []


def test_every_string_a_client_reads_or_receives_is_translated(catalogue):
    from django.utils import translation

    with translation.override("en"):
        labels = _labels_of(
            session_models.NotificationKind,
            session_models.TaskKind,
            session_models.FeedbackCategory,
            session_models.Urgency,
            session_models.Modality,
            session_models.SessionKind,
            session_models.SessionStatus,
            session_models.Topic,
            GoalDomain,
            GoalStatus,
        )
    missing = [
        entry.msgid
        for entry in catalogue.untranslated_entries()
        if entry.msgid in labels or any(path.startswith(CLIENT_FACING) for path, _line in entry.occurrences)
    ]
    assert missing == []


def test_the_placeholders_of_each_translation_match_its_english(catalogue):
    placeholder = re.compile(r"%\(\w+\)[sd]|\{\w*\}")
    for entry in catalogue.translated_entries():
        if not entry.msgid_plural:
            assert sorted(placeholder.findall(entry.msgid)) == sorted(placeholder.findall(entry.msgstr)), entry.msgid


def test_the_portal_opens_in_the_clients_preferred_language(cast, client):
    cast.mine.preferred_language = "es"
    cast.mine.save()
    sign_in(client, portal_user(cast.mine, invited_by=cast.supporter_user, username="mine"))
    page = client.get(reverse("portal:home")).content.decode()
    assert "Necesito ayuda ahora" in page and 'lang="es"' in page


def test_the_switch_on_every_page_changes_the_language(cast, client):
    sign_in(client, portal_user(cast.mine, invited_by=cast.supporter_user, username="mine"))
    for name in ("home", "help", "sessions", "sharing", "record-access", "safety-plan"):
        assert 'action="/i18n/setlang/"' in client.get(reverse(f"portal:{name}")).content.decode(), name
    client.post(reverse("set_language"), {"language": "es", "next": "/me/"})
    assert "Quién vio mi expediente" in client.get(reverse("portal:home")).content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": "/me/"})
    assert "Who saw my record" in client.get(reverse("portal:home")).content.decode()


def test_a_spanish_speaking_client_is_invited_in_spanish(cast, django_capture_on_commit_callbacks, sms_outbox):
    cast.mine.preferred_language = "es"
    cast.mine.save()
    ClientContact.objects.create(client=cast.mine, email="mine@example.org", phone="+16175550123")
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_send(client=cast.mine, by=cast.supporter_user)
    assert "Su invitación a su portal de apoyo entre pares" in mail.outbox[0].subject
    assert "crear su cuenta" in mail.outbox[0].body
    assert "Ábralo en 3 días" in sms_outbox[0].body


def test_the_catalogue_holds_every_string_of_the_code_translated(tmp_path):
    """makemessages over a copy of the code (so the committed catalogue is never touched) finds no
    string the Spanish catalogue lacks: a new string without its translation fails here."""
    base = Path(settings.BASE_DIR)
    skip = shutil.ignore_patterns(".*", "tests", "bench", "media", "tmp", "__pycache__", "*.sqlite3", "htmlcov")
    copy = tmp_path / "code"
    shutil.copytree(base, copy, ignore=skip)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "makemessages", "-l", "es", "-v0"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
    )
    fresh = polib.pofile(str(copy / "locale" / "es" / "LC_MESSAGES" / "django.po"))
    assert [e.msgid for e in fresh.untranslated_entries()] == []
    assert [e.msgid for e in fresh.fuzzy_entries()] == []
