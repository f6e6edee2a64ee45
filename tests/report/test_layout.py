"""The HTML report's layout in headless Chromium: nothing wider than the page, no cell
broken across lines, one colour per workflow on every chart."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from otel_workflow.analytics import AnalyticsEngine
from otel_workflow.reports import render_report
from otel_workflow.reports.charts import TOTAL
from tests.report import chromium as browser
from tests.report.spans import fill_short_run

pytestmark = pytest.mark.integration


@pytest.fixture
def report_page(store_path: Path, tmp_path: Path) -> Path:
    """The HTML report of the shared store: every table, ids, user ids, a long name."""
    with AnalyticsEngine.from_store(store_path) as engine:
        return render_report(engine, tmp_path / "report.html", since="24h")


@pytest.mark.parametrize("width", [1280, 1024, 900])
def test_no_table_is_wider_than_the_page(
    report_page: Path, tmp_path: Path, chromium: str, width: int
) -> None:
    """At 1280, 1024 and 900 px the page does not scroll sideways and no table scrolls."""
    found = browser.measure(chromium, report_page, tmp_path, width=width)
    assert found["scrollWidth"] == found["clientWidth"] == width
    assert found["overflowing"] == []


def test_a_narrow_window_scrolls_only_inside_a_table(
    report_page: Path, tmp_path: Path, chromium: str
) -> None:
    """At 640 px a wide table scrolls in its own box; the page itself never scrolls sideways."""
    found = browser.measure(chromium, report_page, tmp_path, width=640)
    assert found["scrollWidth"] == found["clientWidth"] == 640
    assert all(item.startswith(("DIV.scroll", "TABLE")) for item in found["overflowing"])


def test_no_table_cell_wraps(report_page: Path, tmp_path: Path, chromium: str) -> None:
    """No id, user id, time or header is broken across lines; long names are cut instead."""
    found = browser.measure(chromium, report_page, tmp_path, width=1024)
    assert found["wrapped"] == []
    text = report_page.read_text(encoding="utf-8")
    assert '<td class="text id"><span class="cut" title="' in text  # trace ids, whole in the title


def test_the_measurements_can_fail(tmp_path: Path, chromium: str) -> None:
    """The layout checks above do see a too-wide table and a wrapped cell."""
    page = tmp_path / "wide.html"
    page.write_text(
        '<html><body style="margin:0"><div class="scroll" style="overflow-x:auto">'
        f'<table><tr><td style="white-space:nowrap">{"x" * 400}</td></tr></table></div>'
        '<table style="width:60px"><tr><td>two words</td></tr></table></body></html>',
        encoding="utf-8",
    )
    found = browser.measure(chromium, page, tmp_path, width=800)
    assert any(item.startswith("DIV.scroll") for item in found["overflowing"])
    assert found["wrapped"] == ["two words"]


@pytest.mark.parametrize("kind", ["two workflows over hours", "one workflow over 3 s"])
def test_each_workflow_has_one_colour_on_every_chart(
    report_page: Path, tmp_path: Path, chromium: str, kind: str
) -> None:
    """Drawn in Chromium, a series keeps one colour across charts, and no two share one."""
    page = report_page
    if kind.startswith("one"):
        store = tmp_path / "short.db"
        fill_short_run(store, seconds=3.0)
        with AnalyticsEngine.from_store(store) as engine:
            page = render_report(engine, tmp_path / "short.html", since="24h")
    found = browser.measure(chromium, page, tmp_path, width=1280)
    strokes: dict[str, set[str]] = defaultdict(set)
    charts: dict[str, set[str]] = defaultdict(set)
    for item in found["series"]:
        chart, _, hex_name = item["id"].partition("-series-")
        name = bytes.fromhex(hex_name).decode("utf-8")
        strokes[name].add(item["stroke"])
        charts[name].add(chart)
    assert charts[TOTAL] == {"throughput", "error-rate"}, charts
    assert len(charts) == (3 if kind.startswith("two") else 1), charts  # + each workflow
    assert all(len(colours) == 1 for colours in strokes.values()), strokes
    used = [next(iter(colours)) for colours in strokes.values()]
    assert len(used) == len(set(used)), strokes
