"""Reports from a real SQLite store: HTML (checked in headless Chromium) and markdown."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from otel_workflow.analytics import AnalyticsEngine
from otel_workflow.reports import collect, render_report
from otel_workflow.reports.charts import BAR_GREYS, PALETTE
from tests.report import chromium as browser
from tests.report.spans import HOSTILE_WORKFLOW

CHART_KEYS = ("throughput", "error-rate", "durations", "slowest-steps", "error-categories")


def _hex(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def test_html_report_has_every_chart_inline(store_path: Path, tmp_path: Path) -> None:
    """The HTML report holds all five charts as inline SVG and loads nothing from outside."""
    with AnalyticsEngine.from_store(store_path) as engine:
        path = render_report(engine, tmp_path / "report.html", since="24h")
    text = path.read_text(encoding="utf-8")
    for key in CHART_KEYS:
        assert f'id="chart-{key}"' in text
    assert text.count("<svg") == len(CHART_KEYS)
    assert "<script" not in text.lower()
    # Self-contained: no src= or href= at all, and no url() pointing outside the page.
    assert not re.search(r"\s(src|href)\s*=", text)
    assert not re.search(r"url\((?!#)", text)


def test_html_report_escapes_names_from_telemetry(store_path: Path, tmp_path: Path) -> None:
    """Workflow, type and step names with HTML in them are shown as text, never as markup."""
    with AnalyticsEngine.from_store(store_path) as engine:
        text = render_report(engine, tmp_path / "report.html").read_text(encoding="utf-8")
    assert HOSTILE_WORKFLOW not in text
    assert "billing &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; | *bold* &amp; co" in text
    assert "finance &lt;b&gt;" in text and "send &lt;mail&gt;" in text
    assert "finance <b>" not in text and "send <mail>" not in text


def test_html_report_numbers_match_the_engine(store_path: Path, tmp_path: Path) -> None:
    """The totals and per-workflow counts in the report are the engine's statistics."""
    with AnalyticsEngine.from_store(store_path) as engine:
        stats = engine.workflow_stats(since="24h")
        text = render_report(engine, tmp_path / "r.html", since="24h").read_text("utf-8")
    total = sum(s.count for s in stats)
    assert total == 120
    assert f"<b>{total:,}</b><span>executions</span>" in text
    failed = sum(s.failed for s in stats)
    assert f"<b>{failed:,}</b><span>failed</span>" in text
    for s in stats:
        assert f"<td>{s.count:,}</td><td>{s.failed:,}</td>" in text


@pytest.mark.integration
def test_html_report_renders_in_chromium(store_path: Path, tmp_path: Path, chromium: str) -> None:
    """Chromium renders the report's charts (their colours are on screen) with no console errors."""
    with AnalyticsEngine.from_store(store_path) as engine:
        page = render_report(engine, tmp_path / "report.html", since="24h")
    run = browser.screenshot(chromium, page, tmp_path / "report.png")
    assert run.console == [], f"console messages: {run.console}"
    colours = browser.distinct_colours(run.screenshot)
    assert len(colours) > 100, "the screenshot is (nearly) blank"
    # Solid bar fills in the greys, markers in the first series colours: the SVGs were drawn.
    missing = [c for c in (*BAR_GREYS, *PALETTE[:2]) if _hex(c) not in colours]
    assert not missing, f"chart colours not on screen: {missing}"


@pytest.mark.integration
def test_console_error_detection_catches_errors(tmp_path: Path, chromium: str) -> None:
    """The console check used above does see a page's console errors and exceptions."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><body><p>x</p><script>console.error('bad thing');missingFn();</script></body></html>"
    )
    run = browser.screenshot(chromium, page, tmp_path / "broken.png", height=300)
    assert any("bad thing" in line for line in run.console)
    assert any("Uncaught ReferenceError" in line for line in run.console)


@pytest.mark.integration
def test_blank_page_has_few_colours(tmp_path: Path, chromium: str) -> None:
    """The not-blank check can fail: an empty page has (almost) one colour."""
    page = tmp_path / "blank.html"
    page.write_text("<html><body></body></html>")
    run = browser.screenshot(chromium, page, tmp_path / "blank.png", height=300)
    assert len(browser.distinct_colours(run.screenshot)) < 5


def test_markdown_report_links_chart_files(store_path: Path, tmp_path: Path) -> None:
    """The markdown report links one SVG file per chart, each present and well-formed."""
    with AnalyticsEngine.from_store(store_path) as engine:
        path = render_report(engine, tmp_path / "weekly report.md", format="markdown")
    text = path.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == [f"weekly%20report_files/{key}.svg" for key in CHART_KEYS]
    for key in CHART_KEYS:
        svg = tmp_path / "weekly report_files" / f"{key}.svg"
        root = ET.fromstring(svg.read_text(encoding="utf-8"))
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "| Workflow | Type | Executions |" in text


def test_markdown_report_escapes_names(store_path: Path, tmp_path: Path) -> None:
    """Names with HTML and markdown syntax cannot break the markdown tables or inject HTML."""
    with AnalyticsEngine.from_store(store_path) as engine:
        text = render_report(engine, tmp_path / "r.md", format="md").read_text("utf-8")
    assert "<script>" not in text and "<b>" not in text and "<mail>" not in text
    assert r"&lt;script&gt;alert(" in text
    assert r"\| \*bold\* &amp; co" in text
    # Escaped pipes do not split cells: every row of a table has as many cells as its header.
    tables: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("|"):
            tables[-1].append(line.replace("\\|", ""))
        elif tables[-1]:
            tables.append([])
    found = [t for t in tables if t]
    # Every table (statistics and drill-down) was seen: one per header separator row.
    assert len(found) == text.count("\n| ---") >= 7
    for table in filter(None, tables):
        assert len({row.count(" | ") for row in table}) == 1, table


@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_empty_range_says_so(store_path: Path, tmp_path: Path, fmt: str) -> None:
    """A range with no executions gives a report that says so, with no charts."""
    until = datetime.now(timezone.utc) - timedelta(days=3)
    with AnalyticsEngine.from_store(store_path) as engine:
        path = render_report(
            engine, tmp_path / f"empty.{fmt}", since=until - timedelta(days=1), until=until,
            format=fmt,
        )  # fmt: skip
    text = path.read_text(encoding="utf-8")
    assert "No workflow executions in this range." in text
    assert "<svg" not in text and ".svg" not in text
    assert not (tmp_path / "empty_files").exists()


def test_empty_store_gives_a_report(empty_store_path: Path, tmp_path: Path) -> None:
    """A store with no executions at all still gives a valid report."""
    with AnalyticsEngine.from_store(empty_store_path) as engine:
        text = render_report(engine, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "No workflow executions in this range." in text
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")


def test_one_window_for_every_section(store_path: Path) -> None:
    """collect() resolves the range once: every section covers the same since..until."""
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    with AnalyticsEngine.from_store(store_path) as engine:
        data = collect(engine, since="2h", now=now)
    assert data.window.since == now - timedelta(hours=2)
    assert data.window.until == now
    assert data.workflows == []  # the data is from today, not 2030


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"format": "pdf"}, ValueError, "unknown report format 'pdf'"),
        ({"since": "yesterday"}, ValueError, "malformed time 'yesterday'"),
        ({"since": "1h", "until": "2h"}, ValueError, "empty time range"),
        ({"format": 3}, TypeError, "format must be a string"),
    ],
)
def test_bad_arguments_are_rejected(
    store_path: Path, tmp_path: Path, kwargs: dict, error: type, message: str
) -> None:
    """A bad format or range raises a clear error and writes nothing."""
    with AnalyticsEngine.from_store(store_path) as engine, pytest.raises(error, match=message):
        render_report(engine, tmp_path / "r.html", **kwargs)
    assert not (tmp_path / "r.html").exists()


def test_trend_without_points_says_so(store_path: Path) -> None:
    """A trend whose buckets all lack a value is replaced by a note, not an empty chart."""
    import dataclasses

    from otel_workflow.reports.figures import build_charts

    with AnalyticsEngine.from_store(store_path) as engine:
        data = collect(engine, since="24h")
    blank = [dataclasses.replace(p, value=None) for p in data.error_rate]
    charts = {c.key: c for c in build_charts(dataclasses.replace(data, error_rate=blank))}
    assert charts["error-rate"].svg is None
    assert charts["error-rate"].note == "No data points in this range yet."
    assert charts["throughput"].svg is not None


def test_many_workflows_keep_charts_readable(tmp_path: Path) -> None:
    """With many workflows the duration chart shows the 15 slowest; the table lists them all."""
    from tests.report.spans import fill_many_workflows

    store = tmp_path / "many.db"
    names = fill_many_workflows(store, 20)
    with AnalyticsEngine.from_store(store) as engine:
        data = collect(engine, since="24h")
        text = render_report(engine, tmp_path / "many.html").read_text(encoding="utf-8")
    assert "Duration percentiles per workflow (15 slowest by p95)" in text
    for name in names:
        assert f'<span class="cut" title="{name}">{name}</span>' in text
    # More than 8 workflows: the throughput trend is the total only.
    assert {p.workflow for p in data.throughput} == {None}
