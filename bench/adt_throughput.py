"""Messages per second through the ADT listener (issue 20): a real MLLP listener on loopback
(clients/management/commands/adt_listener.serve, in this process), one sender connection that
waits for each ACK, N discharges with distinct control ids for one client, each stored, recorded
as a transition event and audited before its ACK.

    DATABASE_URL=postgres://... python bench/adt_throughput.py --messages 500
    DATABASE_URL=sqlite:////tmp/adt.sqlite3 python bench/adt_throughput.py --messages 500

The database must be migrated; the script makes its own program (slug adt-bench-<n>).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from base.services import program_create  # noqa: E402
from clients.management.commands.adt_listener import serving_in_thread  # noqa: E402
from clients.models import AdtMessage, Client, ClinicalAppointment  # noqa: E402

END = b"\x1c\r"


def message(n: int, mrn: str, at: datetime) -> bytes:
    stamp = at.strftime("%Y%m%d%H%M%S+0000")
    text = "\r".join(
        [
            f"MSH|^~\\&|HIS|GENHOSP|PEER-SUPPORT|CLINIC|{stamp}||ADT^A03^ADT_A03|BENCH-{n}|P|2.5.1",
            f"EVN|A03|{stamp}",
            f"PID|1||{mrn}^^^CLINIC^MR||Doe^Jordan||19800517|F",
            "PV1|1|I|4W^412^B||||||||||||||||" + f"V-{n}" + "|" * 26 + stamp,
        ]
    )
    return b"\x0b" + text.encode() + END


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args()
    slug = f"adt-bench-{int(time.time())}"
    program = program_create(slug=slug, name="ADT bench", timezone="America/New_York")
    client = Client.objects.create(
        program=program, external_id="BENCH-1", first_name="B", last_name="Ench", date_of_birth="1980-05-17"
    )
    base = datetime.now(UTC) - timedelta(days=30)
    frames = [message(n, client.external_id, base + timedelta(minutes=n)) for n in range(args.messages)]
    with serving_in_thread(program) as port:
        sock = socket.create_connection(("127.0.0.1", port))
        started = time.perf_counter()
        for frame in frames:
            sock.sendall(frame)
            data = b""
            while not data.endswith(END):
                data += sock.recv(4096)
            assert b"MSA|AA|" in data, data[:200]
        elapsed = time.perf_counter() - started
        sock.close()
    stored = AdtMessage.objects.filter(program=program).count()
    recorded = ClinicalAppointment.objects.filter(program=program).count()
    print(
        f"{connection.vendor}: {args.messages} messages in {elapsed:.2f} s = {args.messages / elapsed:.0f} messages/s "
        f"(stored {stored}, transition events {recorded}; one connection, ACK awaited each time)"
    )


if __name__ == "__main__":
    main()
