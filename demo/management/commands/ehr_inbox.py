"""python manage.py ehr_inbox [--program riverside-peer] [--port 8090]

The demo's EHR: a FHIR server on loopback that receives the program's bridging feedback as
Communications (demo/fhir_inbox.py), checks each with the FHIR R4 model and prints one line per
item received — its identifier, never its text. `make run` starts it and `seed_demo
--ehr-inbox-port` points the demo program's EHR endpoint at it (docs/interop.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.fhir_inbox import FhirInbox, fhir_inbox_server
from sessions.models import FhirEndpoint


class Command(BaseCommand):
    help = "Run the demo EHR's FHIR inbox on loopback and print each Communication it receives."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--program", default="riverside-peer", help="the program whose endpoint it serves")
        parser.add_argument("--port", type=int, default=8090)

    def handle(self, *args: Any, program: str, port: int, **options: Any) -> None:
        endpoint = FhirEndpoint.objects.filter(program__slug=program).first()
        if endpoint is None or not endpoint.bearer_token:
            raise CommandError(
                f"{program} has no EHR endpoint with a bearer token (seed_demo --ehr-inbox-port sets one)."
            )

        def received(resource: dict[str, Any]) -> None:
            identifier = resource["identifier"][0]
            self.stdout.write(
                f"EHR inbox: Communication/{resource['id']} received, valid FHIR R4 "
                f"({identifier['system']}|{identifier['value']})"
            )
            self.stdout.flush()

        state = FhirInbox(token=endpoint.bearer_token, on_stored=received)
        httpd = fhir_inbox_server(state, port=port)
        self.stdout.write(f"EHR inbox for {program}: {state.url} (Communication)")
        self.stdout.flush()
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            httpd.server_close()
