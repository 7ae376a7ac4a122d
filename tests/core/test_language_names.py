"""Pages show languages by name, from the same ISO 639 data that validates the codes."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.urls import reverse

from core.languages import language_codes, language_name

pytestmark = pytest.mark.django_db


def test_every_valid_code_has_a_name_and_an_unknown_value_is_shown_as_it_is():
    assert language_name("es") == "Spanish"
    assert language_name("vi") == "Vietnamese"
    assert all(language_name(code) != code for code in language_codes())
    assert language_name("xx") == "xx"


def test_the_filters_render_names():
    template = Template(
        "{% load languages %}{{ one|language_name }}|{{ many|language_names }}|{{ none|language_names }}"
    )
    assert template.render(Context({"one": "en", "many": ["en", "es"], "none": None})) == "English|English, Spanish|"


def test_the_client_page_and_the_supporters_list_name_the_languages(cast, client):
    cast.mine.preferred_language = "es"
    cast.mine.save()
    cast.supporter.languages = ["en", "vi"]
    cast.supporter.save()
    client.force_login(cast.coordinator)
    detail = client.get(reverse("dashboard:client", args=[cast.mine.pk])).content.decode()
    assert "Spanish" in detail
    listing = client.get(reverse("dashboard:supporters")).content.decode()
    assert "English, Vietnamese" in listing
