"""Input limits every request passes, so that no body or query can reach the database or the
JSON decoder in a shape they fail on (a 500): NUL characters, which PostgreSQL text refuses,
and JSON nested deeper than any record of ours (the decoder recurses on it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

# Our deepest payload (a session with attendances) is 3 levels; 32 leaves room for any client.
MAX_JSON_DEPTH = 32
NUL_MESSAGE = "NUL characters are not allowed."


def _walk(value: Any, path: str, depth: int) -> Iterator[tuple[str, str]]:
    """(problem, where) for each NUL character and the first level past MAX_JSON_DEPTH."""
    if depth > MAX_JSON_DEPTH:
        yield "depth", path
        return
    if isinstance(value, str):
        if "\x00" in value:
            yield "nul", path
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                yield "nul", path or "non_field_errors"
            yield from _walk(item, path or key, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, path, depth + 1)


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, refusing NUL characters (400 naming the field) and deep nesting."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep.") from exc
        errors: dict[str, list[str]] = {}
        for problem, where in _walk(data, "", 0):
            if problem == "depth":
                raise ParseError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep.")
            errors.setdefault(where or "non_field_errors", [NUL_MESSAGE])
        if errors:
            raise ValidationError(errors)
        return data


class RejectNulMiddleware:
    """A NUL character in the path, the query string or a form field is a 400 before any view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        fields = [key for key, values in request.GET.lists() if "\x00" in key or any("\x00" in v for v in values)]
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            fields += [k for k, values in request.POST.lists() if "\x00" in k or any("\x00" in v for v in values)]
        if "\x00" in request.path:
            fields.append("path")
        if not fields:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse({field: [NUL_MESSAGE] for field in fields}, status=400)
        return HttpResponseBadRequest(NUL_MESSAGE)
