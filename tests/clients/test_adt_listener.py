"""The MLLP listener on loopback: real sockets, real frames, real acknowledgments; and a real
listener process killed with SIGKILL in the middle of a frame."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

import hl7
import pytest
from django.core.management import call_command
from django.db import connection

from clients.management.commands.adt_listener import serving_in_thread
from clients.models import AdtMessage, AdtStatus, ClinicalAppointment
from sessions.models import FollowUpTask, TaskKind
from tests.clients.test_adt import sample

ROOT = Path(__file__).resolve().parents[2]
START, END = b"\x0b", b"\x1c\r"


def frame(text: str) -> bytes:
    return START + text.encode() + END


def read_ack(sock: socket.socket) -> hl7.Message:
    data = b""
    while not data.endswith(END):
        chunk = sock.recv(4096)
        assert chunk, "the listener closed the connection without an acknowledgment"
        data += chunk
    assert data.startswith(START)
    return hl7.parse(data[1:-2].decode())


@contextmanager
def connected(port: int) -> Iterator[socket.socket]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        yield sock
    finally:
        sock.close()


@pytest.mark.django_db(transaction=True)
def test_a_discharge_round_trips_over_mllp_on_loopback(cast):
    with serving_in_thread(cast.program) as port, connected(port) as sock:
        sock.sendall(frame(sample("a03_inpatient_discharge.hl7", cast.mine.external_id)))
        answer = read_ack(sock)
        assert str(answer.segment("MSA")(1)) == "AA"
        assert str(answer.segment("MSA")(2)) == "MSG-A03-0001"
        # The same connection takes the next message, and a resend changes nothing.
        sock.sendall(frame(sample("a03_inpatient_discharge.hl7", cast.mine.external_id)))
        again = read_ack(sock)
        assert (str(again.segment("MSA")(1)), str(again.segment("MSA")(3))) == ("AA", "Already received.")
    assert ClinicalAppointment.objects.filter(client=cast.mine).count() == 1
    assert AdtMessage.objects.get().status == AdtStatus.ACCEPTED


@pytest.mark.django_db(transaction=True)
def test_malformed_and_truncated_input_is_answered_or_dropped_and_the_listener_keeps_serving(cast):
    with serving_in_thread(cast.program) as port:
        with connected(port) as sock:  # a frame that holds no HL7: answered AR
            sock.sendall(frame("this is not an HL7 message"))
            assert str(read_ack(sock).segment("MSA")(1)) == "AR"
        with connected(port) as sock:  # bytes outside a frame: the connection is closed, nothing stored
            sock.sendall(b"MSH|^~\\&|no start block" + END)
            assert sock.recv(100) == b""
        with connected(port) as sock:  # half a frame, then the sender goes away
            sock.sendall(frame(sample("a03_inpatient_discharge.hl7", cast.mine.external_id))[:120])
        with connected(port) as sock:  # still serving
            sock.sendall(frame(sample("a03_minimal.hl7", cast.mine.external_id)))
            assert str(read_ack(sock).segment("MSA")(1)) == "AA"
    assert list(AdtMessage.objects.order_by("id").values_list("status", flat=True)) == [
        AdtStatus.REJECTED,
        AdtStatus.ACCEPTED,
    ]
    assert ClinicalAppointment.objects.count() == 1


# --- a real listener process, killed -----------------------------------------------------------

pg_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a second process needs a database it can share (SQLite runs in memory)"
)


def start_listener(slug: str) -> tuple[subprocess.Popen, int]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "manage.py", "adt_listener", "--program", slug, "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # "ADT listener for <slug> on 127.0.0.1:<port> (MLLP)"
    assert "ADT listener" in line, line
    return process, int(line.rsplit(":", 1)[1].split()[0])


@pg_only
@pytest.mark.django_db(transaction=True)
def test_a_listener_killed_mid_frame_stores_nothing_and_the_resent_message_is_taken_once(cast):
    message = frame(sample("a03_inpatient_discharge.hl7", cast.mine.external_id))
    process, port = start_listener(cast.program.slug)
    try:
        with connected(port) as sock:
            sock.sendall(message[: len(message) // 2])
            time.sleep(0.3)  # the half frame is in the listener's buffer
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=20)
            assert sock.recv(100) == b""  # no acknowledgment: the sender must send again
    finally:
        if process.poll() is None:
            process.kill()
    assert not AdtMessage.objects.exists()
    assert not ClinicalAppointment.objects.exists()

    process, port = start_listener(cast.program.slug)
    try:
        for expected in ("Accepted.", "Already received."):  # the resend, then a second resend
            with connected(port) as sock:
                sock.sendall(message)
                answer = read_ack(sock)
                assert (str(answer.segment("MSA")(1)), str(answer.segment("MSA")(3))) == ("AA", expected)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    assert AdtMessage.objects.count() == 1
    assert ClinicalAppointment.objects.filter(client=cast.mine).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_demo_sender_delivers_a_discharge_that_opens_the_supporters_follow_up_task(cast):
    """What the README tells a new user to try under make run: demo/adt/a03_discharge.hl7 sent
    with `manage.py adt_send` reaches the listener and opens the task on the supporter's home."""
    out = StringIO()
    with serving_in_thread(cast.program) as port:
        call_command(
            "adt_send",
            str(ROOT / "demo" / "adt" / "a03_discharge.hl7"),
            mrn=cast.mine.external_id,
            port=port,
            stdout=out,
        )
    assert out.getvalue().startswith("MSA|AA|DEMO-")
    task = FollowUpTask.objects.get(client=cast.mine)
    assert (task.kind, task.assignee) == (TaskKind.TRANSITION_FOLLOWUP, cast.supporter)
