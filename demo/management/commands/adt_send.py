"""python manage.py adt_send FILE --mrn RECORD_NUMBER [--host 127.0.0.1] [--port 2575]

Send one HL7 v2 message over MLLP, as a hospital's interface engine would, and print the
acknowledgment. For trying the ADT listener (`make run` starts one for the demo program;
docs/interop.md). The file may hold placeholders: {mrn} (the record number given), {now} (this
moment as an HL7 time), {admitted} (five days ago), {control_id} and {visit} (new unique ids)."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from hl7.client import MLLPClient


def hl7_time(moment: Any) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


class Command(BaseCommand):
    help = "Send an HL7 v2 message file over MLLP and print the acknowledgment."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--mrn", required=True, help="the client's record number, for {mrn}")
        parser.add_argument("--host", default=os.environ.get("ADT_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("ADT_PORT", "2575")))

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"file: {path} is not a file.")
        now = timezone.now()
        token = secrets.token_hex(4).upper()
        text = path.read_text().format(
            mrn=options["mrn"],
            now=hl7_time(now),
            admitted=hl7_time(now - timedelta(days=5)),
            control_id=f"DEMO-{token}",
            visit=f"V-{token}",
        )
        message = "\r".join(line for line in text.splitlines() if line)
        try:
            with MLLPClient(options["host"], options["port"]) as client:
                ack = client.send_message(message)
        except OSError as exc:
            raise CommandError(f"No ADT listener at {options['host']}:{options['port']} ({exc}).") from exc
        reply = ack.decode("utf-8", errors="replace") if isinstance(ack, bytes) else str(ack)
        for segment in reply.strip("\x0b\x1c\r\n").split("\r"):
            if segment.startswith(("MSA", "ERR")):
                self.stdout.write(segment)
