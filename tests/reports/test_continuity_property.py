"""The pandas engine against a deliberately simple per-client reading of the spec.

`reference_report` below is written straight from docs/spec/continuity.md with
plain Python loops, datetimes and zoneinfo: slow and obvious. Hypothesis builds
random small programs around the March and November daylight-saving changes in
America/New_York and checks both give the same report.
"""

from __future__ import annotations

import os
import statistics
from datetime import UTC, date, datetime, time, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from clients.models import CaseloadAssignment, Client, ClinicalAppointment
from core.models import Program
from reports.continuity.report import continuity_report
from sessions.models import Attendance, PeerSession
from supporters.models import Supporter
from tests.factories import OrganizationFactory

# --------------------------------------------------------------------------- reference


def reference_report(
    program: Program,
    start: date,
    end: date,
    min_gap_days: int,
    lookback_days: int,
    threshold_days: int,
    now: datetime,
    as_of: date,
) -> dict:
    tz = ZoneInfo(program.timezone)

    def local_date(moment: datetime) -> date:
        return moment.astimezone(tz).date()

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)

    p_lo, p_hi = midnight(start), midnight(end + timedelta(days=1))
    in_p = lambda moment: p_lo <= moment < p_hi  # noqa: E731
    days_in_p = [start + timedelta(days=i) for i in range((end - start).days + 1)]

    clients = list(Client.objects.filter(program=program))
    supporters = {s.id: s.external_id for s in Supporter.objects.filter(program=program)}
    assignments = list(CaseloadAssignment.objects.filter(client__program=program))
    appointments = list(ClinicalAppointment.objects.filter(program=program))
    attendances = list(Attendance.objects.filter(session__program=program).select_related("session"))

    def enrolled(client_id: int, day: date) -> bool:
        return any(
            a.client_id == client_id and a.start_date <= day and (a.end_date is None or day <= a.end_date)
            for a in assignments
        )

    def primary_on(client_id: int, day: date):
        for a in assignments:
            if (
                a.client_id == client_id
                and a.role == "primary"
                and a.start_date <= day
                and (a.end_date is None or day <= a.end_date)
            ):
                return a.supporter_id
        return None

    def is_contact(x: Attendance) -> bool:
        # v1.1: completed, of a held session whose start is not after the moment of the report.
        return x.status == "completed" and x.session.status == "held" and x.session.start <= now

    def contacts_of(client_id: int) -> list[datetime]:
        return sorted(x.session.start for x in attendances if x.client_id == client_id and is_contact(x))

    # Items: (client_id, supporter_id or None, metric, values)
    gap_items, followup_items, adherence_items, volume_items = [], [], [], []
    longest: dict[int, float] = {}
    for client in clients:
        contacts = contacts_of(client.id)
        sessions = sorted(a.start for a in appointments if a.client_id == client.id and a.status == "attended")
        for prev, nxt in zip(sessions, sessions[1:], strict=False):
            if not in_p(nxt) or nxt - prev < timedelta(days=min_gap_days):
                continue
            span = [local_date(prev) + timedelta(days=i) for i in range((local_date(nxt) - local_date(prev)).days + 1)]
            if not all(enrolled(client.id, d) for d in span):
                continue
            inside = [c for c in contacts if prev < c < nxt]
            days_to = (inside[0] - prev).total_seconds() / 3600 / 24 if inside else None
            gap_items.append((client.id, primary_on(client.id, local_date(nxt)), bool(inside), days_to))
        for a in appointments:
            if a.client_id != client.id or a.status != "attended":
                continue
            if a.kind not in ("inpatient_discharge", "emergency_visit"):
                continue
            day = local_date(a.start)
            if not (start <= day <= end - timedelta(days=30)) or not enrolled(client.id, day):
                continue
            contact_days = [local_date(c) for c in contacts]
            f7 = any(day + timedelta(days=1) <= d <= day + timedelta(days=7) for d in contact_days)
            f30 = any(day + timedelta(days=1) <= d <= day + timedelta(days=30) for d in contact_days)
            followup_items.append((client.id, primary_on(client.id, day), f7, f30))
        for a in appointments:
            if a.client_id != client.id or a.status not in ("attended", "no_show") or not in_p(a.start):
                continue
            if not enrolled(client.id, local_date(a.start)):
                continue
            recent = any(a.start - timedelta(days=lookback_days) <= c < a.start for c in contacts)
            adherence_items.append(
                (client.id, primary_on(client.id, local_date(a.start)), a.status == "attended", recent)
            )
        enrolled_days = [d for d in days_in_p if enrolled(client.id, d)]
        if enrolled_days:
            segments, current = [], [enrolled_days[0]]
            for d in enrolled_days[1:]:
                if d == current[-1] + timedelta(days=1):
                    current.append(d)
                else:
                    segments.append(current)
                    current = [d]
            segments.append(current)
            points = sessions + contacts
            best = 0.0
            for seg in segments:
                lo, hi = midnight(seg[0]), midnight(seg[-1] + timedelta(days=1))
                marks = sorted([lo, hi] + [p for p in points if lo <= p < hi])
                for x, y in zip(marks, marks[1:], strict=False):
                    best = max(best, (y - x).total_seconds() / 86400)
            longest[client.id] = best
    # §6, the gap ahead, client by client: (client_id, primary on as_of, open, planned).
    ahead_items = []
    as_of_midnight = midnight(as_of)
    for client in clients:
        if not enrolled(client.id, as_of):
            continue
        contacts = contacts_of(client.id)
        before = [a.start for a in appointments if a.client_id == client.id and a.status == "attended"]
        before = [t for t in before + contacts if t < as_of_midnight]
        if before:
            last_support = max(before)
        else:
            last_support = midnight(min(a.start_date for a in assignments if a.client_id == client.id))
        booked = [
            a.start
            for a in appointments
            if a.client_id == client.id and a.status == "scheduled" and a.start > as_of_midnight
        ]
        next_session = min(booked) if booked else None
        is_open = next_session is None or next_session - last_support >= timedelta(days=min_gap_days)
        window_end = next_session if next_session is not None else as_of_midnight + timedelta(days=min_gap_days)
        candidates = [
            x.session.start
            for x in attendances
            if x.client_id == client.id and x.session.status == "scheduled" and x.status != "cancelled"
        ] + [c for c in contacts if local_date(c) == as_of]
        planned = any(last_support < t < window_end for t in candidates)
        ahead_items.append((client.id, primary_on(client.id, as_of), is_open, is_open and planned))

    def planned_object(select) -> dict:
        gaps = [g for g in ahead_items if select(g) and g[2]]
        planned = sum(1 for g in gaps if g[3])
        return {
            "as_of": as_of.isoformat(),
            "open_gaps_ahead": len(gaps),
            "open_gaps_planned": planned,
            "planned_coverage_rate": rate(planned, len(gaps)),
        }

    for x in attendances:
        if is_contact(x) and in_p(x.session.start) and x.client.program_id == program.id:
            volume_items.append((x.client_id, x.session.supporter_id, x.session_id, x.session.duration_minutes))

    def rate(num: int, den: int):
        return num / den if den else None

    def metrics(select_gap, select_followup, select_adherence, select_volume) -> dict:
        gaps = [g for g in gap_items if select_gap(g)]
        covered = [g for g in gaps if g[2]]
        fus = [f for f in followup_items if select_followup(f)]
        ads = [a for a in adherence_items if select_adherence(a)]
        vols = [v for v in volume_items if select_volume(v)]
        kept = sum(1 for a in ads if a[2])
        with_recent = [a for a in ads if a[3]]
        without_recent = [a for a in ads if not a[3]]
        distinct_sessions = {v[2]: v[3] for v in vols}
        return {
            "gap_intervals": len(gaps),
            "gap_intervals_covered": len(covered),
            "gap_coverage_rate": rate(len(covered), len(gaps)),
            "median_days_to_peer_contact": statistics.median(g[3] for g in covered) if covered else None,
            "transition_events": len(fus),
            "followup_7d": sum(f[2] for f in fus),
            "followup_7d_rate": rate(sum(f[2] for f in fus), len(fus)),
            "followup_30d": sum(f[3] for f in fus),
            "followup_30d_rate": rate(sum(f[3] for f in fus), len(fus)),
            "appointments_kept": kept,
            "appointments_missed": len(ads) - kept,
            "adherence_rate": rate(kept, len(ads)),
            "adherence_rate_with_recent_peer_contact": rate(sum(a[2] for a in with_recent), len(with_recent)),
            "adherence_rate_without_recent_peer_contact": rate(sum(a[2] for a in without_recent), len(without_recent)),
            "peer_contacts": len(vols),
            "peer_sessions": len(distinct_sessions),
            "peer_support_hours": sum(distinct_sessions.values()) / 60,
        }

    everything = lambda item: True  # noqa: E731
    summary = {"clients_enrolled": len(longest), **metrics(everything, everything, everything, everything)}
    values = list(longest.values())
    summary["median_longest_unsupported_days"] = statistics.median(values) if values else None
    summary["clients_unsupported_over_threshold"] = sum(1 for v in values if v > threshold_days)
    summary["planned"] = planned_object(everything)
    open_clients = {g[0] for g in ahead_items if g[2]}

    by_client = []
    for client in clients:
        if client.id not in longest:
            continue
        mine = lambda item, cid=client.id: item[0] == cid  # noqa: E731
        row = {"client": client.external_id, **metrics(mine, mine, mine, mine)}
        row["longest_unsupported_days"] = longest[client.id]
        row["gap_ahead"] = client.id in open_clients
        by_client.append(row)
    by_client.sort(key=lambda r: r["client"])

    by_supporter = []
    overlapping = {
        a.supporter_id for a in assignments if a.start_date <= end and (a.end_date is None or a.end_date >= start)
    }
    attributed = (
        {g[1] for g in gap_items}
        | {f[1] for f in followup_items}
        | {a[1] for a in adherence_items}
        | {v[1] for v in volume_items}
        | {g[1] for g in ahead_items if g[2]}
    )
    for supporter_id in overlapping | attributed:
        ours = lambda item, sid=supporter_id: item[1] == sid  # noqa: E731
        row = {"supporter": supporters.get(supporter_id), **metrics(ours, ours, ours, ours)}
        row["planned"] = planned_object(ours)
        row["clients_enrolled"] = (
            None
            if supporter_id is None
            else len(
                {
                    a.client_id
                    for a in assignments
                    if a.supporter_id == supporter_id
                    and a.start_date <= end
                    and (a.end_date is None or a.end_date >= start)
                }
            )
        )
        by_supporter.append(row)
    by_supporter.sort(key=lambda r: (r["supporter"] is None, r["supporter"] or ""))
    return {"summary": summary, "by_supporter": by_supporter, "by_client": by_client}


# --------------------------------------------------------------------------- random programs

# Each random program lives in one 40-day window around a 2026 daylight-saving
# change in America/New_York (March 8 or November 1), dense enough that intervals,
# follow-ups and gaps happen. Instants and days are offsets into the window.
WINDOWS = [datetime(2026, 2, 25, 5, tzinfo=UTC), datetime(2026, 10, 15, 4, tzinfo=UTC)]
WINDOW_DAYS = 40

# sampled_from draws evenly; integers() would crowd the start of the window.
instant = st.sampled_from(range(WINDOW_DAYS * 24 * 4))  # quarter hours into the window
day = st.sampled_from(range(-3, WINDOW_DAYS + 3))  # days into the window

client_strategy = st.fixed_dictionaries(
    {
        # Primary assignments are built from sorted cut days so they never overlap.
        "primary_cuts": st.lists(day, min_size=1, max_size=4, unique=True).map(sorted),
        "primary_open_end": st.sampled_from([True, True, False]),
        "secondary": st.lists(st.tuples(day, st.integers(0, 90) | st.none()), max_size=2, unique_by=lambda x: x[0]),
        "appointments": st.lists(
            st.tuples(
                instant,
                st.sampled_from(["attended", "attended", "no_show", "cancelled_by_client", "scheduled"]),
                st.sampled_from(["routine", "inpatient_discharge", "emergency_visit"]),
            ),
            min_size=3,
            max_size=10,
        ),
    }
)
session_strategy = st.tuples(
    instant,
    st.integers(0, 1),  # supporter index
    st.integers(1, 180),  # minutes
    st.lists(
        st.tuples(
            st.sampled_from([0, 0, 1, 2]),
            st.sampled_from(["completed", "completed", "attempted", "no_show", "scheduled", "cancelled"]),
        ),
        min_size=1,
        max_size=3,
        unique_by=lambda x: x[0],  # one attendance per client and session
    ),
    # Bad rows too (written around the services): the engine must still count none of them.
    st.sampled_from(["held", "held", "held", "scheduled", "cancelled"]),
)
program_strategy = st.fixed_dictionaries(
    {
        "clients": st.lists(client_strategy, min_size=1, max_size=3),
        "sessions": st.lists(session_strategy, min_size=5, max_size=25),
        # Long enough, often, for the 30-day follow-up window to fit.
        # (sampled_from draws evenly; integers() favours small values.)
        "period": st.tuples(st.sampled_from(range(-3, 30)), st.sampled_from(range(5, 61))),
        "window": st.sampled_from(WINDOWS),
        "min_gap_days": st.sampled_from([0, 1, 2, 3, 7, 10]),
        "lookback_days": st.integers(1, 30),
        "threshold_days": st.integers(0, 60),
        # The moment the report is computed, in quarter hours into the window (None: long after it).
        "now": st.none() | instant,
        # §6 looks forward from as_of: often a daylight-saving day (window day 11 is March 8,
        # day 17 is November 1), else any day of the window.
        "as_of": st.sampled_from([11, 17]) | day,
    }
)


def build_program(spec: dict) -> Program:
    base = spec["window"]
    at = lambda quarter_hours: base + timedelta(minutes=15 * quarter_hours)  # noqa: E731
    on = lambda days: base.date() + timedelta(days=days)  # noqa: E731
    program = Program.objects.create(
        organization=OrganizationFactory(),
        slug=f"prop-{Program.objects.count()}-{id(spec)}",
        name="Property",
        timezone="America/New_York",
    )
    supporters = [
        Supporter.objects.create(
            program=program,
            external_id=f"S{i}",
            first_name="S",
            last_name=str(i),
            email=f"s{i}-{program.id}@example.org",
        )
        for i in range(3)
    ]
    clients = []
    for i, c in enumerate(spec["clients"]):
        client = Client.objects.create(
            program=program, external_id=f"C{i}", first_name="C", last_name=str(i), date_of_birth=date(1990, 1, 1)
        )
        clients.append(client)
        cuts = c["primary_cuts"]
        for j in range(0, len(cuts) - 1, 2):
            # alternate supporters so primary transfers happen
            CaseloadAssignment.objects.create(
                client=client,
                supporter=supporters[j % 2],
                role="primary",
                start_date=on(cuts[j]),
                end_date=on(cuts[j + 1]),
            )
        if len(cuts) % 2 == 1:
            CaseloadAssignment.objects.create(
                client=client,
                supporter=supporters[1],
                role="primary",
                start_date=on(cuts[-1]),
                end_date=None if c["primary_open_end"] else on(cuts[-1] + 5),
            )
        if i == 0:
            # The first client is enrolled through the whole window (a secondary from
            # before it), so most programs have intervals, follow-ups and stretches to check.
            CaseloadAssignment.objects.create(
                client=client, supporter=supporters[2], role="secondary", start_date=on(-5), end_date=None
            )
        for first, length in c["secondary"]:
            CaseloadAssignment.objects.create(
                client=client,
                supporter=supporters[2],
                role="secondary",
                start_date=on(first),
                end_date=None if length is None else on(first + length),
            )
        for when, status, kind in c["appointments"]:
            ClinicalAppointment.objects.create(program=program, client=client, start=at(when), status=status, kind=kind)
    for when, sup, minutes, attendees, status in spec["sessions"]:
        session = PeerSession.objects.create(
            program=program,
            supporter=supporters[sup],
            start=at(when),
            duration_minutes=minutes,
            modality="phone",
            status=status,
        )
        for idx, status in attendees:
            if idx < len(clients):
                Attendance.objects.create(session=session, client=clients[idx], status=status)
    return program


def same_value(got, expected) -> bool:
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and set(got) == set(expected)
            and all(same_value(got[k], expected[k]) for k in expected)
        )
    if isinstance(expected, bool):
        return got is expected
    if expected is None or isinstance(expected, str):
        return got == expected
    if isinstance(expected, int):  # counts stay integers in the output
        return type(got) is int and got == expected
    return isinstance(got, float) and got == pytest.approx(expected, rel=1e-9, abs=1e-9)


def assert_same(engine: dict, reference: dict) -> None:
    assert set(engine["summary"]) == set(reference["summary"])
    for key, expected in reference["summary"].items():
        assert same_value(engine["summary"][key], expected), ("summary", key, engine["summary"][key], expected)
    for level, key_name in (("by_client", "client"), ("by_supporter", "supporter")):
        assert [r[key_name] for r in engine[level]] == [r[key_name] for r in reference[level]], level
        for got, expected in zip(engine[level], reference[level], strict=True):
            assert set(got) == set(expected)
            for key, value in expected.items():
                assert same_value(got[key], value), (level, got[key_name], key, got[key], value)


@pytest.mark.django_db
@settings(
    max_examples=int(os.environ.get("CONTINUITY_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=program_strategy)
def test_the_pandas_engine_agrees_with_a_simple_per_client_reading_of_the_spec(spec):
    program = build_program(spec)
    first_day, length = spec["period"]
    start = spec["window"].date() + timedelta(days=first_day)
    end = start + timedelta(days=length)
    params = {
        "min_gap_days": spec["min_gap_days"],
        "adherence_lookback_days": spec["lookback_days"],
        "unsupported_threshold_days": spec["threshold_days"],
    }
    now = (
        datetime(2026, 12, 1, tzinfo=UTC)
        if spec["now"] is None
        else spec["window"] + timedelta(minutes=15 * spec["now"] + 7)
    )
    as_of = spec["window"].date() + timedelta(days=spec["as_of"])
    with mock.patch("django.utils.timezone.now", return_value=now):
        engine = continuity_report(program=program, start=start, end=end, as_of=as_of, **params)
    reference = reference_report(
        program, start, end, spec["min_gap_days"], spec["lookback_days"], spec["threshold_days"], now, as_of
    )
    assert_same(engine, reference)
    # Visible with --hypothesis-show-statistics: the examples do reach every metric.
    for key in ("gap_intervals_covered", "transition_events", "followup_7d", "appointments_missed", "peer_sessions"):
        event(f"{key} > 0: {bool(engine['summary'][key])}")
    for key in ("open_gaps_ahead", "open_gaps_planned"):
        event(f"{key} > 0: {bool(engine['summary']['planned'][key])}")
