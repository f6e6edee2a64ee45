"""The one capture function: bounded, secret-scrubbing, never raising.

Span attributes (opt-in argument/return capture), and later execution traces, snapshots,
breakpoint conditions and error context all turn live Python values into data through
:func:`capture`.  It walks a value into JSON-compatible data, stopping at limits on string
length, depth, items per container and total size, replacing the values of secret-looking
keys with ``"[REDACTED]"``, and reports whether anything was cut.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

REDACTED = "[REDACTED]"
TRUNCATED_MARK = "…"

# Matched anywhere inside a key, case-insensitively: ``db_password``, ``X-Api-Key``,
# ``refresh_token``, ``sessionid`` all match.
DEFAULT_SECRET_PATTERN = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[-_ ]?key|authori[sz]ation|(?<![a-z])auth(?![a-z])|"
    r"cookie|credential|"
    r"private[-_ ]?key|session|signature|\bdsn\b",
    re.IGNORECASE,
)

# Secrets embedded in string values (URLs with credentials, bearer tokens).
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", re.I)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[a-z0-9._~+/=-]{8,}")


@dataclass(frozen=True)
class CaptureLimits:
    """Bounds for one captured value."""

    max_string: int = 512
    max_depth: int = 4
    max_items: int = 32
    max_total: int = 4096
    secret_pattern: re.Pattern[str] = field(default=DEFAULT_SECRET_PATTERN)

    def __post_init__(self) -> None:
        for name in ("max_string", "max_depth", "max_items", "max_total"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"CaptureLimits.{name} must be a positive int, got {value!r}")


DEFAULT_LIMITS = CaptureLimits()


@dataclass
class Captured:
    """The result of :func:`capture`: JSON-compatible ``data`` and whether it was cut."""

    data: Any
    truncated: bool

    def to_json(self) -> str:
        """Compact JSON text (always valid JSON, bounded by the limits)."""
        return json.dumps(self.data, ensure_ascii=False, separators=(",", ":"), default=str)


class _Walker:
    def __init__(self, limits: CaptureLimits) -> None:
        self.limits = limits
        self.budget = limits.max_total
        self.truncated = False
        self._seen: set[int] = set()

    def text(self, value: str) -> str:
        value = _scrub_text(value)
        limit = min(self.limits.max_string, max(self.budget, 0))
        if len(value) > limit:
            self.truncated = True
            value = value[:limit] + TRUNCATED_MARK
        self.budget -= len(value)
        return value

    def walk(self, value: Any, depth: int) -> Any:
        if self.budget <= 0:
            self.truncated = True
            return TRUNCATED_MARK
        if value is None or isinstance(value, (bool, int, float)):
            self.budget -= 8
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.text(f"<{type(value).__name__} len={len(value)}>")
        if depth >= self.limits.max_depth:
            self.truncated = True
            return self.text(f"<{type(value).__name__}>")
        if id(value) in self._seen:
            return "<cycle>"
        self._seen.add(id(value))
        try:
            return self._container(value, depth)
        finally:
            self._seen.discard(id(value))

    def _container(self, value: Any, depth: int) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
        elif not isinstance(value, (Mapping, list, tuple, set, frozenset)):
            dump = getattr(value, "model_dump", None)  # pydantic v2 models
            if callable(dump):
                value = dump()
            else:
                return self.text(_safe_repr(value))
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for n, (key, item) in enumerate(value.items()):
                if n >= self.limits.max_items:
                    self.truncated = True
                    out[TRUNCATED_MARK] = f"{len(value) - n} more"
                    break
                name = key if isinstance(key, str) else _safe_repr(key)
                name = self.text(name)
                if self.limits.secret_pattern.search(name):
                    out[name] = REDACTED
                else:
                    out[name] = self.walk(item, depth + 1)
            return out
        items = list(value) if isinstance(value, (set, frozenset)) else value
        out_list = []
        for n, item in enumerate(items):
            if n >= self.limits.max_items:
                self.truncated = True
                out_list.append(f"{TRUNCATED_MARK} {len(items) - n} more")
                break
            out_list.append(self.walk(item, depth + 1))
        return out_list


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__} (repr failed)>"


def _scrub_text(text: str) -> str:
    if "://" in text:
        text = _URL_CREDENTIALS.sub(r"\g<scheme>[REDACTED]@", text)
    if len(text) > 12:
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return text


def capture(value: Any, limits: CaptureLimits = DEFAULT_LIMITS) -> Captured:
    """Turn any value into bounded, scrubbed, JSON-compatible data; never raises.

    >>> capture({"user": "ada", "db_password": "hunter2"}).data
    {'user': 'ada', 'db_password': '[REDACTED]'}
    """
    walker = _Walker(limits)
    try:
        data = walker.walk(value, 0)
    except Exception:
        # A hostile __iter__/__getattr__/model_dump: fall back to the type name only.
        walker.truncated = True
        data = f"<{type(value).__name__} (capture failed)>"
    return Captured(data, walker.truncated)


def capture_arguments(
    bound: Mapping[str, Any], limits: CaptureLimits = DEFAULT_LIMITS
) -> Captured:
    """Capture a call's bound arguments; arguments with secret-looking names are redacted."""
    return capture(dict(bound), limits)
