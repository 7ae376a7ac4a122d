"""The FHIR R4 API at /fhir/r4/ (issue 20 item 1; docs/interop.md): read and search of Patient,
Practitioner, Encounter and Communication, `metadata`, and an Encounter POST for hospital visits.

Every door locked the same way: the REST API's authentication classes (knox tokens with the
second-factor rule, or a session), the records' `visible_to` (404 outside), the disclosure gate
for what a clinician learns (`clients.disclosure`), the API base's audit of every read
(`base.api_base.ScopedMixin`) and its declared write roles. Answers are `application/fhir+json`;
errors are OperationOutcome resources (400, 401, 403, 404, 405, 406, 422), never a 500 page.
Searches return `Bundle` search sets, newest first, paged by an opaque `_page` key (no COUNT).
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar

from django.db import models
from django.db.models import Q
from django.http import Http404, HttpRequest, JsonResponse
from django.utils import timezone
from rest_framework import exceptions, mixins, status
from rest_framework.pagination import BasePagination
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.inspectors import ViewInspector
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from audit import actions
from audit.records import audit_record
from base.api_base import ScopedMixin
from clients.disclosure import session_disclosures
from clients.models import AdtSource, Client, ClinicalAppointment, Clinician
from clients.services import adt_message_receive
from core.dates import in_supported_range
from core.models import Program, Role
from core.parsers import SafeJSONParser
from core.scoping import role_program_ids
from sessions import fhir
from sessions.models import Attendance, FeedbackItem, PeerSession
from supporters.models import Supporter

MAX_COUNT = 200
DEFAULT_COUNT = 50
# Parameters every search takes besides its own.
COMMON_PARAMETERS = frozenset({"_count", "_page", "_lastUpdated", "_format", "_id"})
FORMATS = frozenset({"json", "application/json", "application/fhir+json"})


# --------------------------------------------------------------------------- the wire


class FhirJSONRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "fhir"


class PlainJSONRenderer(JSONRenderer):
    """A client asking for application/json gets the same FHIR JSON under that type."""


class FhirJSONParser(SafeJSONParser):
    media_type = "application/fhir+json"


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics[:500]}],
    }


ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
}


def _describe(detail: Any) -> str:
    """DRF's error detail (a string, a list or field messages) as one line of diagnostics."""
    if isinstance(detail, dict):
        return "; ".join(f"{field}: {_describe(value)}" for field, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_describe(value) for value in detail)
    return str(detail)


class FhirErrorsMixin:
    """Every error of a FHIR view is an OperationOutcome (DRF's own handler decides the status)."""

    # Described by its CapabilityStatement (metadata), not by the REST API's OpenAPI schema.
    schema: ViewInspector | None = None
    renderer_classes: Sequence[type[BaseRenderer]] = [FhirJSONRenderer, PlainJSONRenderer]
    parser_classes: Sequence[type[BaseParser]] = [FhirJSONParser, SafeJSONParser]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, exceptions.NotAcceptable):
            self.request.accepted_renderer = FhirJSONRenderer()  # type: ignore[attr-defined]
            self.request.accepted_media_type = FhirJSONRenderer.media_type  # type: ignore[attr-defined]
        response = super().handle_exception(exc)  # type: ignore[misc]
        code = ISSUE_CODES.get(response.status_code, "processing")
        response.data = operation_outcome(code, _describe(response.data))
        return response


# --------------------------------------------------------------------------- search parameters


class SearchError(exceptions.ParseError):
    pass


DATE_RE = re.compile(
    r"(?P<prefix>eq|gt|lt|ge|le|sa|eb)?(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2})"
    r"(?P<rest>T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?"
)


def date_q(field: str, value: str, parameter: str) -> Q:
    """A FHIR date search value (`ge2026-01-01`, `lt2026-02`, `2026-01-05T10:00:00Z`) as a Q on a
    date-time field: its precision makes it a range [start, end), which the prefix compares to.
    A date without a zone is in the request's zone (the program's)."""
    match = DATE_RE.fullmatch(value)
    if match is None:
        raise SearchError(f"{parameter}: {value[:40]!r} is not a FHIR date (e.g. ge2026-01-01).")
    prefix = match["prefix"] or "eq"
    try:
        if match["rest"]:
            start = datetime.fromisoformat(value[len(match["prefix"] or "") :].replace("Z", "+00:00"))
            if start.tzinfo is None:
                start = timezone.make_aware(start)
            end = start + timedelta(seconds=1)
        else:
            year, month, day = int(match["year"]), int(match["month"] or 1), int(match["day"] or 1)
            first = date(year, month, day)
            if match["day"]:
                after = first + timedelta(days=1)
            elif match["month"]:
                after = date(year + (month == 12), month % 12 + 1, 1)
            else:
                after = date(year + 1, 1, 1)
            zone = timezone.get_current_timezone()
            start = datetime.combine(first, time(), tzinfo=zone)
            end = datetime.combine(after, time(), tzinfo=zone)
    except ValueError as exc:
        raise SearchError(f"{parameter}: {value[:40]!r} is not a date that exists.") from exc
    if not (in_supported_range(start) and in_supported_range(end - timedelta(microseconds=1))):
        raise SearchError(f"{parameter}: give a date between 1900 and 2199.")
    return {
        "eq": Q(**{f"{field}__gte": start, f"{field}__lt": end}),
        "gt": Q(**{f"{field}__gte": end}),
        "sa": Q(**{f"{field}__gte": end}),
        "ge": Q(**{f"{field}__gte": start}),
        "lt": Q(**{f"{field}__lt": start}),
        "eb": Q(**{f"{field}__lt": start}),
        "le": Q(**{f"{field}__lt": end}),
    }[prefix]


def reference_id(value: str, resource_type: str, parameter: str) -> int:
    """`Patient/12` or `12` as 12; anything else is a 400."""
    local = value.removeprefix(f"{resource_type}/")
    if not local.isdigit() or len(local) > 18:
        raise SearchError(f"{parameter}: give a {resource_type} id or {resource_type}/<id>.")
    return int(local)


def token(value: str) -> tuple[str | None, str]:
    """A token search value `system|code`, `|code` or `code` as (system or None, code)."""
    if "|" in value:
        system, code = value.split("|", 1)
        return system, code
    return None, value


# --------------------------------------------------------------------------- paging


class BundlePagination(BasePagination):
    """Newest first by id, `_count` per page (at most 200), the next page after the last id seen
    (`_page`): no COUNT, stable under inserts. The page is a Bundle of type searchset."""

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any]:
        self.request = request
        self.count = bounded_int(request.query_params.get("_count"), "_count", DEFAULT_COUNT, 1, MAX_COUNT)
        after = request.query_params.get("_page")
        if after is not None:
            queryset = queryset.filter(pk__lt=bounded_int(after, "_page", 0, 1, 2**63 - 1))
        rows = list(queryset.order_by("-pk")[: self.count + 1])
        self.has_next = len(rows) > self.count
        return rows[: self.count]

    def get_paginated_response(self, data: Any) -> Response:
        return Response(bundle(self.request, data["resources"], next_after=data["last_id"] if self.has_next else None))


def bounded_int(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 19 or not low <= int(raw) <= high:
        raise SearchError(f"{name}: give a whole number from {low} to {high}.")
    return int(raw)


def bundle(request: Any, resources: list[dict[str, Any]], *, next_after: int | str | None) -> dict[str, Any]:
    base = request.build_absolute_uri(request.path)
    root = request.build_absolute_uri("/fhir/r4/")
    params = request.query_params.copy()
    params.pop("_page", None)
    links = [{"relation": "self", "url": f"{base}?{request.query_params.urlencode()}".rstrip("?")}]
    if next_after is not None:
        params["_page"] = str(next_after)
        links.append({"relation": "next", "url": f"{base}?{params.urlencode()}"})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [
            {"fullUrl": f"{root}{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }


# --------------------------------------------------------------------------- resources


class FhirResourceViewSet(
    FhirErrorsMixin, ScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet
):
    """One FHIR resource type over one model: read by id, search, both audited by the API base."""

    pagination_class = BundlePagination
    filter_backends = ()
    lookup_value_regex = "[0-9]+"
    # name -> (what it filters); `_id` and `_lastUpdated` are common to every resource.
    search_parameters: ClassVar[dict[str, str]] = {}

    def to_resource(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def search(self, queryset: models.QuerySet, name: str, value: str) -> models.QuerySet:
        raise NotImplementedError

    def filter_queryset(self, queryset: models.QuerySet) -> models.QuerySet:
        params = self.request.query_params
        unknown = sorted(set(params) - COMMON_PARAMETERS - set(self.search_parameters))
        if unknown:
            raise SearchError(f"Unknown search parameter: {', '.join(unknown)[:100]}.")
        if params.get("_format", "json") not in FORMATS:
            raise exceptions.NotAcceptable("Only JSON (_format=json) is served.")
        for value in params.getlist("_lastUpdated"):
            queryset = queryset.filter(date_q("updated_at", value, "_lastUpdated"))
        if "_id" in params:
            queryset = queryset.filter(pk=bounded_int(params["_id"], "_id", 0, 1, 2**63 - 1))
        for name in self.search_parameters:
            for value in params.getlist(name):
                queryset = self.search(queryset, name, value)
        return queryset

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.to_resource(self.get_object()))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None
        return self.get_paginated_response(
            {"resources": self.resources(page), "last_id": page[-1].pk if page else None}
        )

    def resources(self, page: Sequence[Any]) -> builtins.list[dict[str, Any]]:
        return [self.to_resource(obj) for obj in page]


class PatientViewSet(FhirResourceViewSet):
    """Clients (Client.visible_to: coordinators, supporters' caseloads, care-team clinicians)."""

    model = Client
    search_parameters = {"identifier": "the record number, system|value"}

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().select_related("program")

    def search(self, queryset: models.QuerySet, name: str, value: str) -> models.QuerySet:
        system, code = token(value)
        queryset = queryset.filter(external_id=code)
        if system is not None:
            ids = [
                p.id
                for p in Program.objects.filter(id__in=role_program_ids(self.request.user).any())
                if p.record_number_system == system
            ]
            queryset = queryset.filter(program_id__in=ids)
        return queryset

    def to_resource(self, obj: Client) -> dict[str, Any]:
        return fhir.patient_json(obj)


class CommunicationViewSet(FhirResourceViewSet):
    """Bridging feedback (FeedbackItem.visible_to: a clinician reads what was addressed to them)."""

    model = FeedbackItem
    search_parameters = {"patient": "Patient/<id>", "subject": "Patient/<id>", "sent": "date"}

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().select_related("program", "client", "author").prefetch_related("recipients")

    def search(self, queryset: models.QuerySet, name: str, value: str) -> models.QuerySet:
        if name == "sent":
            return queryset.filter(date_q("created_at", value, name))
        return queryset.filter(client_id=reference_id(value, "Patient", name))

    def to_resource(self, obj: FeedbackItem) -> dict[str, Any]:
        return fhir.communication_json(obj)


class EncounterViewSet(FhirResourceViewSet):
    """Peer sessions (PeerSession.visible_to and the disclosure gate, which records what it lets a
    clinician learn); `Encounter/visit-<id>` reads a hospital visit recorded from ADT or FHIR.
    POST records a hospital discharge or emergency visit (coordinators of the patient's program)."""

    model = PeerSession
    search_parameters = {"patient": "Patient/<id>", "subject": "Patient/<id>", "date": "date"}
    lookup_value_regex = "(?:visit-)?[0-9]+"
    write_roles = {"create": {Role.COORDINATOR}}

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().select_related("program", "supporter").prefetch_related("attendances__client")

    def search(self, queryset: models.QuerySet, name: str, value: str) -> models.QuerySet:
        if name == "date":
            return queryset.filter(date_q("start", value, name))
        # Sessions the patient attended, as far as the caller may know it: a clinician only
        # learns of an attendance that passes the gate (Attendance.visible_to).
        client_id = reference_id(value, "Patient", name)
        attended = Attendance.objects.visible_to(self.request.user).filter(client_id=client_id)
        return queryset.filter(id__in=attended.values("session_id"))

    def resources(self, page: Sequence[PeerSession]) -> builtins.list[dict[str, Any]]:
        seen = session_disclosures(self.request.user, page)
        return [fhir.encounter_json(session, seen=seen[session.pk]) for session in page]

    def to_resource(self, obj: PeerSession) -> dict[str, Any]:
        return self.resources([obj])[0]

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if str(kwargs.get("pk", "")).startswith("visit-"):
            visit = (
                ClinicalAppointment.objects.visible_to(request.user)
                .select_related("program", "client")
                .filter(pk=int(kwargs["pk"].removeprefix("visit-")), external_id__startswith="visit:")
                .first()
            )
            if visit is None:
                raise Http404
            self._visit = visit  # recorded as the appointment it is (audit_read)
            return Response(fhir.visit_encounter_json(visit))
        return super().retrieve(request, *args, **kwargs)

    _visit: ClinicalAppointment | None = None

    def audit_read(self, request: Any) -> None:
        if self._visit is not None:
            audit_record(action=actions.code_for(ClinicalAppointment, actions.VIEWED), request=request, obj=self._visit)
            return
        super().audit_read(request)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A hospital visit: stored and recorded through the ADT service (clients.services), so
        FHIR and HL7 v2 are one door inside. The subject is `Patient/<id>` or the record number
        under a program's identifier system; unknown record numbers are held for review (202)."""
        body = request.data
        if not isinstance(body, dict) or body.get("resourceType") != "Encounter":
            raise exceptions.ValidationError({"resourceType": ["Send an Encounter."]})
        program, record_number = self._subject(body.get("subject"))
        self.check_data_permissions({"program": program})
        outcome = adt_message_receive(
            program=program, raw=json.dumps(body), source=AdtSource.FHIR, record_number=record_number
        )
        if outcome.code != "AA" or outcome.message is None:
            http = status.HTTP_422_UNPROCESSABLE_ENTITY if outcome.code == "AE" else status.HTTP_503_SERVICE_UNAVAILABLE
            return Response(
                operation_outcome("processing" if outcome.code == "AE" else "transient", outcome.reason), status=http
            )
        appointment = outcome.message.appointment
        if appointment is None:
            # Held, or nothing to record (an admission): received, as the OperationOutcome says.
            answer = status.HTTP_202_ACCEPTED if outcome.message.status == "held" else status.HTTP_200_OK
            return Response(operation_outcome("informational", outcome.reason, severity="information"), status=answer)
        appointment = ClinicalAppointment.objects.select_related("program", "client").get(pk=appointment.pk)
        resource = fhir.visit_encounter_json(appointment)
        return Response(
            resource,
            status=status.HTTP_200_OK if outcome.duplicate else status.HTTP_201_CREATED,
            headers={"Location": request.build_absolute_uri(f"/fhir/r4/Encounter/{resource['id']}")},
        )

    def _subject(self, subject: Any) -> tuple[Program, str]:
        """The program and record number the Encounter is about, among the programs the caller
        coordinates: `Patient/<id>` of a client they see, or a record-number identifier."""
        if not isinstance(subject, dict):
            raise exceptions.ValidationError({"subject": ["Name the patient: Patient/<id> or an identifier."]})
        coordinated = role_program_ids(self.request.user).coordinator
        if isinstance(subject.get("reference"), str):
            client_id = reference_id(subject["reference"], "Patient", "subject")
            client = Client.objects.visible_to(self.request.user).select_related("program").filter(pk=client_id).first()
            if client is None:
                raise Http404
            return client.program, client.external_id
        identifier = subject.get("identifier")
        if not isinstance(identifier, dict) or not identifier.get("system") or not identifier.get("value"):
            raise exceptions.ValidationError(
                {"subject": ["Give subject.reference or subject.identifier (system and value)."]}
            )
        programs = [
            p for p in Program.objects.filter(id__in=coordinated) if p.record_number_system == identifier["system"]
        ]
        if len(programs) != 1:
            raise exceptions.ValidationError(
                {"subject": ["No program of yours issues record numbers under that system."]}
            )
        return programs[0], str(identifier["value"])[:64]


class PractitionerViewSet(FhirErrorsMixin, GenericViewSet):
    """Supporters (`supporter-<id>`) and clinicians (`clinician-<id>`), each through its own
    visible_to; a search pages through supporters, then clinicians. Audited as their records."""

    pagination_class = None
    lookup_value_regex = "(?:supporter|clinician)-[0-9]+"
    search_parameters = frozenset({"identifier", "name"})
    kinds: ClassVar[dict[str, type[Supporter] | type[Clinician]]] = {"supporter": Supporter, "clinician": Clinician}

    def _people(self, model: type[Supporter] | type[Clinician]) -> models.QuerySet:
        return model.objects.visible_to(self.request.user).select_related("program")

    def retrieve(self, request: Request, pk: str = "") -> Response:
        kind, number = pk.split("-", 1)
        model = self.kinds[kind]
        person = self._people(model).filter(pk=int(number)).first()
        if person is None:
            raise Http404
        audit_record(action=actions.code_for(model, actions.VIEWED), request=request, obj=person)
        return Response(fhir.practitioner_json(person))

    def list(self, request: Request) -> Response:
        params = request.query_params
        unknown = sorted(set(params) - COMMON_PARAMETERS - self.search_parameters - {"_id"})
        if unknown:
            raise SearchError(f"Unknown search parameter: {', '.join(unknown)[:100]}.")
        count = bounded_int(params.get("_count"), "_count", DEFAULT_COUNT, 1, MAX_COUNT)
        after = params.get("_page", "")
        if after and not re.fullmatch(r"(supporter|clinician)-[0-9]{1,18}", after):
            raise SearchError("_page: not a page of this search.")
        found: list[Supporter | Clinician] = []
        for kind, model in self.kinds.items():
            if after.startswith("clinician") and kind == "supporter":
                continue
            people = self._people(model)
            for value in params.getlist("_lastUpdated"):
                people = people.filter(date_q("updated_at", value, "_lastUpdated"))
            for value in params.getlist("identifier"):
                system, code = token(value)
                if system == fhir.NPI_SYSTEM or system is None and re.fullmatch(r"[0-9]{10}", code):
                    people = people.filter(npi=code)
                else:
                    people = people.filter(external_id=code)
            for value in params.getlist("name"):
                people = people.filter(Q(first_name__icontains=value) | Q(last_name__icontains=value))
            if after.startswith(kind):
                people = people.filter(pk__lt=int(after.split("-", 1)[1]))
            found += list(people.order_by("-pk")[: count + 1 - len(found)])
            if len(found) > count:
                break
        page, more = found[:count], len(found) > count
        for model in self.kinds.values():
            shown = [p for p in page if isinstance(p, model)]
            if shown:
                audit_record(action=actions.code_for(model, actions.LISTED), request=request, objects=shown)
        resources = [fhir.practitioner_json(p) for p in page]
        return Response(bundle(request, resources, next_after=fhir.practitioner_id(page[-1]) if more else None))


class CapabilityStatementView(FhirErrorsMixin, APIView):
    """GET /fhir/r4/metadata: what this server does. No records, so no sign-in needed."""

    permission_classes = [AllowAny]
    authentication_classes = ()

    def get(self, request: Request) -> Response:
        def resource(kind: str, params: dict[str, str], create: bool = False) -> dict[str, Any]:
            interactions = [{"code": "read"}, {"code": "search-type"}] + ([{"code": "create"}] if create else [])
            return {
                "type": kind,
                "interaction": interactions,
                "searchParam": [
                    {"name": "_id", "type": "token"},
                    {"name": "_lastUpdated", "type": "date"},
                    *({"name": name, "type": kind_of} for name, kind_of in params.items()),
                ],
            }

        return Response(
            {
                "resourceType": "CapabilityStatement",
                "status": "active",
                "date": timezone.now().date().isoformat(),
                "publisher": "Peer Support Program Manager",
                "kind": "instance",
                "implementation": {
                    "description": "Peer support records of the clinic's programs",
                    "url": request.build_absolute_uri("/fhir/r4/"),
                },
                "fhirVersion": fhir.FHIR_VERSION,
                "format": ["application/fhir+json", "json"],
                "rest": [
                    {
                        "mode": "server",
                        "security": {
                            "description": "Bearer token from POST /api/v1/auth/token/ (knox; the second "
                            "factor for coordinators and clinicians), as for the REST API."
                        },
                        "resource": [
                            resource("Patient", {"identifier": "token"}),
                            resource("Practitioner", {"identifier": "token", "name": "string"}),
                            resource(
                                "Encounter",
                                {"patient": "reference", "subject": "reference", "date": "date"},
                                create=True,
                            ),
                            resource("Communication", {"patient": "reference", "subject": "reference", "sent": "date"}),
                        ],
                    }
                ],
            }
        )


def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Anything else under /fhir/r4/: an OperationOutcome, not the site's 404 page."""
    return JsonResponse(
        operation_outcome("not-found", "No such FHIR resource type or interaction here."),
        status=404,
        content_type="application/fhir+json",
    )
