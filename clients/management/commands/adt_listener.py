"""python manage.py adt_listener --program SLUG [--host 127.0.0.1] [--port 2575]

An HL7 v2 MLLP listener for one program's ADT feed (docs/interop.md). Each framed message goes
to clients.services.adt_message_receive, which stores it and records what it means in one
transaction; the acknowledgment is written only after that commit. A process killed mid-frame
has stored nothing for it (the sender gets no ACK and sends again); killed after the commit and
before the ACK, the resend is answered "Already received" and changes nothing. Run it as its
own process (systemd, a container) beside the web workers, with the same settings and database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import hl7.mllp
from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections
from django.db import connection as db_connection

from clients.adt import AdtError, ack, decode, parse_hl7
from clients.models import AdtSource
from clients.services import adt_message_receive
from core.models import Program

logger = logging.getLogger(__name__)

# Largest message taken (bytes between the MLLP frame's start and end): an ADT message is a few
# kilobytes; anything far larger is not one, and the connection is closed.
MAX_MESSAGE_BYTES = 1_000_000
# A connection silent this long (half a frame and nothing more) is closed: its sender resends.
IDLE_SECONDS = 300


def receive(program: Program, block: bytes) -> str:
    """One message in, its acknowledgment out (in a worker thread: the ORM is synchronous)."""
    close_old_connections()  # a long-lived process: drop connections the database closed
    raw = decode(block)
    outcome = adt_message_receive(program=program, raw=raw, source=AdtSource.HL7V2)
    try:
        message = parse_hl7(raw, program)[0]
    except AdtError:
        message = None
    return ack(message, outcome.code, outcome.reason, condition=outcome.condition)


async def serve(
    program: Program,
    host: str,
    port: int,
    ready: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until `stop` is set (or the task is cancelled); `ready` gets the bound port (0 asks
    the system for a free one). Messages are taken one at a time, in arrival order."""
    handle = sync_to_async(receive, thread_sensitive=True)
    connections: set[asyncio.Task[Any]] = set()

    async def on_connection(reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            connections.add(task)
        try:
            while not reader.at_eof():
                try:
                    block = await asyncio.wait_for(reader.readblock(), IDLE_SECONDS)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    break  # the peer closed or went quiet, possibly mid-message: nothing was stored for it
                except (hl7.mllp.InvalidBlockError, ValueError):
                    logger.warning("ADT listener: bytes outside an MLLP frame, or a frame too large; connection closed")
                    break
                reply = await handle(program, block)
                writer.writeblock(reply.encode("utf-8"))
                await writer.drain()
        except ConnectionError:
            pass  # the peer went away before its ACK: it will send again
        finally:
            writer.close()
            connections.discard(task)  # type: ignore[arg-type]

    server = await hl7.mllp.start_hl7_server(on_connection, host, port, limit=MAX_MESSAGE_BYTES)
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready(bound)
    try:
        async with server:
            if stop is None:
                await server.serve_forever()
            else:
                await stop.wait()
    finally:
        # A message in hand finishes (its thread commits or rolls back); idle connections close.
        for task in list(connections):
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        await sync_to_async(close_connection_here, thread_sensitive=True)()


@contextlib.contextmanager
def serving_in_thread(program: Program, host: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """The listener on its own event loop in a background thread, for tests and the benchmark:
    yields the bound port, stops (letting the message in hand finish) when the block ends."""
    loop = asyncio.new_event_loop()
    ports: queue.Queue[int] = queue.Queue()
    stop = asyncio.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve(program, host, port, ports.put, stop))

    thread = threading.Thread(target=run, name="adt-listener", daemon=True)
    thread.start()
    try:
        yield ports.get(timeout=20)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=20)
        loop.close()


def close_connection_here() -> None:
    """Close the database connection of the thread that handled the messages."""
    db_connection.close()


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
            self.stdout.write(f"ADT listener for {program.slug} on {options['host']}:{port} (MLLP)")
            self.stdout.flush()

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)  # systemd's stop: finish the message in hand
            await serve(program, options["host"], options["port"], ready, stop)

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())
