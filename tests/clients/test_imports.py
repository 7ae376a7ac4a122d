"""The import service, rule by rule, on small hand-made files (docs/spec/import-formats.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from base.importing import import_csv_file
from clients.models import CaseloadAssignment, Client, ClinicalAppointment, Clinician
from sessions.models import Attendance, PeerSession, SessionKind, SessionStatus
from supporters.models import Certification, Supporter
from tests.factories import AssignmentFactory, ClientFactory, ProgramFactory, SiteFactory, SupporterFactory

pytestmark = pytest.mark.django_db


def run(program, kind: str, text: str, *, dry_run: bool = False, bom: bool = False):
    data = text.encode()
    if bom:
        data = b"\xef\xbb\xbf" + data
    return import_csv_file(program=program, kind=kind, data=data, dry_run=dry_run)


def messages(result) -> list[str]:
    return [e.message for e in result.errors]


@pytest.fixture
def program():
    return ProgramFactory(slug="riverside", timezone="America/New_York")


@pytest.fixture
def people(program):
    """Two clients, one supporter and one clinician in the program."""
    run(
        program,
        "clients",
        "external_id,first_name,last_name,date_of_birth\nMRN1,Ana,Diaz,1990-01-02\nMRN2,Ben,Ode,1985-07-08\n",
    )
    run(program, "supporters", "external_id,first_name,last_name,email\nS1,Sam,Lee,sam@example.org\n")
    run(
        program,
        "clinicians",
        "external_id,first_name,last_name,email,discipline\nC1,Kim,Roe,kim@example.org,psychiatry\n",
    )
    return program


def test_it_imports_sites_with_a_bom_and_counts_them(program):
    result = run(program, "sites", "external_id,name,address\nN,North,1 Main St\nS,South,\n", bom=True)
    assert result.ok, messages(result)
    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    assert set(program.sites.values_list("external_id", "name", "address")) == {
        ("N", "North", "1 Main St"),
        ("S", "South", ""),
    }


def test_a_supporter_with_languages_imported_again_is_unchanged(program):
    text = "external_id,first_name,last_name,email,languages\nS9,Sam,Lee,s9@example.org,en;es\n"
    first = run(program, "supporters", text)
    assert (first.created, first.updated, first.unchanged) == (1, 0, 0), messages(first)
    second = run(program, "supporters", text)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 1), messages(second)
    changed = run(program, "supporters", text.replace("en;es", "en"))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 0), messages(changed)


def test_importing_the_same_file_twice_changes_nothing_the_second_time(people):
    text = (
        "external_id,client_external_id,clinician_external_id,start,kind,status\n"
        "A1,MRN1,C1,2026-03-02T10:00,routine,attended\nA2,MRN2,,2026-03-03T09:30:00-05:00,intake,scheduled\n"
    )
    first = run(people, "appointments", text)
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0), messages(first)
    stored = list(ClinicalAppointment.objects.order_by("external_id").values_list("start", "clinician__external_id"))
    second = run(people, "appointments", text)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 2)
    assert (
        list(ClinicalAppointment.objects.order_by("external_id").values_list("start", "clinician__external_id"))
        == stored
    )
    assert stored[0][0] == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_a_changed_row_updates_its_record(people):
    header = "external_id,client_external_id,start,kind,status\n"
    run(
        people,
        "appointments",
        header + "A1,MRN1,2026-03-02T10:00,routine,scheduled\nA2,MRN2,2026-03-02T11:00,routine,scheduled\n",
    )
    result = run(
        people,
        "appointments",
        header + "A1,MRN1,2026-03-02T10:00,routine,attended\n"
        "A2,MRN2,2026-03-02T11:00,routine,scheduled\n"
        "A3,MRN2,2026-03-04T11:00Z,crisis,attended\n",
    )
    assert (result.created, result.updated, result.unchanged) == (1, 1, 1), messages(result)
    assert ClinicalAppointment.objects.get(external_id="A1").status == "attended"
    assert ClinicalAppointment.objects.get(external_id="A3").start == datetime(2026, 3, 4, 11, 0, tzinfo=UTC)


def test_one_bad_row_among_good_ones_imports_nothing(people):
    header = "external_id,client_external_id,start,kind,status\n"
    result = run(
        people,
        "appointments",
        header + "A1,MRN1,2026-03-02T10:00,routine,attended\n"
        "A2,MRN2,2026-03-02T11:00,Routine,attended\n"
        "A3,MRN2,2026-03-02T12:00,routine,attended\n",
    )
    assert messages(result) == [
        "line 3: kind: must be one of routine, intake, inpatient_discharge, emergency_visit, crisis"
    ]
    assert not ClinicalAppointment.objects.exists()
    assert result.created == 0


def test_a_naive_time_in_the_spring_gap_or_autumn_overlap_is_an_invalid_row(people):
    header = "external_id,client_external_id,start,kind,status\n"
    result = run(
        people,
        "appointments",
        header + "A1,MRN1,2026-03-08T02:30,routine,attended\n"
        "A2,MRN1,2026-11-01T01:30,routine,attended\n"
        "A3,MRN1,2026-11-01T01:30-04:00,routine,attended\n"
        "A4,MRN1,2026-03-08T03:30,routine,attended\n",
    )
    assert messages(result) == [
        "line 2: start: does not exist in America/New_York (clocks go forward); give an offset",
        "line 3: start: happens twice in America/New_York (clocks go back); give an offset",
    ]
    fixed = run(
        people,
        "appointments",
        header + "A3,MRN1,2026-11-01T01:30-04:00,routine,attended\nA4,MRN1,2026-03-08T03:30,routine,attended\n",
    )
    assert fixed.ok
    assert ClinicalAppointment.objects.get(external_id="A3").start == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert ClinicalAppointment.objects.get(external_id="A4").start == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_bad_dates_times_and_numbers_are_reported_per_cell(people):
    result = run(
        people,
        "peer_sessions",
        "external_id,supporter_external_id,client_external_id,start,duration_minutes,modality,status\n"
        "P1,S1,MRN1,2026-02-30T10:00,0,in_person,completed\n"
        "P2,S1,MRN1,yesterday,721,zoom,done\n",
    )
    assert messages(result) == [
        "line 2: start: is not an ISO 8601 date and time (YYYY-MM-DDTHH:MM[:SS][±HH:MM])",
        "line 2: duration_minutes: must be a whole number from 1 to 720",
        "line 3: start: is not an ISO 8601 date and time (YYYY-MM-DDTHH:MM[:SS][±HH:MM])",
        "line 3: duration_minutes: must be a whole number from 1 to 720",
        "line 3: modality: must be one of in_person, phone, video, text",
        "line 3: status: must be one of completed, attempted, no_show, cancelled",
    ]


def test_unknown_and_missing_columns_are_errors_on_line_one(program):
    result = run(program, "clients", "external_id,first_name,surname,date_of_birth,shoe_size\n1,a,b,1990-01-01,9\n")
    assert messages(result) == [
        "line 1: surname: unknown column",
        "line 1: shoe_size: unknown column",
        "line 1: last_name: required column is missing",
    ]


def test_a_missing_reference_is_an_invalid_row(people):
    result = run(
        people,
        "appointments",
        "external_id,client_external_id,clinician_external_id,start,kind,status\n"
        "A1,MRN9,C9,2026-03-02T10:00,routine,attended\n",
    )
    assert messages(result) == [
        "line 2: client_external_id: no client with this external_id in the program",
        "line 2: clinician_external_id: no clinician with this external_id in the program",
    ]


def test_references_to_another_programs_records_do_not_count(people):
    other = ProgramFactory()
    ClientFactory(program=other, external_id="MRN-OTHER")
    result = run(
        people,
        "appointments",
        "external_id,client_external_id,start,kind,status\nA1,MRN-OTHER,2026-03-02T10:00,routine,attended\n",
    )
    assert messages(result) == ["line 2: client_external_id: no client with this external_id in the program"]


def test_required_blank_cells_and_duplicate_external_ids_are_errors(program):
    result = run(program, "sites", "external_id,name\nN,North\n,Nowhere\nN,Again\n")
    assert messages(result) == ["line 3: external_id: is required", "line 4: external_id: repeats the value of line 2"]


def test_supporters_get_languages_sites_and_certifications(program):
    SiteFactory(program=program, external_id="N")
    header = (
        "external_id,first_name,last_name,email,site_external_id,max_caseload,languages,certification_type,"
        "certification_number,certified_on,certification_expires_on\n"
    )
    result = run(
        program,
        "supporters",
        header + "S1,Sam,Lee,sam@example.org,N,25,en;es,CPS,123,2025-01-01,2027-01-01\n"
        "S2,Val,Ng,val@example.org,,,,,,,\n",
    )
    assert result.ok, messages(result)
    sam = Supporter.objects.get(external_id="S1")
    assert (sam.site.external_id, sam.max_caseload, sam.languages) == ("N", 25, ["en", "es"])
    assert Supporter.objects.get(external_id="S2").max_caseload == 20
    cert = Certification.objects.get(supporter=sam)
    assert (cert.certification_type, cert.number, cert.expires_on) == ("CPS", "123", date(2027, 1, 1))
    again = run(
        program,
        "supporters",
        header + "S1,Sam,Lee,sam@example.org,N,25,en;es,CPS,123,2025-01-01,2028-01-01\n"
        "S2,Val,Ng,val@example.org,,,,,,,\n",
    )
    assert (again.created, again.updated, again.unchanged) == (0, 1, 1)
    assert Certification.objects.get(supporter=sam).expires_on == date(2028, 1, 1)


def test_supporter_rules_languages_caseload_certification_and_email(program):
    SupporterFactory(program=program, external_id="OLD", email="taken@example.org")
    header = (
        "external_id,first_name,last_name,email,max_caseload,languages,certification_type,"
        "certification_number,certified_on,certification_expires_on\n"
    )
    result = run(
        program,
        "supporters",
        header + "S1,Sam,Lee,sam@example.org,0,en;xx,CPS,,,\n"
        "S2,Val,Ng,SAM@example.org,201,,,,,\n"
        "S3,Ida,Wu,Taken@example.org,5,EN,,,,\n"
        "S4,Bo,Li,not-an-email,5,,,,,\n",
    )
    assert messages(result) == [
        "line 2: max_caseload: must be a whole number from 1 to 200",
        "line 2: languages: Use ISO 639-1 language codes, such as en or es.",
        "line 2: certification_number: certification columns are given together or not at all",
        "line 2: certified_on: certification columns are given together or not at all",
        "line 2: certification_expires_on: certification columns are given together or not at all",
        "line 3: email: repeats the value of line 2",
        "line 3: max_caseload: must be a whole number from 1 to 200",
        "line 4: email: is already used by another record in the program",
        "line 4: languages: Use ISO 639-1 language codes, such as en or es.",
        "line 5: email: is not an email address",
    ]


def test_clinicians_need_a_known_discipline(program):
    result = run(
        program,
        "clinicians",
        "external_id,first_name,last_name,email,discipline\n"
        "C1,Kim,Roe,kim@example.org,Psychiatry\nC2,Al,Po,al@example.org,\n",
    )
    assert messages(result) == [
        "line 2: discipline: must be one of psychiatry, psychology, social_work, nursing, "
        "counseling, primary_care, other"
    ]
    fixed = run(
        program,
        "clinicians",
        "external_id,first_name,last_name,email,discipline\n"
        "C1,Kim,Roe,kim@example.org,psychiatry\nC2,Al,Po,al@example.org,\n",
    )
    assert fixed.created == 2
    assert Clinician.objects.get(external_id="C2").discipline == ""


def test_clients_are_keyed_by_record_number_and_validated(program):
    SiteFactory(program=program, external_id="N")
    header = "external_id,first_name,last_name,date_of_birth,preferred_language,site_external_id\n"
    result = run(
        program,
        "clients",
        header + "MRN1,Ana,Diaz,1990-1-2,english,Q\nMRN2,Ben,Ode,2099-01-01,es,N\nMRN3,Cy,Ode,2999-01-01,es,N\n",
    )
    assert messages(result) == [
        "line 2: date_of_birth: is not a date (YYYY-MM-DD)",
        "line 2: preferred_language: Use an ISO 639-1 language code, such as en or es.",
        "line 2: site_external_id: no site with this external_id in the program",
        "line 3: date_of_birth: The date of birth cannot be in the future.",
        "line 4: date_of_birth: Enter a date between 1900-01-01 and 2199-12-31.",
    ]
    assert run(program, "clients", header + "MRN1,Ana,Diaz,1990-01-02,en,N\n").created == 1
    assert run(program, "clients", header + "MRN1,Ana,Diaz-Ruiz,1990-01-02,en,N\n").updated == 1
    assert Client.objects.get(external_id="MRN1").last_name == "Diaz-Ruiz"


ASSIGNMENT_HEADER = "client_external_id,supporter_external_id,start_date,end_date,role\n"


def test_assignments_are_keyed_by_client_supporter_and_start(people):
    SupporterFactory(program=people, external_id="S2")
    text = ASSIGNMENT_HEADER + "MRN1,S1,2026-01-01,2026-01-31,primary\nMRN1,S2,2026-02-01,,primary\n"
    assert run(people, "assignments", text).created == 2
    again = run(people, "assignments", text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = run(people, "assignments", ASSIGNMENT_HEADER + "MRN1,S2,2026-02-01,2026-06-30,primary\n")
    assert changed.updated == 1
    assert CaseloadAssignment.objects.get(supporter__external_id="S2").end_date == date(2026, 6, 30)


def test_overlapping_primaries_within_the_file_are_invalid_rows(people):
    SupporterFactory(program=people, external_id="S2")
    result = run(
        people,
        "assignments",
        ASSIGNMENT_HEADER + "MRN1,S1,2026-01-01,2026-02-15,primary\n"
        "MRN1,S2,2026-02-01,,primary\n"
        "MRN2,S2,2026-02-01,,secondary\n"
        "MRN2,S1,2026-01-01,2026-01-31,primary\n"
        "MRN2,S2,2026-03-01,2026-02-01,primary\n",
    )
    assert messages(result) == [
        "line 2: start_date: overlaps another primary assignment of this client",
        "line 3: start_date: overlaps another primary assignment of this client",
        "line 6: end_date: The end date must be on or after the start date.",
    ]
    assert not CaseloadAssignment.objects.filter(client__program=people).exists()


def test_a_primary_overlapping_a_stored_one_is_an_invalid_row(people):
    AssignmentFactory(
        client=Client.objects.get(external_id="MRN1"),
        supporter=Supporter.objects.get(external_id="S1"),
        start_date=date(2026, 1, 1),
        end_date=None,
    )
    SupporterFactory(program=people, external_id="S2")
    result = run(people, "assignments", ASSIGNMENT_HEADER + "MRN1,S2,2026-03-01,,primary\n")
    assert messages(result) == ["line 2: start_date: overlaps another primary assignment of this client"]
    # Ending the stored one in the same file makes room for the new primary.
    fixed = run(
        people,
        "assignments",
        ASSIGNMENT_HEADER + "MRN1,S1,2026-01-01,2026-02-28,primary\nMRN1,S2,2026-03-01,,primary\n",
    )
    assert (fixed.created, fixed.updated) == (1, 1), messages(fixed)


def test_rows_with_one_external_id_are_one_group_session(people):
    header = "external_id,supporter_external_id,client_external_id,start,duration_minutes,modality,status\n"
    text = header + (
        "G1,S1,MRN1,2026-03-05T18:00,90,in_person,completed\n"
        "G1,S1,MRN2,2026-03-05T18:00,90,in_person,no_show\n"
        "P1,S1,MRN1,2026-03-06T10:00-05:00,30,phone,attempted\n"
    )
    result = run(people, "peer_sessions", text)
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0), messages(result)
    group = PeerSession.objects.get(external_id="G1")
    assert group.kind == SessionKind.GROUP and group.status == SessionStatus.HELD
    assert dict(group.attendances.values_list("client__external_id", "status")) == {
        "MRN1": "completed",
        "MRN2": "no_show",
    }
    assert PeerSession.objects.get(external_id="P1").kind == SessionKind.ONE_TO_ONE
    again = run(people, "peer_sessions", text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert Attendance.objects.count() == 3


def test_group_rows_that_disagree_about_the_session_are_errors(people):
    SupporterFactory(program=people, external_id="S2")
    header = "external_id,supporter_external_id,client_external_id,start,duration_minutes,modality,status\n"
    result = run(
        people,
        "peer_sessions",
        header + "G1,S1,MRN1,2026-03-05T18:00,90,in_person,completed\n"
        "G1,S2,MRN2,2026-03-05T18:30,60,video,completed\n"
        "G1,S1,MRN1,2026-03-05T18:00,90,in_person,completed\n",
    )
    assert messages(result) == [
        "line 3: supporter_external_id: differs from line 2 of the same session (external_id)",
        "line 3: start: differs from line 2 of the same session (external_id)",
        "line 3: duration_minutes: differs from line 2 of the same session (external_id)",
        "line 3: modality: differs from line 2 of the same session (external_id)",
        "line 4: client_external_id: repeats the value of line 2",
    ]
    assert not PeerSession.objects.exists()


def test_a_dry_run_reports_counts_and_writes_nothing(people):
    result = run(
        people,
        "appointments",
        "external_id,client_external_id,start,kind,status\nA1,MRN1,2026-03-02T10:00,routine,attended\n",
        dry_run=True,
    )
    assert result.ok and result.created == 1 and result.dry_run
    assert not ClinicalAppointment.objects.exists()


def test_dry_runs_count_exactly_what_the_real_import_then_does(people):
    SiteFactory(program=people, external_id="N")
    files = {
        "supporters": "external_id,first_name,last_name,email,certification_type,certification_number,certified_on,"
        "certification_expires_on\nS1,Sam,Lee,sam@example.org,CPS,1,2025-01-01,2027-01-01\n"
        "S7,New,One,new@example.org,CPS,2,2025-01-01,2027-01-01\n",
        "peer_sessions": "external_id,supporter_external_id,client_external_id,start,duration_minutes,modality,status\n"
        "G1,S1,MRN1,2026-03-05T18:00,90,in_person,completed\n"
        "G1,S1,MRN2,2026-03-05T18:00,90,in_person,no_show\n",
    }
    for kind, text in files.items():
        preview = run(people, kind, text, dry_run=True)
        real = run(people, kind, text)
        assert preview.ok and real.ok, messages(preview) + messages(real)
        assert preview.counts() == real.counts(), kind
    assert (preview.created, Attendance.objects.count()) == (2, 2)
    assert Certification.objects.count() == 2


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "line 1: file: the file is empty; a header row is required"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 10, "line 1: file: this is not a CSV text file"),
        (b"external_id,name\nN,Nor\xe9\n", "line 2: file: is not UTF-8 text"),
        (b"external_id,name\nN,North,extra\n", "line 2: row: has more cells than the header"),
        (b"external_id,name\nN,North\nS,South,extra\n", "line 3: row: has 3 cells; the header has 2"),
        (
            ",".join(f"c{i}" for i in range(10_000)).encode() + b"\n",
            "line 1: header: has 10000 columns; a sites file has at most 3",
        ),
        (b"external_id,name,name\nN,North,Again\n", "line 1: name: this column appears twice"),
    ],
)
def test_hostile_or_broken_files_get_one_clear_error(program, data, expected):
    result = import_csv_file(program=program, kind="sites", data=data)
    assert messages(result) == [expected]
    assert not program.sites.exists()


def test_an_unknown_kind_is_refused(program):
    assert messages(import_csv_file(program=program, kind="widgets", data=b"a\n"))[0].startswith("line 0: kind:")


def test_a_file_of_many_duplicate_groups_is_reported_row_by_row(program):
    """Hostile shape: 20,000 pairs of duplicates. Each second row names its first line."""
    rows = "".join(f"S{i},Site {i}\nS{i},Again {i}\n" for i in range(20_000))
    result = run(program, "sites", "external_id,name\n" + rows)
    assert len(result.errors) == 20_000
    assert result.errors[0].message == "line 3: external_id: repeats the value of line 2"
    assert result.errors[-1].message == "line 40001: external_id: repeats the value of line 40000"
    assert not program.sites.exists()


def test_imported_peer_sessions_get_their_billing_units(cast):
    from base.importing import import_csv_file
    from sessions.models import Attendance

    csv = (
        "external_id,supporter_external_id,client_external_id,start,duration_minutes,modality,status\n"
        f"PS-1,{cast.supporter.external_id},{cast.mine.external_id},2026-03-05T10:00:00,38,phone,completed\n"
        f"PS-2,{cast.supporter.external_id},{cast.mine.external_id},2026-03-06T10:00:00,30,phone,attempted\n"
    ).encode()
    result = import_csv_file(program=cast.program, kind="peer_sessions", data=csv)
    assert result.ok, result.errors
    units = dict(
        Attendance.objects.filter(client=cast.mine).values_list("session__external_id", "billing_pending_units")
    )
    # 38 min: two whole units plus an 8-minute partial; attempts earn none. Imported sessions carry
    # no signed note, so under the default rule their units are pending, not billable.
    assert units == {"PS-1": 3, "PS-2": 0}
