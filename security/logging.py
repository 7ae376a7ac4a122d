"""Keep people's data out of the logs.

Request lines and "Not Found: /path" messages carry query strings, where a
search for a name or a record number would otherwise be written down. The
filter removes every query string and anything shaped like an email address or
a date of birth from each record before any handler formats it."""

from __future__ import annotations

import logging
import re
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from logging import _SysExcInfoType

QUERY_STRING = re.compile(r"\?[^\s\"']*")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
DATE = re.compile(r"\b(19|20)\d\d-\d\d-\d\d\b")


def redact(text: str) -> str:
    text = QUERY_STRING.sub("?[redacted]", text)
    text = EMAIL.sub("[email]", text)
    return DATE.sub("[date]", text)


class RedactPHIFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is still logged, minus its arguments
            message = str(record.msg)
        record.msg = redact(message)
        record.args = ()
        return True


class RedactingFormatter(logging.Formatter):
    """Also redacts tracebacks. An exception's message can quote row values (an
    integrity error names the duplicate record number, a validation error the
    bad date of birth), so only its type is kept; the frames still say where."""

    def formatException(self, ei: _SysExcInfoType) -> str:  # noqa: N802 - logging's API
        exc_type, _exc, tb = ei
        frames = "".join(traceback.format_tb(tb)) if tb is not None else ""
        name = exc_type.__qualname__ if exc_type is not None else "Exception"
        return f"Traceback (most recent call last):\n{frames}{name}: [message withheld]"

    def format(self, record: logging.LogRecord) -> str:
        # Redact the message only: the line's own timestamp is not a birth date.
        RedactPHIFilter().filter(record)
        # Another handler may have cached the full traceback text on the record; format our own.
        cached, record.exc_text = record.exc_text, None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached
