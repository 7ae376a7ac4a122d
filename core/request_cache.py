"""A per-request memo for lookups every scoped queryset repeats (the caller's roles).

An API call asks `role_program_ids(user)` three to six times (the viewset's
`visible_to`, the write check, every scoped reference, the audit event). The
memo lives in a context variable that `RequestCacheMiddleware` opens empty at
the start of each request and discards at its end, so:

- nothing is remembered between requests: a role granted or revoked takes
  effect on the caller's next request (tests reuse one user object across
  requests, which is why the memo is not kept on the user);
- outside a request (management commands, Celery tasks, tests calling a
  queryset directly) there is no memo and every call reads the database;
- a role change made during the request (membership services) clears it.

The same scope also holds the request itself (`current_request()`), so a service that records
an audit event knows who acted and from where without every caller passing the request: the
actor context that django-auditlog keeps for the same reason. DRF authenticates tokens inside
the view and sets the user on this same HttpRequest, so token users are seen too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse

T = TypeVar("T")

_memo: ContextVar[dict[Any, Any] | None] = ContextVar("pps_request_memo", default=None)
_request: ContextVar[HttpRequest | None] = ContextVar("pps_current_request", default=None)


def current_request() -> HttpRequest | None:
    """The request being answered on this thread, or None (commands, tasks, tests)."""
    return _request.get()


def memoised(key: Any, compute: Callable[[], T]) -> T:
    """`compute()` once per request for `key`; every time outside a request."""
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def forget() -> None:
    """Drop what this request remembered (after a write that changes it)."""
    memo = _memo.get()
    if memo is not None:
        memo.clear()


@contextmanager
def request_scope(request: HttpRequest | None = None) -> Iterator[None]:
    token = _memo.set({})
    request_token = _request.set(request)
    try:
        yield
    finally:
        _request.reset(request_token)
        _memo.reset(token)


class RequestCacheMiddleware:
    """Opens the memo for one request and closes it when the response leaves."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_scope(request):
            return self.get_response(request)
