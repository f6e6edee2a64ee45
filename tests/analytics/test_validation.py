"""Bad input to the engine gives clear errors; time ranges parse as documented."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from otel_workflow.analytics import AnalyticsEngine, parse_duration, parse_time
from otel_workflow.analytics.timerange import resolve_window

from .conftest import Workload

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("90s", timedelta(seconds=90)),
        ("1.5h", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("250ms", timedelta(milliseconds=250)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    """Duration strings with every unit parse to the right timedelta."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "15", "m", "15 minutes", "-5m", "0s", "1y", "5m ago"])
def test_malformed_durations_name_the_value(text: str) -> None:
    """A malformed duration is a ValueError that quotes the value."""
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_duration(text)


def test_times_parse_relative_iso_and_datetimes() -> None:
    """since/until accept durations ago, ISO strings and (naive = UTC) datetimes."""
    assert parse_time("24h", now=NOW) == NOW - timedelta(hours=24)
    assert parse_time("2026-03-01T08:00:00+02:00") == datetime(2026, 3, 1, 6, tzinfo=timezone.utc)
    assert parse_time(datetime(2026, 3, 1, 6)) == datetime(2026, 3, 1, 6, tzinfo=timezone.utc)
    assert parse_time(None) is None


def test_malformed_time_and_empty_range_are_clear() -> None:
    """A malformed time names the value; since after until is refused."""
    with pytest.raises(ValueError, match="malformed time 'yesterday'"):
        parse_time("yesterday")
    with pytest.raises(TypeError, match="time must be"):
        parse_time(12345)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty time range"):
        resolve_window("1h", "2h", now=NOW)


def test_engine_rejects_bad_arguments(workload: Workload) -> None:
    """Unknown metrics, sort keys, bad intervals, limits and quantiles are ValueErrors."""
    with AnalyticsEngine.from_store(workload.path) as engine:
        with pytest.raises(ValueError, match="unknown trend metric 'p42'"):
            engine.trends("p42")
        with pytest.raises(ValueError, match="malformed duration 'soon'"):
            engine.trends("p95", interval="soon")
        with pytest.raises(ValueError, match="unknown sort key 'speed'"):
            engine.slowest_steps(by="speed")
        with pytest.raises(ValueError, match="limit must be at least 1"):
            engine.most_failed_steps(limit=0)
        with pytest.raises(ValueError, match="quantile must be within"):
            engine.outliers(1.5)
        with pytest.raises(ValueError, match="malformed time 'last week'"):
            engine.workflow_stats(since="last week")
        with pytest.raises(ValueError, match="unknown export kind 'spans'"):
            engine.export_csv("/dev/null", kind="spans")
        with pytest.raises(TypeError, match="workflow must be a string"):
            engine.workflow_stats(workflow=3)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="choose a larger interval"):
            engine.trends("count", "1ms")
