"""One rule, one refusal: the same bad input sent through every channel that writes the record
gets the same message, and nothing is saved.

The channels are the API (400 naming the field), the admin (the form again, with the error on
the field), the CSV import (a `line N: column: reason` error, and nothing of the file imported)
and, where the record has one, a page form. Supporters, assignments and resources have no page
form (they are written through the API, the admin and the importer); consents are written
through their page, and a client's characteristics through the coordinators' page.

Where each rule lives: language codes in core.languages (the field validators and the
importer's column check); site in the program in core.models.validate_site_of (Client.clean,
Supporter.clean); date order in the models' clean() (CaseloadAssignment, Certification, Consent),
with the same message on their check constraints; a client's date of birth in Client.clean();
race and ethnicity codes in clients.characteristics (the field validator's messages, checked over
whole columns by the importer).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.urls import reverse

from base.importing import import_csv_file
from base.services import membership_grant
from clients.characteristics import RACE_ETHNICITY_DECLINED_ALONE
from clients.models import (
    BORN_IN_THE_FUTURE,
    END_BEFORE_START,
    EXPIRY_BEFORE_EFFECTIVE,
    CaseloadAssignment,
    Client,
    Consent,
    Resource,
)
from core.languages import LANGUAGE_CODE_MESSAGE, LANGUAGE_CODES_MESSAGE
from core.models import SITE_IN_ANOTHER_PROGRAM, Role
from supporters.models import EXPIRY_BEFORE_ISSUE, Certification, Supporter
from tests.factories import SiteFactory, SupporterFactory, UserFactory

CLIENT_HEADER = "external_id,first_name,last_name,date_of_birth,preferred_language,site_external_id\n"
SUPPORTER_HEADER = "external_id,first_name,last_name,email,site_external_id,languages\n"
ASSIGNMENT_HEADER = "client_external_id,supporter_external_id,start_date,end_date,role\n"
CERTIFICATION_HEADER = (
    "external_id,first_name,last_name,email,certification_type,certification_number,certified_on,"
    "certification_expires_on\n"
)
# Supporter admin pages carry the certifications inline.
NO_CERTIFICATIONS = {
    "certifications-TOTAL_FORMS": "0",
    "certifications-INITIAL_FORMS": "0",
    "certifications-MIN_NUM_FORMS": "0",
    "certifications-MAX_NUM_FORMS": "1000",
}


def api_refusal(api: Any, basename: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(reverse(f"{basename}-list"), body, format="json")
    assert response.status_code == 400, response.content
    return response.json()


def admin_refusal(browser: Any, model: str, data: dict[str, Any]) -> dict[str, list[str]]:
    response = browser.post(reverse(f"admin:{model}_add"), data)
    assert response.status_code == 200, "the admin saved it (a redirect) or broke (a 500)"
    form = response.context["adminform"].form
    errors = {field: list(messages) for field, messages in form.errors.items()}
    for formset in response.context["inline_admin_formsets"]:
        for form_errors in formset.formset.errors:
            errors.update({f"inline {field}": list(messages) for field, messages in form_errors.items()})
    return errors


def import_refusal(program: Any, kind: str, text: str) -> list[str]:
    result = import_csv_file(program=program, kind=kind, data=text.encode())
    assert not result.ok and result.created == result.updated == 0
    return [error.message for error in result.errors]


def client_body(cast: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "program": cast.program.pk,
        "external_id": "MRN-NEW",
        "first_name": "Ana",
        "last_name": "Diaz",
        "date_of_birth": "1990-01-02",
        "preferred_language": "es",
        **overrides,
    }


def supporter_body(cast: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "program": cast.program.pk,
        "external_id": "SUP-NEW",
        "first_name": "Rosa",
        "last_name": "Vega",
        "email": "rosa@example.org",
        "max_caseload": 20,
        "languages": ["en", "es"],
        **overrides,
    }


@pytest.fixture
def browser(cast: Any, client: Any) -> Any:
    client.force_login(cast.coordinator)
    return client


@pytest.fixture
def coordinator_of_both(cast: Any) -> Any:
    """Sees both programs' sites, so a site of the other program is a choice the forms offer."""
    user = UserFactory(username="coordinator-of-both")
    membership_grant(user=user, program=cast.program, role=Role.COORDINATOR)
    membership_grant(user=user, program=cast.other_program, role=Role.COORDINATOR)
    return user


# --- language codes ------------------------------------------------------------------------


def test_a_client_language_that_is_not_iso_639_1_gets_one_refusal_everywhere(cast, api_as, browser):
    message = str(LANGUAGE_CODE_MESSAGE)
    api = api_refusal(api_as(cast.coordinator), "client", client_body(cast, preferred_language="zz"))
    admin = admin_refusal(browser, "clients_client", client_body(cast, preferred_language="zz"))
    csv = import_refusal(
        cast.program, "clients", CLIENT_HEADER + "MRN-OK,Ben,Ode,1985-07-08,en,\nMRN-NEW,Ana,Diaz,1990-01-02,zz,\n"
    )
    assert api == {"preferred_language": [message]}
    assert admin == {"preferred_language": [message]}
    assert csv == [f"line 3: preferred_language: {message}"]
    assert not Client.objects.filter(external_id__in=["MRN-NEW", "MRN-OK"]).exists()


def test_supporter_languages_that_are_not_iso_639_1_get_one_refusal_everywhere(cast, api_as, browser):
    message = str(LANGUAGE_CODES_MESSAGE)
    api = api_refusal(api_as(cast.coordinator), "supporter", supporter_body(cast, languages=["en", "qq"]))
    admin = admin_refusal(
        browser, "supporters_supporter", {**supporter_body(cast, languages='["en", "qq"]'), **NO_CERTIFICATIONS}
    )
    csv = import_refusal(cast.program, "supporters", SUPPORTER_HEADER + "SUP-NEW,Rosa,Vega,rosa@example.org,,en;qq\n")
    assert api == {"languages": [message]}
    assert admin == {"languages": [message]}
    assert csv == [f"line 2: languages: {message}"]
    assert not Supporter.objects.filter(external_id="SUP-NEW").exists()


def test_resource_languages_that_are_not_iso_639_1_get_one_refusal_everywhere(cast, api_as, browser):
    message = str(LANGUAGE_CODES_MESSAGE)
    body = {"program": cast.program.pk, "name": "Food bank", "category": "food", "phone": "555-0100"}
    api = api_refusal(api_as(cast.coordinator), "resource", {**body, "languages": ["qq"]})
    admin = admin_refusal(browser, "clients_resource", {**body, "languages": '["qq"]'})
    assert api == {"languages": [message]}
    assert admin == {"languages": [message]}
    assert not Resource.objects.exists()


# --- the site belongs to the program --------------------------------------------------------


def test_a_client_at_another_programs_site_gets_one_refusal_everywhere(cast, api_as, client, coordinator_of_both):
    elsewhere = SiteFactory(program=cast.other_program, external_id="ELSEWHERE")
    message = str(SITE_IN_ANOTHER_PROGRAM)
    client.force_login(coordinator_of_both)
    api = api_refusal(api_as(coordinator_of_both), "client", client_body(cast, site=elsewhere.pk))
    admin = admin_refusal(client, "clients_client", client_body(cast, site=elsewhere.pk))
    assert api == {"site": [message]}
    assert admin == {"site": [message]}
    # A file names sites by external_id within its program (import-formats.md), so another
    # program's site is simply not there; saying it exists elsewhere would leak it.
    csv = import_refusal(cast.program, "clients", CLIENT_HEADER + "MRN-NEW,Ana,Diaz,1990-01-02,es,ELSEWHERE\n")
    assert csv == ["line 2: site_external_id: no site with this external_id in the program"]
    assert not Client.objects.filter(external_id="MRN-NEW").exists()


def test_a_supporter_at_another_programs_site_gets_one_refusal_everywhere(cast, api_as, client, coordinator_of_both):
    elsewhere = SiteFactory(program=cast.other_program, external_id="ELSEWHERE")
    message = str(SITE_IN_ANOTHER_PROGRAM)
    client.force_login(coordinator_of_both)
    api = api_refusal(api_as(coordinator_of_both), "supporter", supporter_body(cast, site=elsewhere.pk))
    admin = admin_refusal(
        client,
        "supporters_supporter",
        {**supporter_body(cast, site=elsewhere.pk, languages='["en"]'), **NO_CERTIFICATIONS},
    )
    assert api == {"site": [message]}
    assert admin == {"site": [message]}
    csv = import_refusal(
        cast.program, "supporters", SUPPORTER_HEADER + "SUP-NEW,Rosa,Vega,rosa@example.org,ELSEWHERE,\n"
    )
    assert csv == ["line 2: site_external_id: no site with this external_id in the program"]
    assert not Supporter.objects.filter(external_id="SUP-NEW").exists()


def test_a_care_team_clinician_of_another_program_gets_one_refusal_in_the_api_and_the_admin(
    cast, api_as, client, coordinator_of_both
):
    from tests.factories import ClinicianFactory

    outsider = ClinicianFactory(program=cast.other_program)
    client.force_login(coordinator_of_both)
    api = api_refusal(api_as(coordinator_of_both), "client", client_body(cast, care_team=[outsider.pk]))
    admin = admin_refusal(client, "clients_client", client_body(cast, care_team=[outsider.pk]))
    assert api == admin == {"care_team": ["Every clinician must work in the client's program."]}
    assert not Client.objects.filter(external_id="MRN-NEW").exists()


# --- dates in order -------------------------------------------------------------------------


def test_an_assignment_ending_before_it_starts_gets_one_refusal_everywhere(cast, api_as, browser):
    message = str(END_BEFORE_START)
    new = SupporterFactory(program=cast.program, external_id="SUP-NEW")
    body = {
        "client": cast.mine.pk,
        "supporter": new.pk,
        "start_date": "2026-03-01",
        "end_date": "2026-02-01",
        "role": "secondary",
    }
    api = api_refusal(api_as(cast.coordinator), "assignment", body)
    admin = admin_refusal(browser, "clients_caseloadassignment", {**body, "handoff_note": ""})
    csv = import_refusal(
        cast.program,
        "assignments",
        ASSIGNMENT_HEADER + f"{cast.mine.external_id},SUP-NEW,2026-03-01,2026-02-01,secondary\n",
    )
    assert api == {"end_date": [message]}
    assert admin == {"end_date": [message]}
    assert csv == [f"line 2: end_date: {message}"]
    assert not CaseloadAssignment.objects.filter(supporter=new).exists()


def test_a_credential_expiring_before_its_issue_gets_one_refusal_everywhere(cast, api_as, client):
    message = str(EXPIRY_BEFORE_ISSUE)
    # The certification inline needs the model permissions Django's admin checks for inlines,
    # which only a superuser has here; give one the coordinator role.
    admin_user = UserFactory(username="superuser-coordinator", is_superuser=True)
    membership_grant(user=admin_user, program=cast.program, role=Role.COORDINATOR)
    client.force_login(admin_user)
    dates = {"issued_on": "2026-01-10", "expires_on": "2025-01-10"}
    api = api_refusal(
        api_as(cast.coordinator),
        "certification",
        {"supporter": cast.supporter.pk, "certification_type": "CPS", **dates},
    )
    admin = admin_refusal(
        client,
        "supporters_supporter",
        {
            **supporter_body(cast, languages='["en"]'),
            **NO_CERTIFICATIONS,
            "certifications-TOTAL_FORMS": "1",
            "certifications-0-certification_type": "CPS",
            "certifications-0-issued_on": dates["issued_on"],
            "certifications-0-expires_on": dates["expires_on"],
        },
    )
    csv = import_refusal(
        cast.program,
        "supporters",
        CERTIFICATION_HEADER + "SUP-NEW,Rosa,Vega,rosa@example.org,CPS,1,2026-01-10,2025-01-10\n",
    )
    assert api == {"expires_on": [message]}
    assert admin == {"inline expires_on": [message]}
    assert csv == [f"line 2: certification_expires_on: {message}"]
    assert not Certification.objects.filter(certification_type="CPS").exists()
    assert not Supporter.objects.filter(external_id="SUP-NEW").exists()


def test_a_consent_expiring_before_it_takes_effect_gets_one_refusal_in_the_api_and_the_page(cast, api_as, client):
    message = str(EXPIRY_BEFORE_EFFECTIVE)
    today = cast.program.local_today()
    body = {
        "scope": "care_team",
        "purpose": "Coordinate care with the clinic",
        "effective_on": str(today),
        "signed_on": str(today),
        "expires_on": str(today - timedelta(days=1)),
    }
    api = api_refusal(api_as(cast.coordinator), "consent", {"client": cast.mine.pk, **body})
    client.force_login(cast.coordinator)
    page = client.post(reverse("consents:client-consents", args=[cast.mine.pk]), body)
    assert page.status_code == 200
    assert api == {"expires_on": [message]}
    assert {field: list(errors) for field, errors in page.context["form"].errors.items()} == {"expires_on": [message]}
    assert not Consent.objects.exists()


# --- a client's date of birth ---------------------------------------------------------------


def test_a_date_of_birth_in_the_future_gets_one_refusal_everywhere(cast, api_as, browser):
    message = str(BORN_IN_THE_FUTURE)
    tomorrow = str(cast.program.local_today() + timedelta(days=1))
    api = api_refusal(api_as(cast.coordinator), "client", client_body(cast, date_of_birth=tomorrow))
    admin = admin_refusal(browser, "clients_client", client_body(cast, date_of_birth=tomorrow))
    csv = import_refusal(cast.program, "clients", CLIENT_HEADER + f"MRN-NEW,Ana,Diaz,{tomorrow},es,\n")
    assert api == {"date_of_birth": [message]}
    assert admin == {"date_of_birth": [message]}
    assert csv == [f"line 2: date_of_birth: {message}"]
    assert not Client.objects.filter(external_id="MRN-NEW").exists()


# --- a client's self-reported characteristics ----------------------------------------------


def test_declined_with_another_race_gets_one_refusal_everywhere(cast, api_as, browser):
    message = str(RACE_ETHNICITY_DECLINED_ALONE)
    api = api_refusal(api_as(cast.coordinator), "client", client_body(cast, race_ethnicity=["declined", "white"]))
    admin = admin_refusal(browser, "clients_client", client_body(cast, race_ethnicity='["declined", "white"]'))
    csv = import_refusal(
        cast.program,
        "clients",
        CLIENT_HEADER.replace("\n", ",race_ethnicity\n") + "MRN-NEW,Ana,Diaz,1990-01-02,es,,declined;white\n",
    )
    page = browser.post(
        reverse("client_program:characteristics", args=[cast.mine.pk]), {"race_ethnicity": ["declined", "white"]}
    )
    assert api == {"race_ethnicity": [message]}
    assert admin == {"race_ethnicity": [message]}
    assert csv == [f"line 2: race_ethnicity: {message}"]
    assert page.context["form"].errors == {"race_ethnicity": [message]}
    assert not Client.objects.filter(external_id="MRN-NEW").exists()
    cast.mine.refresh_from_db()
    assert cast.mine.race_ethnicity == []


# --- and good input still goes through every channel -----------------------------------------


def test_a_valid_client_is_saved_by_the_api_the_admin_and_the_import(cast, api_as, browser):
    site = SiteFactory(program=cast.program, external_id="NORTH")
    created = api_as(cast.coordinator).post(
        reverse("client-list"), client_body(cast, site=site.pk, care_team=[cast.clinician.pk]), format="json"
    )
    assert created.status_code == 201, created.content
    saved = Client.objects.get(external_id="MRN-NEW")
    assert (saved.preferred_language, saved.site, list(saved.care_team.all())) == ("es", site, [cast.clinician])
    changed = browser.post(
        reverse("admin:clients_client_change", args=[saved.pk]),
        client_body(cast, site=site.pk, preferred_language="pt", care_team=[cast.clinician.pk]),
    )
    assert changed.status_code == 302
    saved.refresh_from_db()
    assert saved.preferred_language == "pt"
    result = import_csv_file(
        program=cast.program, kind="clients", data=(CLIENT_HEADER + "MRN-CSV,Ben,Ode,1985-07-08,so,NORTH\n").encode()
    )
    assert result.ok and result.created == 1
    assert Client.objects.get(external_id="MRN-CSV").date_of_birth == date(1985, 7, 8)


def test_the_admin_refuses_an_overlapping_primary_as_a_form_error_like_the_api(cast, api_as, browser):
    # assignment_save's own rules (here: one primary at a time) used to be a 500 in the admin.
    new = SupporterFactory(program=cast.program)
    body = {
        "client": cast.mine.pk,
        "supporter": new.pk,
        "start_date": str(cast.program.local_today()),
        "role": "primary",
    }
    api = api_refusal(api_as(cast.coordinator), "assignment", body)
    admin = admin_refusal(browser, "clients_caseloadassignment", {**body, "end_date": "", "handoff_note": ""})
    assert api == admin
    assert list(api) == ["start_date"] and "already has a primary supporter" in api["start_date"][0]
    assert not CaseloadAssignment.objects.filter(supporter=new).exists()
