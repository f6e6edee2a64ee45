"""The report reads the numbers as the CLI does: retries apart, one rate, drops said loudly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from otel_workflow._units import format_rate
from otel_workflow.analytics import AnalyticsEngine
from otel_workflow.cli import main
from otel_workflow.reports import collect, render_report
from otel_workflow.reports.markdown import render_markdown
from otel_workflow.reports.tables import errors_table, slowest_steps_table
from otel_workflow.testing import TelemetryCapture
from tests.analytics._numbers_workload import retry_store, three_second_store
from tests.analytics.conftest import SpanFactory


def test_report_counts_retries_apart_from_failures(
    ow_telemetry: TelemetryCapture, tmp_path: Path
) -> None:
    """A step that fails twice then succeeds: Retries 2, Failed 0, and no Errors row."""
    path = retry_store(ow_telemetry, tmp_path / "store.db")
    with AnalyticsEngine.from_store(path) as engine:
        data = collect(engine)
        html = render_report(engine, tmp_path / "r.html").read_text(encoding="utf-8")
    steps = slowest_steps_table(data)
    (row,) = steps.rows
    cells = dict(zip(steps.head, row, strict=True))
    assert cells["Retries"] == "2" and cells["Failed"] == "0"
    assert errors_table(data).rows == [] and data.failed == 0
    assert "<th>Retries</th>" in html and "No failed steps in this range." in html


def test_report_rate_is_the_cli_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """60 executions over 3 s: the report, `stats` and the engine all say 20/s over 3 s."""
    path = three_second_store(SpanFactory(), tmp_path / "store.db")
    with AnalyticsEngine.from_store(path) as engine:
        (flow,) = engine.workflow_stats()
        html = render_report(engine, tmp_path / "r.html").read_text(encoding="utf-8")
        markdown = render_report(engine, tmp_path / "r.md").read_text(encoding="utf-8")
    assert flow.throughput_per_minute == pytest.approx(1200.0)
    expected = format_rate(flow.throughput_per_minute / 60, over=flow.rate_window_seconds)
    assert expected == "20/s over 3 s"
    assert main(["stats", "--store", str(path)]) == 0
    assert expected in capsys.readouterr().out
    # The summary card carries it whole; the workflow table says the shared window once,
    # in its Rate header, and the rate in each row.
    assert html.count(expected) == 1
    assert "<th>Rate (over 3 s)</th>" in html and "<td>20/s</td>" in html
    assert expected in markdown and "Rate (over 3 s)" in markdown
    assert not re.search(r"\de[+-]\d", html + markdown)


@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_report_on_a_store_that_dropped_rows_says_so(
    ow_telemetry: TelemetryCapture, tmp_path: Path, fmt: str
) -> None:
    """A report over a store with dropped rows opens with a warning naming how many."""
    path = retry_store(ow_telemetry, tmp_path / "store.db", dropped=7)
    out = tmp_path / ("r.html" if fmt == "html" else "r.md")
    with AnalyticsEngine.from_store(path) as engine:
        text = render_report(engine, out, format=fmt).read_text(encoding="utf-8")
    warning = "Warning: the store dropped 9 rows (2 export failed, 7 queue full)"
    if fmt == "html":
        assert f'<p class="warning" role="alert">{warning}' in text
        # Prominent: before the summary cards.
        assert text.index(warning) < text.index('class="cards"')
    else:
        assert text.splitlines()[4].startswith(f"> **{warning}")


def test_report_on_a_complete_store_has_no_warning(
    ow_telemetry: TelemetryCapture, tmp_path: Path
) -> None:
    """No dropped rows, no warning."""
    path = retry_store(ow_telemetry, tmp_path / "store.db")
    with AnalyticsEngine.from_store(path) as engine:
        data = collect(engine)
    assert data.dropped_total == 0
    assert "dropped" not in render_markdown(data, "r_files", charts=[])


def test_report_command_warns_about_dropped_rows(
    ow_telemetry: TelemetryCapture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`report` prints the warning line too, on standard error."""
    path = retry_store(ow_telemetry, tmp_path / "store.db", dropped=7)
    assert main(["report", "--store", str(path), "--out", str(tmp_path / "r.html")]) == 0
    assert "warning: the store dropped 9 rows" in capsys.readouterr().err
