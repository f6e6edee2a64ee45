"""How a report writes numbers and times: one set of units for every table, card and chart.

Durations are in human units (``µs``, ``ms``, ``s``, ``min``, ``h``) picked by size, rates
are percentages, and every time is written in :data:`TIME_ZONE` with its name beside it,
so a table, a chart axis and the heading never disagree.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

TIME_ZONE = timezone.utc
"""The zone every report time is shown in."""

TIME_ZONE_NAME = "UTC"
"""How :data:`TIME_ZONE` is labelled in headings, table headers and chart axes."""


def format_duration(seconds: float | None) -> str:
    """A duration for people: ``"850 µs"``, ``"12.5 ms"``, ``"1.50 s"``, ``"2.5 min"``."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} \u00b5s"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


def format_tick_duration(seconds: float) -> str:
    """A duration axis tick: the largest unit it reaches, three significant digits at most.

    ``0.25`` -> ``"250 ms"``, ``100`` -> ``"1.67 min"``, ``1e-8`` -> ``"10 ns"``.
    """
    if not math.isfinite(seconds) or seconds <= 0:
        return ""
    for size, unit in ((3600, "h"), (60, "min"), (1, "s"), (1e-3, "ms"), (1e-6, "\u00b5s")):
        if seconds >= size * 0.9999:  # a tick at exactly one unit, despite rounding
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def format_percent(fraction: float | None) -> str:
    """A fraction in [0, 1] as a percentage: ``0.0312`` -> ``"3.12 %"``."""
    if fraction is None or not math.isfinite(fraction):
        return "-"
    return f"{fraction * 100:.2f} %"


def format_number(value: float | None) -> str:
    """Three significant digits, ``-`` for a missing value."""
    return "-" if value is None or not math.isfinite(value) else f"{value:.3g}"


def format_time(moment: datetime | None) -> str:
    """``2026-01-31 08:00:00 UTC``; an open start is ``the beginning``."""
    if moment is None:
        return "the beginning"
    return moment.astimezone(TIME_ZONE).strftime(f"%Y-%m-%d %H:%M:%S {TIME_ZONE_NAME}")


def format_table_time(moment: datetime | None) -> str:
    """``2026-01-31 08:00:00.250`` in :data:`TIME_ZONE`, for a column headed with the zone."""
    if moment is None:
        return "-"
    local = moment.astimezone(TIME_ZONE)
    return local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}"


def format_interval(interval: timedelta) -> str:
    """A bucket size: ``"15 min"``, ``"1 h"``, ``"2 s"``, ``"500 ms"``."""
    seconds = interval.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds * 1e3:g} ms"


__all__ = [
    "TIME_ZONE",
    "TIME_ZONE_NAME",
    "format_duration",
    "format_interval",
    "format_number",
    "format_percent",
    "format_table_time",
    "format_tick_duration",
    "format_time",
]
