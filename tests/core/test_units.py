"""The one formatting helper for people: durations, percentages, rates."""

from __future__ import annotations

import math

import pytest

from otel_workflow._units import format_duration, format_percent, format_rate


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0 s"),
        (4.2e-7, "420 ns"),
        (2.24e-5, "22.4 \u00b5s"),
        (0.25, "250 ms"),
        (1.5, "1.5 s"),
        (1344.0, "22.4 min"),
        (3 * 3600.0, "3 h"),
        (-0.5, "-500 ms"),
    ],
)
def test_duration_uses_the_largest_unit_with_three_significant_digits(
    seconds: float, text: str
) -> None:
    """A duration reads in the largest unit in which it is at least one."""
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.99996, "1 s"), (0.00099996, "1 ms"), (59.99, "1 min")]
)
def test_duration_rounding_up_moves_to_the_next_unit(seconds: float, text: str) -> None:
    """A value that rounds up to the next unit's size is written in that unit, never 1e+03."""
    assert format_duration(seconds) == text


@pytest.mark.parametrize("missing", [None, math.nan])
def test_missing_values_read_as_a_dash(missing: float | None) -> None:
    """None and NaN are "no value" for every formatter."""
    assert (format_duration(missing), format_percent(missing), format_rate(missing)) == ("-",) * 3


@pytest.mark.parametrize(
    ("fraction", "text"),
    [(0.0, "0%"), (1.0, "100%"), (0.8, "80.0%"), (0.12345, "12.3%"), (0.0001, "<0.1%"),
     (0.9999, ">99.9%")],
)  # fmt: skip
def test_percent_never_rounds_a_rare_event_away(fraction: float, text: str) -> None:
    """Only exactly 0 and 1 read 0% and 100%; anything else keeps a visible difference."""
    assert format_percent(fraction) == text


def test_rate_is_expressed_per_the_window() -> None:
    """Half an event per second is thirty per minute and 1800 per hour."""
    assert (format_rate(0.5, "min"), format_rate(0.5, "h"), format_rate(0.5, "s")) == (
        "30/min", "1800/h", "0.5/s",
    )  # fmt: skip


def test_rate_rejects_an_unknown_window_naming_the_valid_ones() -> None:
    """A misspelt window is a ValueError that lists the accepted ones."""
    with pytest.raises(ValueError, match="s, min, h, d"):
        format_rate(1.0, "minute")
