"""Who is served: the optional, self-reported client characteristics (import-formats.md v1.1)
on the model, the import, the API and the coordinators' page, and never client-level for funders."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit import actions
from audit.models import AuditEvent
from base.importing import COLUMNS, import_csv_file
from clients.characteristics import (
    CHARACTERISTICS,
    RACE_ETHNICITY_CODES_MESSAGE,
    RACE_ETHNICITY_DECLINED_ALONE,
    RACE_ETHNICITY_REPEATED,
)
from clients.models import Client
from clients.services import client_save

HEADER = (
    "external_id,first_name,last_name,date_of_birth,"
    "race_ethnicity,gender_identity,veteran,housing,employment,coverage\n"
)


def run(program, text: str):
    return import_csv_file(program=program, kind="clients", data=text.encode())


def messages(result) -> list[str]:
    return [e.message for e in result.errors]


def answers(client: Client) -> dict:
    client.refresh_from_db()
    return {name: getattr(client, name) for name in CHARACTERISTICS}


# --- the model ------------------------------------------------------------------------------


def test_the_spec_lists_exactly_these_optional_client_columns():
    assert COLUMNS["clients"][1] == (
        "preferred_language",
        "site_external_id",
        "race_ethnicity",
        "gender_identity",
        "veteran",
        "housing",
        "employment",
        "coverage",
    )


def test_a_new_client_has_not_been_asked_anything(cast):
    assert answers(cast.mine) == {
        "race_ethnicity": [],
        "gender_identity": "",
        "veteran": "",
        "housing": "",
        "employment": "",
        "coverage": "",
    }


def test_several_race_codes_and_declined_answers_are_kept_as_given(cast):
    fields = {
        "race_ethnicity": ["black_african_american", "hispanic_latino"],
        "gender_identity": "declined",
        "veteran": "no",
        "housing": "declined",
        "employment": "part_time",
        "coverage": "medicaid",
    }
    client_save(client=cast.mine, fields=fields)
    assert answers(cast.mine) == fields


@pytest.mark.parametrize(
    ("race", "message"),
    [
        (["asian", "martian"], RACE_ETHNICITY_CODES_MESSAGE),
        (["white", "white"], RACE_ETHNICITY_REPEATED),
        (["declined", "asian"], RACE_ETHNICITY_DECLINED_ALONE),
        ("asian", RACE_ETHNICITY_CODES_MESSAGE),
    ],
)
def test_the_model_refuses_a_race_answer_that_breaks_a_rule(cast, race, message):
    with pytest.raises(ValidationError) as refused:
        client_save(client=cast.mine, fields={"race_ethnicity": race})
    assert refused.value.message_dict == {"race_ethnicity": [str(message)]}
    assert answers(cast.mine)["race_ethnicity"] == []


def test_the_model_refuses_an_unknown_code_for_a_single_answer(cast):
    with pytest.raises(ValidationError) as refused:
        client_save(client=cast.mine, fields={"gender_identity": "female", "housing": "castle"})
    assert set(refused.value.message_dict) == {"gender_identity", "housing"}


def test_saving_characteristics_is_audited_by_field_name_never_by_value(cast):
    client_save(client=cast.mine, fields={"housing": "homeless", "race_ethnicity": ["asian"]})
    event = AuditEvent.objects.filter(action=actions.code_for(Client, actions.UPDATED), client_id=cast.mine.pk).get()
    assert event.detail["fields"] == ["housing", "race_ethnicity"]
    assert "homeless" not in json.dumps(event.detail) and "asian" not in json.dumps(event.detail)


# --- the import -----------------------------------------------------------------------------


def test_the_import_reads_every_characteristic_with_blank_as_not_asked(cast):
    result = run(
        cast.program,
        HEADER + "M1,Ana,Diaz,1990-01-02,black_african_american; hispanic_latino,woman,no,stable,full_time,medicaid\n"
        "M2,Ben,Ode,1985-07-08,declined,declined,declined,declined,declined,declined\n"
        "M3,Cy,Lu,1970-03-04,,,,,,\n",
    )
    assert result.ok, messages(result)
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    program_clients = Client.objects.filter(program=cast.program)
    assert answers(program_clients.get(external_id="M1")) == {
        "race_ethnicity": ["black_african_american", "hispanic_latino"],
        "gender_identity": "woman",
        "veteran": "no",
        "housing": "stable",
        "employment": "full_time",
        "coverage": "medicaid",
    }
    assert answers(program_clients.get(external_id="M2")) == {
        **dict.fromkeys(CHARACTERISTICS, "declined"),
        "race_ethnicity": ["declined"],
    }
    assert answers(program_clients.get(external_id="M3"))["race_ethnicity"] == []
    assert answers(program_clients.get(external_id="M3"))["coverage"] == ""


def test_importing_the_same_characteristics_twice_changes_nothing_and_a_change_updates(cast):
    text = (
        HEADER
        + "M1,Ana,Diaz,1990-01-02,asian;white,man,yes,temporary,unemployed,uninsured\nM2,Ben,Ode,1985-07-08,,,,,,\n"
    )
    assert run(cast.program, text).ok
    again = run(cast.program, text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2), messages(again)
    changed = run(cast.program, text.replace("asian;white", "asian").replace("1985-07-08,,,", "1985-07-08,,,no"))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 2, 0), messages(changed)
    assert answers(Client.objects.get(external_id="M1"))["race_ethnicity"] == ["asian"]
    assert answers(Client.objects.get(external_id="M2"))["veteran"] == "no"


def test_a_file_without_a_characteristic_column_leaves_the_stored_answer_alone(cast):
    # A blank cell is "not asked"; an absent column says nothing (an EHR export without them
    # must not erase what coordinators recorded).
    assert run(cast.program, HEADER + "M1,Ana,Diaz,1990-01-02,asian,woman,,,,\n").ok
    again = run(cast.program, "external_id,first_name,last_name,date_of_birth,veteran\nM1,Ana,Diaz,1990-01-02,yes\n")
    assert (again.updated, again.unchanged) == (1, 0), messages(again)
    assert answers(Client.objects.get(external_id="M1")) == {
        "race_ethnicity": ["asian"],
        "gender_identity": "woman",
        "veteran": "yes",
        "housing": "",
        "employment": "",
        "coverage": "",
    }
    blank = run(
        cast.program, "external_id,first_name,last_name,date_of_birth,race_ethnicity\nM1,Ana,Diaz,1990-01-02,\n"
    )
    assert blank.updated == 1
    assert answers(Client.objects.get(external_id="M1"))["race_ethnicity"] == []
    new = run(cast.program, "external_id,first_name,last_name,date_of_birth\nM2,Ben,Ode,1985-07-08\n")
    assert new.created == 1, messages(new)
    assert answers(Client.objects.get(external_id="M2"))["race_ethnicity"] == []


def test_an_unknown_code_is_a_line_error_naming_its_column_and_nothing_is_imported(cast):
    result = run(
        cast.program,
        HEADER + "M1,Ana,Diaz,1990-01-02,asian,woman,no,stable,full_time,medicaid\n"
        "M2,Ben,Ode,1985-07-08,asian;martian,female,maybe,castle,retired,gold\n",
    )
    assert messages(result) == [
        f"line 3: race_ethnicity: {RACE_ETHNICITY_CODES_MESSAGE}",
        "line 3: gender_identity: must be one of woman, man, transgender_woman, transgender_man, non_binary, other, "
        "declined",
        "line 3: veteran: must be one of yes, no, declined",
        "line 3: housing: must be one of stable, temporary, homeless, institution, declined",
        "line 3: employment: must be one of full_time, part_time, unemployed, not_in_labor_force, declined",
        "line 3: coverage: must be one of medicaid, medicare, private, uninsured, other, declined",
    ]
    assert not Client.objects.filter(external_id__in=["M1", "M2"]).exists()


def test_declined_with_other_race_codes_or_a_repeated_code_is_refused_once_per_cell(cast):
    result = run(
        cast.program,
        HEADER + "M1,Ana,Diaz,1990-01-02,declined;asian,,,,,\n"
        "M2,Ben,Ode,1985-07-08,white;white,,,,,\n"
        "M3,Cy,Lu,1970-03-04,declined;martian,,,,,\n"
        "M4,Di,Ng,1971-03-04,Asian,,,,,\n",
    )
    assert messages(result) == [
        f"line 2: race_ethnicity: {RACE_ETHNICITY_DECLINED_ALONE}",
        f"line 3: race_ethnicity: {RACE_ETHNICITY_REPEATED}",
        f"line 4: race_ethnicity: {RACE_ETHNICITY_CODES_MESSAGE}",
        f"line 5: race_ethnicity: {RACE_ETHNICITY_CODES_MESSAGE}",  # enumerations are lower-case and exact
    ]
    assert not Client.objects.filter(external_id__in=["M1", "M2", "M3", "M4"]).exists()


# --- the API --------------------------------------------------------------------------------


def test_a_coordinator_edits_characteristics_through_the_api(cast, api_as):
    api = api_as(cast.coordinator)
    body = {"race_ethnicity": ["american_indian_alaska_native", "white"], "veteran": "yes", "coverage": "declined"}
    response = api.patch(reverse("client-detail", args=[cast.mine.pk]), body, format="json")
    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in body} == body
    assert answers(cast.mine) | body == answers(cast.mine)
    assert response.json()["housing"] == ""


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"race_ethnicity": ["declined", "white"]}, "race_ethnicity", str(RACE_ETHNICITY_DECLINED_ALONE)),
        ({"race_ethnicity": ["martian"]}, "race_ethnicity", str(RACE_ETHNICITY_CODES_MESSAGE)),
        ({"race_ethnicity": "asian"}, "race_ethnicity", None),
        ({"gender_identity": "female"}, "gender_identity", '"female" is not a valid choice.'),
    ],
)
def test_a_bad_code_is_a_400_naming_the_field(cast, api_as, body, field, message):
    response = api_as(cast.coordinator).patch(reverse("client-detail", args=[cast.mine.pk]), body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    if message is not None:
        assert response.json()[field] == [message]
    assert answers(cast.mine)[field] in ([], "")


def test_a_supporter_reads_their_clients_characteristics_but_may_not_edit_them(cast, api_as):
    client_save(client=cast.mine, fields={"housing": "homeless"})
    api = api_as(cast.supporter_user)
    url = reverse("client-detail", args=[cast.mine.pk])
    assert api.get(url).json()["housing"] == "homeless"
    refused = api.patch(url, {"housing": "stable"}, format="json")
    assert refused.status_code == 403
    assert answers(cast.mine)["housing"] == "homeless"


def test_a_clinician_on_the_care_team_does_not_see_characteristics_in_the_api(cast, api_as):
    client_save(client=cast.mine, fields={"housing": "homeless", "race_ethnicity": ["asian"]})
    api = api_as(cast.clinician_user)
    detail = api.get(reverse("client-detail", args=[cast.mine.pk])).json()
    assert detail["id"] == cast.mine.pk
    assert not set(CHARACTERISTICS) & set(detail)
    rows = api.get(reverse("client-list")).json()["results"]
    assert rows and all(not set(CHARACTERISTICS) & set(row) for row in rows)


def test_the_client_list_carries_characteristics_for_coordinators_like_the_detail(cast, api_as):
    client_save(client=cast.mine, fields={"employment": "not_in_labor_force", "race_ethnicity": ["other"]})
    api = api_as(cast.coordinator)
    rows = {row["id"]: row for row in api.get(reverse("client-list")).json()["results"]}
    assert rows[cast.mine.pk]["employment"] == "not_in_labor_force"
    assert rows[cast.mine.pk] == api.get(reverse("client-detail", args=[cast.mine.pk])).json()
    assert rows[cast.theirs.pk]["race_ethnicity"] == []


def test_a_funder_cannot_reach_a_client_record_in_the_api(cast, api_as):
    api = api_as(cast.funder)
    assert api.get(reverse("client-detail", args=[cast.mine.pk])).status_code == 404
    assert api.get(reverse("client-list")).json()["results"] == []


# --- the coordinators' page -----------------------------------------------------------------


def test_a_coordinator_saves_characteristics_on_the_page_through_client_save(cast, client):
    client.force_login(cast.coordinator)
    url = reverse("client_program:characteristics", args=[cast.mine.pk])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'type="checkbox" name="race_ethnicity" value="middle_eastern_north_african"' in html
    assert ">Not asked</option>" in html and ">Declined to answer</option>" in html
    response = client.post(
        url,
        {
            "race_ethnicity": ["asian", "native_hawaiian_pacific_islander"],
            "gender_identity": "non_binary",
            "veteran": "declined",
            "housing": "",
            "employment": "",
            "coverage": "private",
        },
    )
    assert response.status_code == 302
    assert answers(cast.mine) == {
        "race_ethnicity": ["asian", "native_hawaiian_pacific_islander"],
        "gender_identity": "non_binary",
        "veteran": "declined",
        "housing": "",
        "employment": "",
        "coverage": "private",
    }
    event = AuditEvent.objects.get(action=actions.code_for(Client, actions.UPDATED), client_id=cast.mine.pk)
    assert event.detail["fields"] == ["coverage", "gender_identity", "race_ethnicity", "veteran"]
    assert "private" not in json.dumps(event.detail)


def test_declined_ticked_with_another_race_is_a_form_error_and_nothing_is_saved(cast, client):
    client.force_login(cast.coordinator)
    url = reverse("client_program:characteristics", args=[cast.mine.pk])
    response = client.post(url, {"race_ethnicity": ["declined", "white"], "veteran": "yes"})
    assert response.status_code == 200
    assert response.context["form"].errors == {"race_ethnicity": [str(RACE_ETHNICITY_DECLINED_ALONE)]}
    assert answers(cast.mine)["veteran"] == ""


@pytest.mark.parametrize(("role", "status"), [("supporter", 403), ("clinician", 403), ("funder", 404)])
def test_only_coordinators_open_the_characteristics_page(cast, client, role, status):
    client.force_login(cast.user(role))
    url = reverse("client_program:characteristics", args=[cast.mine.pk])
    assert client.get(url).status_code == status
    assert client.post(url, {"veteran": "yes"}).status_code == status
    assert answers(cast.mine)["veteran"] == ""


@pytest.mark.parametrize(("role", "shown", "editable"), [("coordinator", True, True), ("supporter", True, False)])
def test_the_client_page_shows_the_answers_to_those_who_may_read_them(cast, client, role, shown, editable):
    client_save(client=cast.mine, fields={"housing": "institution", "gender_identity": "declined"})
    client.force_login(cast.user(role))
    html = client.get(reverse("dashboard:client", args=[cast.mine.pk])).content.decode()
    assert ("Characteristics (self-reported)" in html) is shown
    assert "Institution" in html and "Declined to answer" in html and "Not asked" in html
    assert (reverse("client_program:characteristics", args=[cast.mine.pk]) in html) is editable


def test_the_client_page_shows_a_clinician_no_characteristics(cast, client):
    client_save(client=cast.mine, fields={"housing": "institution"})
    client.force_login(cast.clinician_user)
    page = client.get(reverse("dashboard:client", args=[cast.mine.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Characteristics (self-reported)" not in html and "Institution" not in html


# --- funders: aggregates only ---------------------------------------------------------------


def test_funder_figures_and_exports_hold_characteristics_only_as_aggregated_tables(cast):
    from reports.funder.exports import to_csv
    from reports.funder.figures import funder_figures
    from tests.reports.funder_data import Q1_2026, build_history

    history = build_history(cast)
    distinctive = ["black_african_american", "transgender_woman", "homeless", "not_in_labor_force", "medicaid"]
    for index, each in enumerate(history):
        client_save(
            client=each,
            fields={
                "race_ethnicity": [distinctive[0]],
                "gender_identity": distinctive[1],
                "housing": distinctive[2],
                "employment": distinctive[3],
                "coverage": distinctive[4] if index % 2 else "declined",
            },
        )
    figures = funder_figures(cast.program, Q1_2026)
    text = json.dumps(figures) + to_csv(figures).decode()
    for each in history:
        assert each.external_id not in text and each.last_name not in text
    # Characteristics reach the report only as the aggregated, suppressed "Who is served"
    # tables (reports/equity.py): without them, not one answer is left anywhere.
    figures["sections"] = [s for s in figures["sections"] if s["key"] != "equity"]
    for name in ("series", "display"):
        figures["trends"][name] = {k: v for k, v in figures["trends"][name].items() if not k.startswith("equity__")}
    rest = json.dumps(figures) + to_csv(figures).decode()
    for code in distinctive + ["Black or African American", "Transgender woman", "Homeless", "Medicaid"]:
        assert code not in rest, code


# --- demo data ------------------------------------------------------------------------------


def test_the_demo_clients_have_a_spread_of_valid_answers_with_some_declined_and_some_not_asked(db):
    import io

    from django.core.management import call_command

    call_command("seed_demo", password="demo-password-for-tests", stdout=io.StringIO())
    clients = list(Client.objects.all())
    assert len(clients) >= 30
    for each in clients:
        each.full_clean()  # the model's rules, which Client.objects.create does not run
    for name in CHARACTERISTICS:
        values = [json.dumps(getattr(c, name)) for c in clients]
        assert len(set(values)) >= 3, name
    races = [c.race_ethnicity for c in clients]
    assert ["declined"] in races and [] in races and any(len(r) > 1 for r in races)
    for name in ("gender_identity", "veteran", "housing", "employment", "coverage"):
        assert {"declined", ""} & {getattr(c, name) for c in clients}, name
    assert sum(getattr(c, name) == "declined" for c in clients for name in CHARACTERISTICS) >= 5
