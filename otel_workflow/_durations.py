"""Durations written as text: ``"15m"``, ``"24h"``, ``"7d"`` (a leaf for the store and analytics).

A duration is a positive number followed by a unit: ``ms``, ``s``, ``m``, ``h``, ``d``,
``w`` (``"90s"``, ``"1.5h"``, ``"7d"``), or a :class:`~datetime.timedelta`.
"""

from __future__ import annotations

import re
from datetime import timedelta

DURATION_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
"""What a duration string looks like (used to tell durations from ISO times)."""

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
    match = DURATION_PATTERN.match(value)
    if match is None:
        raise ValueError(
            f"malformed duration {value!r}: expected a number and a unit (ms, s, m, h, d, w), "
            "e.g. '15m', '24h', '7d'"
        )
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {value!r}")
    return timedelta(seconds=seconds)


__all__ = ["DURATION_PATTERN", "parse_duration"]
