"""Numbers that mean one thing: a retried attempt is not a failure, and one rate definition."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

import otel_workflow as ow
from otel_workflow._units import format_rate
from otel_workflow.analytics import AnalyticsEngine
from otel_workflow.analytics.models import TimeWindow
from otel_workflow.analytics.timerange import from_ns
from otel_workflow.cli import main
from otel_workflow.exporters.store import SQLiteSpanExporter
from otel_workflow.testing import TelemetryCapture

from ._numbers_workload import retry_store, three_second_store
from .conftest import BASE_NS, SpanFactory


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_retried_attempts_are_counted_apart_from_failures(
    ow_telemetry: TelemetryCapture, tmp_path: Path
) -> None:
    """A step that fails twice and then succeeds has failed 0, retried 2 and no error row."""
    path = retry_store(ow_telemetry, tmp_path / "store.db")
    with AnalyticsEngine.from_store(path) as engine:
        (step,) = engine.step_stats()
        (flow,) = engine.workflow_stats()
        errors = engine.errors_by_type()
        most_failed = engine.most_failed_steps()
    assert (step.count, step.succeeded, step.failed, step.retried) == (3, 1, 0, 2)
    assert step.error_rate == 0.0
    assert flow.failed == 0 and flow.error_rate == 0.0
    assert errors == [] and most_failed == []


def test_a_final_failure_after_retries_is_one_failure(
    ow_telemetry: TelemetryCapture, tmp_path: Path
) -> None:
    """A call that fails on every attempt is one failure (error rate 100 % of calls)."""

    @ow.step(name="charge", retries=1, backoff=0)
    def charge() -> None:
        raise ConnectionError("gateway down")

    @ow.workflow(name="checkout")
    def checkout() -> None:
        charge()

    with pytest.raises(ConnectionError):
        checkout()
    path = tmp_path / "store.db"
    exporter = SQLiteSpanExporter(path)
    assert exporter.export(ow_telemetry.spans()).name == "SUCCESS"
    exporter.shutdown()
    with AnalyticsEngine.from_store(path) as engine:
        (step,) = engine.step_stats()
        (error,) = engine.errors_by_type()
    assert (step.count, step.failed, step.retried, step.error_rate) == (2, 1, 1, 1.0)
    assert error.count == 1 and error.error_type == "ConnectionError"


def test_cli_steps_shows_retries_and_no_error_row(
    ow_telemetry: TelemetryCapture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`steps` has a retries column reading 2 and `errors-by-type` lists nothing."""
    path = str(retry_store(ow_telemetry, tmp_path / "store.db"))
    code, out, _ = _run(capsys, "steps", "--store", path)
    assert code == 0
    header, _, row = out.splitlines()[1:4]
    cells = dict(zip(header.split(), row.split(), strict=False))
    assert cells["retries"] == "2" and cells["failed"] == "0" and cells["errors"] == "0%"
    code, out, _ = _run(capsys, "errors-by-type", "--store", path)
    assert code == 0 and "no data" in out
    code, out, _ = _run(capsys, "steps", "--store", path, "--format", "csv")
    (record,) = csv.DictReader(io.StringIO(out))
    assert record["retried"] == "2" and record["failed"] == "0"


def test_exports_carry_a_retried_column(ow_telemetry: TelemetryCapture, tmp_path: Path) -> None:
    """The step_stats CSV and JSON exports have a ``retried`` column."""
    path = retry_store(ow_telemetry, tmp_path / "store.db")
    out = io.StringIO()
    with AnalyticsEngine.from_store(path) as engine:
        engine.export_csv(out, "step_stats")
        doc = io.StringIO()
        engine.export_json(doc, "step_stats")
    (record,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert record["retried"] == "2"
    assert json.loads(doc.getvalue())["rows"][0]["retried"] == 2


def test_rate_is_executions_over_the_data_extent(factory: SpanFactory, tmp_path: Path) -> None:
    """60 executions over 3 s, queried with no range: 1,200/min over a 3-second window."""
    path = three_second_store(factory, tmp_path / "store.db")
    with AnalyticsEngine.from_store(path) as engine:
        (flow,) = engine.workflow_stats()
        (step,) = engine.step_stats()
        (wtype,) = engine.by_type()
        window = engine.rate_window()
    for stats in (flow, step, wtype):
        assert stats.throughput_per_minute == pytest.approx(1200.0)
        assert stats.rate_window_seconds == pytest.approx(3.0)
    assert window.since == from_ns(BASE_NS)
    assert window.until == from_ns(BASE_NS + 3 * 10**9)


def test_rate_is_over_the_window_asked_for(factory: SpanFactory, tmp_path: Path) -> None:
    """With since and until given, the rate is over exactly that window, empty parts included."""
    path = three_second_store(factory, tmp_path / "store.db")
    since = from_ns(BASE_NS)
    with AnalyticsEngine.from_store(path) as engine:
        (flow,) = engine.workflow_stats(since=since, until=since + timedelta(minutes=2))
    assert flow.throughput_per_minute == pytest.approx(30.0)
    assert flow.rate_window_seconds == pytest.approx(120.0)


def test_default_window_is_clipped_to_the_last_24_hours(
    factory: SpanFactory, tmp_path: Path
) -> None:
    """Data over two days, no range asked: counts and rate cover the last 24 hours of it."""
    for hour in range(48):
        factory.execution("daily", hour * 3600.0, 1.0)
    path = factory.write(tmp_path / "store.db")
    with AnalyticsEngine.from_store(path) as engine:
        (flow,) = engine.workflow_stats()
        (everything,) = engine.workflow_stats(since=from_ns(BASE_NS - 10**9))
        window = engine.rate_window()
    assert everything.count == 48
    # The last execution ends at 47 h + 1 s; 24 h before that, 24 starts are in.
    assert flow.count == 24 and flow.rate_window_seconds == pytest.approx(86400.0)
    assert flow.throughput_per_minute == pytest.approx(24 / 1440)
    assert window == TimeWindow(window.until - timedelta(hours=24), window.until)


def test_cli_stats_shows_the_rate_with_its_window(
    factory: SpanFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`stats` prints the engine's rate with the window it is over, never an exponent."""
    path = three_second_store(factory, tmp_path / "store.db")
    with AnalyticsEngine.from_store(path) as engine:
        (flow,) = engine.workflow_stats()
    expected = format_rate(flow.throughput_per_minute / 60, over=flow.rate_window_seconds)
    assert expected == "20/s over 3 s"
    code, out, _ = _run(capsys, "stats", "--store", str(path))
    assert code == 0 and expected in out and "e+" not in out


@pytest.mark.parametrize(
    ("per_second", "over", "text"),
    [
        (20.0, 3.0, "20/s over 3 s"),
        (0.2, 3600.0, "12/min over 1 h"),
        (1 / 60, 86400.0, "1/min over 24 h"),
        (2e4, 5e-5, "1 in 50 \u00b5s"),
        (None, 3.0, "-"),
        (1.0, 0.0, "-"),
    ],
)
def test_format_rate_names_its_window(per_second: float | None, over: float, text: str) -> None:
    """A rate reads per second under a minute, per minute above, a count under a second."""
    assert format_rate(per_second, over=over) == text


def test_cli_warns_when_the_store_dropped_rows(
    ow_telemetry: TelemetryCapture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`stats` and `steps` print a warning line naming the dropped rows; JSON stays clean."""
    path = str(retry_store(ow_telemetry, tmp_path / "store.db", dropped=7))
    for command in ("stats", "steps"):
        code, out, err = _run(capsys, command, "--store", path, "--format", "json")
        assert code == 0 and json.loads(out)
        assert "warning: the store dropped 9 rows (export_failed: 2, queue_full: 7)" in err


def test_cli_says_nothing_when_no_rows_were_dropped(
    ow_telemetry: TelemetryCapture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store that lost nothing gets no warning."""
    path = str(retry_store(ow_telemetry, tmp_path / "store.db"))
    code, _, err = _run(capsys, "stats", "--store", path)
    assert code == 0 and "dropped" not in err
