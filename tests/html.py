"""Checks on rendered HTML shared by the page tests."""

from __future__ import annotations

import re

# A <script> without src= runs inline, which the CSP forbids; JSON data blocks
# (type="application/json") never run and are allowed.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)


def inline_script(html: str) -> str | None:
    """The first inline <script> tag in the page, or None."""
    match = INLINE_SCRIPT.search(html)
    return match.group(0) if match else None
