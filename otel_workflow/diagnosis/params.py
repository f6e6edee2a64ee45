"""Message parameterisation: replace the variable parts of an error message with
placeholders so ``order 1234 not found`` and ``order 98 not found`` share one template.

The order is Sentry's (each pattern runs on what the earlier ones left): email, URL,
host name, IPv4/IPv6, UUID, SHA-1, MD5, dates (RFC 822/850/3339 and ISO forms), times,
durations, ``0x`` hex, floats, integers; finally quoted values after ``=``.  Placeholders
are ``<email>``, ``<url>``, ... so a template stays readable.
"""

from __future__ import annotations

import re
from typing import Final

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"

PATTERNS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("url", re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")),
    ("hostname", re.compile(
        r"\b(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+"
        r"(?:com|net|org|io|dev|local|internal|cloud|app|co|uk|de|fr|eu|us|svc|cluster)\b")),
    ("ip", re.compile(
        r"(?<![\w:.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w.])"
        # IPv6: eight groups, or a "::" abbreviation (so times like 12:30:00 stay times)
        r"|(?<![\w:])(?:(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}"
        r"|(?:[0-9a-fA-F]{1,4}:){1,7}:(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,6})?"
        r"|::[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,6})(?![\w:])")),
    ("uuid", re.compile(
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")),
    ("sha1", re.compile(r"\b[0-9a-fA-F]{40}\b")),
    ("md5", re.compile(r"\b[0-9a-fA-F]{32}\b")),
    ("date", re.compile(
        # RFC 822/2822 and RFC 850
        rf"\b(?:{_DAY},?\s+)?\d{{1,2}}[ -]{_MONTH}[ -]\d{{2,4}}(?:\s+\d{{2}}:\d{{2}}(?::\d{{2}})?"
        r"(?:\s*(?:[+-]\d{4}|[A-Z]{2,4}))?)?"
        # RFC 3339 / ISO 8601 with optional time, fraction and zone
        r"|\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
        # C asctime: Mon Jan  2 15:04:05 2006
        rf"|\b{_DAY}\s+{_MONTH}\s+\d{{1,2}}\s+\d{{2}}:\d{{2}}:\d{{2}}\s+\d{{4}}\b")),
    ("time", re.compile(r"\b\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?[AaPp][Mm])?\b")),
    ("duration", re.compile(
        r"\b\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hrs?|"
        r"hours?|d|days?)\b")),
    ("hex", re.compile(r"\b0[xX][0-9a-fA-F]+\b")),
    ("float", re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?:[eE][-+]?\d+)?(?![\w.])")),
    ("int", re.compile(r"(?<![\w.])[-+]?\d+(?![\w.])")),
    ("quoted", re.compile(r"""(?<==)(?:'[^']*'|"[^"]*")""")),
)
"""``(placeholder name, pattern)`` in the order applied."""

MAX_MESSAGE = 4096
"""Longer messages are cut before parameterising (the template is for grouping, not reading)."""


def parameterize(message: str) -> str:
    """``message`` with its variable parts replaced by ``<name>`` placeholders.

    >>> parameterize("order 1234 for ada@example.com timed out after 2.5s")
    'order <int> for <email> timed out after <duration>'
    """
    text = message[:MAX_MESSAGE]
    for name, pattern in PATTERNS:
        text = pattern.sub(f"<{name}>", text)
    return text
