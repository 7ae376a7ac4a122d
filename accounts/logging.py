"""Keep people's data out of the logs.

Request lines and "Not Found: /path" messages carry query strings, where a
search for a name or a record number would otherwise be written down. The
filter removes every query string and anything shaped like an email address or
a date of birth from each record before any handler formats it."""

from __future__ import annotations

import logging
import re

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
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class RedactingFormatter(logging.Formatter):
    """Also redacts tracebacks: an exception message can quote row values."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
