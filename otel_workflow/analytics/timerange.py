"""Parse time ranges and intervals: ``"15m"``, ``"24h"``, ``"7d"``, datetimes, ISO strings.

``since``/``until`` accept a :class:`~datetime.datetime` (naive ones are taken as UTC), an
ISO 8601 string, or a duration string meaning "that long before now".  Durations are a
positive number followed by a unit: ``ms``, ``s``, ``m``, ``h``, ``d``, ``w``
(``"90s"``, ``"1.5h"``, ``"7d"``), or a :class:`~datetime.timedelta`.  Anything else is a
:class:`ValueError` naming the value.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from otel_workflow._durations import DURATION_PATTERN as _DURATION
from otel_workflow._durations import parse_duration
from otel_workflow.analytics.models import TimeWindow

TimeSpec = datetime | str | timedelta | None
"""What ``since``/``until`` accept."""


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
