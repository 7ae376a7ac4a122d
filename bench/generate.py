"""Fast synthetic data for benchmarks: one program with N clients, appointments and peer
contacts, written into the real tables with PostgreSQL COPY (psycopg 3 `cursor.copy`).

Reusable: `generate_program(clients=..., appointments=..., contacts=...)` from any
script that has called `django.setup()` against a PostgreSQL database. Rows are
random but reproducible (`seed`). Ids are assigned here (above the tables' current
maximum) and the sequences moved past them, so the ORM keeps working afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
from django.db import connection, transaction

from bench import clinical
from bench.copying import copy_frame, next_id, reset_sequence
from clients.models import CaseloadAssignment, Client, ClinicalAppointment
from core.models import Organization, Program, Role
from sessions.models import Attendance, PeerSession
from supporters.models import Supporter


@dataclass
class Generated:
    program: Program
    clients: int
    appointments: int
    attendances: int
    completed_contacts: int
    sessions: int
    seconds: float
    notes: int = 0
    addenda: int = 0
    feedback: clinical.FeedbackMade | None = None


def _instants(rng: np.random.Generator, n: int, first: datetime, last: datetime) -> np.ndarray:
    """n random instants, whole minutes, uniformly between first and last, as epoch seconds."""
    lo, hi = int(first.timestamp()) // 60, int(last.timestamp()) // 60
    return rng.integers(lo, hi, size=n, dtype=np.int64) * 60


def _utc_text(seconds: np.ndarray) -> np.ndarray:
    return pd.to_datetime(seconds, unit="s", utc=True).strftime("%Y-%m-%d %H:%M:%S+00").to_numpy(dtype=object)


def generate_program(
    *,
    clients: int = 100_000,
    appointments: int = 1_000_000,
    contacts: int = 5_000_000,
    supporters: int = 500,
    first: datetime = datetime(2024, 7, 1, tzinfo=UTC),
    last: datetime = datetime(2026, 7, 1, tzinfo=UTC),
    slug: str | None = None,
    seed: int = 0,
    timezone: str = "America/New_York",
    clinicians: int = 0,
    notes: bool = False,
) -> Generated:
    """Create one program holding the requested volumes. `contacts` is the number of
    attendance rows (about 85% of them completed): 80% in one-to-one sessions, the
    rest in groups of five. With `notes`, sessions carry notes (bench/clinical.py); with
    `clinicians`, that many clinicians with care teams, consents and bridging feedback.
    Either gives every supporter a login (signatures and replies name one)."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    # The notes and feedback draw from their own stream, so the rest is the same with or without them.
    clinical_rng = np.random.default_rng([seed, 1])
    moment = datetime.now(UTC)
    now = moment.strftime("%Y-%m-%d %H:%M:%S+00")
    # Every generated session is held, and no held session starts in the future (continuity.md v1.1).
    last = min(last, moment)
    with transaction.atomic():
        organization = Organization.objects.create(name="Benchmark", slug=f"bench-org-{seed}-{time.time_ns()}")
        program = Program.objects.create(
            organization=organization,
            slug=slug or f"bench-{seed}-{time.time_ns()}",
            name="Benchmark program",
            timezone=timezone,
        )

        sup_users = (
            clinical.logins(
                program=program,
                role=Role.SUPPORTER,
                prefix="sup",
                first_names=["Sam"] * supporters,
                last_names=[f"S{i}" for i in range(supporters)],
                now=now,
            )
            if notes or clinicians
            else None
        )
        sup0 = next_id(Supporter)
        sup_ids = np.arange(sup0, sup0 + supporters)
        copy_frame(
            Supporter,
            pd.DataFrame(
                {
                    "id": sup_ids,
                    "program_id": program.id,
                    "external_id": [f"SUP-{i}" for i in range(supporters)],
                    "first_name": "Sam",
                    "last_name": [f"S{i}" for i in range(supporters)],
                    "email": [f"s{i}-{program.id}@bench.invalid" for i in range(supporters)],
                    "user_id": sup_users,
                    "max_caseload": 200,
                    "languages": '["en"]',
                    "is_active": True,
                }
            ),
        )
        reset_sequence(Supporter)

        client0 = next_id(Client)
        client_ids = np.arange(client0, client0 + clients)
        numbers = np.arange(clients).astype(str)
        copy_frame(
            Client,
            pd.DataFrame(
                {
                    "id": client_ids,
                    "program_id": program.id,
                    "external_id": np.char.add("MRN-", numbers),
                    "first_name": "Jordan",
                    "last_name": np.char.add("C", numbers),
                    "date_of_birth": "1980-01-01",
                    "preferred_language": "en",
                    "created_at": now,
                }
            ),
        )
        reset_sequence(Client)

        # One primary per client (some ended, some handed to a second primary later),
        # and a secondary for one client in five.
        first_day, last_day = pd.Timestamp(first.date()), pd.Timestamp(last.date())
        span = (last_day - first_day).days
        start = rng.integers(0, span // 2, size=clients)
        ends = start + rng.integers(30, span, size=clients)
        ended = rng.random(clients) < 0.3
        handed = ~ended & (rng.random(clients) < 0.2)
        primary_sup = rng.choice(sup_ids, size=clients)
        rows = [
            pd.DataFrame(
                {
                    "client_id": client_ids,
                    "supporter_id": primary_sup,
                    "role": "primary",
                    "start": start,
                    "end": np.where(ended | handed, ends, -1),
                }
            )
        ]
        rows.append(
            pd.DataFrame(
                {
                    "client_id": client_ids[handed],
                    "supporter_id": rng.choice(sup_ids, size=int(handed.sum())),
                    "role": "primary",
                    "start": ends[handed] + 1,
                    "end": -1,
                }
            )
        )
        secondary = rng.random(clients) < 0.2
        rows.append(
            pd.DataFrame(
                {
                    "client_id": client_ids[secondary],
                    "supporter_id": rng.choice(sup_ids, size=int(secondary.sum())),
                    "role": "secondary",
                    "start": start[secondary] + 10,
                    "end": -1,
                }
            )
        )
        assignments = pd.concat(rows, ignore_index=True)
        # A handed-over client's second primary may be the same supporter: keep the natural key unique.
        assignments = assignments.drop_duplicates(["client_id", "supporter_id", "start"])
        as_date = lambda days: (first_day + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d")  # noqa: E731
        assignments_out = pd.DataFrame(
            {
                "client_id": assignments["client_id"],
                "supporter_id": assignments["supporter_id"],
                "role": assignments["role"],
                "start_date": as_date(assignments["start"].to_numpy()),
                # numpy's stubs take no None as a choice (numpy makes an object array of it).
                "end_date": np.where(  # type: ignore[call-overload]
                    assignments["end"].to_numpy() < 0, None, as_date(np.maximum(assignments["end"].to_numpy(), 0))
                ),
                "handoff_note": "",
                "created_at": now,
            }
        )
        copy_frame(CaseloadAssignment, assignments_out)

        kinds = np.array(["routine", "intake", "inpatient_discharge", "emergency_visit", "crisis"])
        statuses = np.array(["attended", "no_show", "cancelled_by_client", "cancelled_by_clinic", "scheduled"])
        copy_frame(
            ClinicalAppointment,
            pd.DataFrame(
                {
                    "program_id": program.id,
                    "external_id": "",
                    "client_id": rng.choice(client_ids, size=appointments),
                    "start": _utc_text(_instants(rng, appointments, first, last)),
                    "kind": kinds[rng.choice(5, size=appointments, p=[0.8, 0.08, 0.05, 0.05, 0.02])],
                    "status": statuses[rng.choice(5, size=appointments, p=[0.7, 0.15, 0.07, 0.05, 0.03])],
                }
            ),
        )

        single = int(contacts * 0.8)
        groups = (contacts - single) // 5
        single = contacts - groups * 5
        n_sessions = single + groups
        session0 = next_id(PeerSession)
        session_ids = np.arange(session0, session0 + n_sessions)
        session_supporters = rng.choice(sup_ids, size=n_sessions)
        session_starts = _instants(rng, n_sessions, first, last)
        durations = rng.choice([30, 45, 60, 90, 120], size=n_sessions)
        # Group members: five distinct clients (consecutive from a random one).
        group_first = rng.integers(0, clients - 5, size=groups)
        attendance_clients = np.concatenate(
            [
                rng.choice(client_ids, size=single),
                client_ids[(group_first[:, None] + np.arange(5)[None, :]).ravel()],
            ]
        )
        attendance_sessions = np.concatenate([session_ids[:single], np.repeat(session_ids[single:], 5)])
        status = np.array(["completed", "attempted", "no_show", "cancelled"])[
            rng.choice(4, size=contacts, p=[0.85, 0.07, 0.05, 0.03])
        ]
        sessions = pd.DataFrame(
            {
                "id": session_ids,
                "program_id": program.id,
                "external_id": "",
                "supporter_id": session_supporters,
                "kind": np.where(np.arange(n_sessions) < single, "one_to_one", "group"),
                "start": _utc_text(session_starts),
                "duration_minutes": durations,
                "modality": "phone",
                "status": "held",
                "location": "",
                "created_at": now,
            }
        )
        note_count = addenda = 0
        if notes:
            assert sup_users is not None  # notes make the supporters' logins
            author_users = sup_users[session_supporters - sup0]
            note_columns = clinical.session_notes(
                clinical_rng,
                group=np.arange(n_sessions) >= single,
                # A one-to-one session's only attendance; groups are read as held.
                attendance_status=np.concatenate([status[:single], np.full(groups, "completed")]),
                start=session_starts,
                duration_minutes=durations,
                author_user=author_users,
                now=int(moment.timestamp()),
            )
            note_count = int(note_columns["narrative"].notna().sum())
            sessions = pd.concat([sessions, note_columns.drop(columns="_signed_seconds")], axis=1)
        copy_frame(PeerSession, sessions)
        reset_sequence(PeerSession)
        copy_frame(
            Attendance,
            pd.DataFrame(
                {
                    "session_id": attendance_sessions,
                    "client_id": attendance_clients,
                    "status": status,
                }
            ),
        )
        if notes:
            addenda = clinical.note_addenda(
                clinical_rng,
                session_ids=session_ids,
                start=session_starts,
                notes=note_columns,
                author_user=author_users,
                now=int(moment.timestamp()),
            )
        feedback = None
        if clinicians:
            assert sup_users is not None  # clinicians make the supporters' logins
            feedback = clinical.feedback_network(
                clinical_rng,
                program=program,
                clinicians=clinicians,
                client_ids=client_ids,
                intake_day=start,
                assignments=assignments[["client_id", "supporter_id", "role", "start", "end"]],
                supporter_user=dict(zip(sup_ids.tolist(), sup_users.tolist(), strict=True)),
                first_day=first.date(),
                last_day=last.date(),
                now=moment,
            )
    with connection.cursor() as cursor:
        # Every table written, so the planner knows its size at once (a stale clinician count made
        # the feedback inbox walk every item: 34 ms instead of 1.4 ms at full scale).
        written = [Supporter, Client, CaseloadAssignment, ClinicalAppointment, PeerSession, Attendance]
        written += clinical.LOGIN_MODELS if notes or clinicians else []
        written += clinical.NOTE_MODELS if notes else []
        written += clinical.FEEDBACK_MODELS if clinicians else []
        for model in written:
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    return Generated(
        program=program,
        clients=clients,
        appointments=appointments,
        attendances=contacts,
        completed_contacts=int((status == "completed").sum()),
        sessions=n_sessions,
        seconds=time.perf_counter() - started,
        notes=note_count,
        addenda=addenda,
        feedback=feedback,
    )


def default_dates() -> tuple[date, date]:
    return date(2025, 7, 1), date(2026, 6, 30)
