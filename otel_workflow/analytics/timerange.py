"""Parse time ranges and intervals: ``"15m"``, ``"24h"``, ``"7d"``, datetimes, ISO strings.

``since``/``until`` accept a :class:`~datetime.datetime` (naive ones are taken as UTC), an
ISO 8601 string, or a duration string meaning "that long before now".  Durations are a
positive number followed by a unit: ``ms``, ``s``, ``m``, ``h``, ``d``, ``w``
(``"90s"``, ``"1.5h"``, ``"7d"``), or a :class:`~datetime.timedelta`.  Anything else is a
:class:`ValueError` naming the value.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from otel_workflow.analytics.models import TimeWindow

TimeSpec = datetime | str | timedelta | None
"""What ``since``/``until`` accept."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: str | timedelta) -> timedelta:
    """A positive duration from ``"15m"``-style text or a timedelta.

    >>> parse_duration("1.5h")
    datetime.timedelta(seconds=5400)
    """
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise ValueError(f"duration must be positive, got {value!r}")
        return value
    if not isinstance(value, str):
        raise TypeError(f"duration must be a string like '15m' or a timedelta, got {value!r}")
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(
            f"malformed duration {value!r}: expected a number and a unit (ms, s, m, h, d, w), "
            "e.g. '15m', '24h', '7d'"
        )
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {value!r}")
    return timedelta(seconds=seconds)


def _aware(moment: datetime) -> datetime:
    # Naive datetimes are taken as UTC so a range means the same on every machine.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def parse_time(value: TimeSpec, *, now: datetime | None = None) -> datetime | None:
    """An aware UTC datetime for ``value``; durations count back from ``now``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return _aware(value)
    current = _aware(now) if now is not None else datetime.now(timezone.utc)
    if isinstance(value, timedelta):
        return current - parse_duration(value)
    if not isinstance(value, str):
        raise TypeError(
            f"time must be a datetime, an ISO 8601 string or a duration like '24h', got {value!r}"
        )
    if _DURATION.match(value):
        return current - parse_duration(value)
    try:
        return _aware(datetime.fromisoformat(value.strip()))
    except ValueError:
        raise ValueError(
            f"malformed time {value!r}: expected a duration like '15m', '24h', '7d' "
            "or an ISO 8601 datetime like '2026-01-31T08:00:00+00:00'"
        ) from None


def resolve_window(since: TimeSpec, until: TimeSpec, *, now: datetime | None = None) -> TimeWindow:
    """Both ends parsed against one ``now``; ``since`` after ``until`` is a ValueError."""
    current = _aware(now) if now is not None else datetime.now(timezone.utc)
    start = parse_time(since, now=current)
    end = parse_time(until, now=current)
    if start is not None and end is not None and start >= end:
        raise ValueError(f"empty time range: since {since!r} is not before until {until!r}")
    return TimeWindow(since=start, until=end)


def to_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch (the unit of span timestamps)."""
    return round(_aware(moment).timestamp() * 1_000_000) * 1000


def from_ns(ns: int) -> datetime:
    """An aware UTC datetime from nanoseconds since the epoch."""
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)


__all__ = ["TimeSpec", "from_ns", "parse_duration", "parse_time", "resolve_window", "to_ns"]
