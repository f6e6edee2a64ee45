"""Numbers for people: durations, percentages and rates, formatted one way everywhere.

The CLI tables and the HTML/PDF report both use these, so a duration reads ``22.4 µs`` in
both.  Machine formats (CSV, JSON) never use them: they keep raw seconds and fractions,
with the unit in the column name.

Every function takes ``None`` (and NaN) for "no value" and returns ``"-"``.

>>> format_duration(0.0000224), format_duration(0.25), format_duration(1344.0)
('22.4 µs', '250 ms', '22.4 min')
>>> format_percent(0.8), format_percent(1.0), format_percent(0.00001)
('80.0%', '100%', '<0.1%')
>>> format_rate(0.5, "min")
'30/min'
>>> format_rate(20.0, over=3.0), format_rate(0.2, over=3600.0), format_rate(2e4, over=5e-5)
('20/s over 3 s', '12/min over 1 h', '1 in 50 µs')
"""

from __future__ import annotations

import math

__all__ = ["RATE_WINDOWS", "format_duration", "format_percent", "format_rate"]

# (unit, seconds per unit, the value at which the next unit takes over)
_DURATION_UNITS: tuple[tuple[str, float, float], ...] = (
    ("ns", 1e-9, 1000.0),
    ("\u00b5s", 1e-6, 1000.0),
    ("ms", 1e-3, 1000.0),
    ("s", 1.0, 60.0),
    ("min", 60.0, 60.0),
    ("h", 3600.0, math.inf),
)

#: The windows :func:`format_rate` accepts, in seconds.
RATE_WINDOWS: dict[str, float] = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def _missing(value: float | None) -> bool:
    return value is None or math.isnan(value)


def _sig3(value: float) -> str:
    """Three significant digits, never in exponent notation, no trailing zeros."""
    if value == 0:
        return "0"
    text = f"{value:.3g}"
    if "e" in text:  # .3g switches to exponents from 1e3 up: write the integer out
        return f"{value:.0f}"
    return text


def format_duration(seconds: float | None) -> str:
    """A duration in seconds: ``850 ns``, ``22.4 µs``, ``250 ms``, ``1.5 s``, ``22.4 min``, ``3 h``.

    Three significant digits; the unit is the largest one in which the value is at least 1
    (after rounding, so 999.97 ms reads ``1 s``, never ``1e+03 ms``).
    """
    if seconds is None or _missing(seconds):
        return "-"
    if math.isinf(seconds):
        return "\u221e" if seconds > 0 else "-\u221e"
    if seconds == 0:
        return "0 s"
    sign = "-" if seconds < 0 else ""
    magnitude = abs(seconds)
    for unit, size, next_at in _DURATION_UNITS:  # smallest first; "h" never overflows
        text = _sig3(magnitude / size)
        if float(text) < next_at:
            return f"{sign}{text} {unit}"
    raise AssertionError("unreachable: the last unit has no upper bound")


def format_percent(fraction: float | None) -> str:
    """A fraction (0.0-1.0) as a percentage: ``80.0%``, ``100%``, ``0%``, ``<0.1%``, ``>99.9%``.

    One decimal place.  A value that is not exactly 0 or 1 never rounds to ``0%`` or
    ``100%``: one failure in 10,000 runs reads ``<0.1%``, not "no failures".
    """
    if fraction is None or _missing(fraction):
        return "-"
    if fraction == 0:
        return "0%"
    if fraction == 1:
        return "100%"
    percent = fraction * 100
    if 0 < percent < 0.05:
        return "<0.1%"
    if 99.95 <= percent < 100:
        return ">99.9%"
    return f"{percent:.1f}%"


# A rate measured over less than this is shown as a count in that time: "1 in 50 µs"
# reads right where "1.2e+06/min" does not.
_SHORTEST_RATE_WINDOW = 1.0


def format_rate(
    per_second: float | None, window: str | None = None, *, over: float | None = None
) -> str:
    """A rate in events per second, expressed per ``window`` (``s``, ``min``, ``h``, ``d``).

    ``format_rate(0.5, "min")`` is ``30/min``; three significant digits, as durations.

    ``over`` is the length in seconds of the window the rate was measured over, and is
    written beside it: ``12/min over 1 h``.  Without an explicit ``window`` the unit
    never extrapolates beyond what was measured: per second under a minute
    (``20/s over 3 s``), per minute from a minute on; under a second the rate is the
    count in that time (``1 in 50 µs``).
    """
    unit = window if window is not None else "min"
    try:
        size = RATE_WINDOWS[unit]
    except KeyError:
        valid = ", ".join(RATE_WINDOWS)
        raise ValueError(f"window must be one of {valid}, not {window!r}") from None
    if per_second is None or _missing(per_second):
        return "-"
    if over is None or _missing(over):
        return f"{_sig3(per_second * size)}/{unit}"
    if over <= 0:
        return "-"
    measured = format_duration(over)
    if window is None and over < _SHORTEST_RATE_WINDOW:
        return f"{_sig3(per_second * over)} in {measured}"
    if window is None and over < RATE_WINDOWS["min"]:
        unit, size = "s", 1.0
    return f"{_sig3(per_second * size)}/{unit} over {measured}"
