"""python manage.py adt_listener --program SLUG [--host 127.0.0.1] [--port 2575]

An HL7 v2 MLLP listener for one program's ADT feed (docs/adt.md). Each framed message goes to
clients.adt.adt_receive, which stores and applies it in one transaction; the acknowledgment
is sent only after that commit. Run it as its own process (systemd, a container) next to the
web workers; it needs the same settings and database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any

import hl7.mllp
from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from clients.adt import adt_receive
from core.models import Program

logger = logging.getLogger(__name__)

# Largest message taken (bytes between the MLLP frame's start and end): an ADT message is a
# few kilobytes; anything far larger is not one.
MAX_MESSAGE_BYTES = 1_000_000


def _receive(program: Program, raw: str) -> str:
    close_old_connections()
    return adt_receive(program=program, raw=raw).ack


async def serve(program: Program, host: str, port: int, ready: Callable[[int], None] | None = None) -> None:
    """Serve until cancelled; `ready` gets the bound port (0 asks the system for a free one)."""
    receive = sync_to_async(_receive, thread_sensitive=True)

    async def on_connection(reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter) -> None:
        try:
            while not reader.at_eof():
                try:
                    block = await reader.readblock()
                except asyncio.IncompleteReadError:
                    break  # the peer closed, possibly mid-message: nothing was stored for it
                except (hl7.mllp.InvalidBlockError, ValueError):
                    logger.warning("ADT listener: a block without MLLP framing or too large; connection closed")
                    break
                ack = await receive(program, block.decode("utf-8", errors="replace"))
                writer.writeblock(ack.encode("utf-8"))
                await writer.drain()
        finally:
            writer.close()

    server = await hl7.mllp.start_hl7_server(on_connection, host, port, limit=MAX_MESSAGE_BYTES)
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready(bound)
    async with server:
        await server.serve_forever()


class Command(BaseCommand):
    help = "Listen for HL7 v2 ADT messages over MLLP for one program."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--program", required=True, help="program slug")
        parser.add_argument("--host", default=os.environ.get("ADT_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("ADT_PORT", "2575")))

    def handle(self, *args: Any, **options: Any) -> None:
        program = Program.objects.filter(slug=options["program"]).first()
        if program is None:
            raise CommandError(f"program: no program with slug {options['program']!r}.")

        def ready(port: int) -> None:
            self.stdout.write(f"ADT listener for {program.slug} on {options['host']}:{port}")
            self.stdout.flush()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(program, options["host"], options["port"], ready))
