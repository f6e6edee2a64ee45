"""A report from a real Prometheus that scraped a real instrumented workload."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_workflow._polling import wait_until
from otel_workflow.analytics import AnalyticsEngine
from otel_workflow.reports import render_report
from tests.report import chromium as browser
from tests.support.prometheus import prometheus_factory
from tests.support.workload import read_metrics_port, start_workload

pytestmark = pytest.mark.integration

_REPO = Path(__file__).resolve().parents[2]


def test_report_from_prometheus_renders(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, chromium: str
) -> None:
    """The same report works on the Prometheus backend: statistics, charts, clean render."""
    with prometheus_factory(tmp_path_factory) as start:
        workload = start_workload(cwd=str(_REPO))
        try:
            prom = start([f"127.0.0.1:{read_metrics_port(workload)}"])
            prom.wait_for_scrape(scrapes=3)
            engine = AnalyticsEngine.from_prometheus(prom.url)
            # rate() needs two scrapes with executions in between: wait, bounded, for stats.
            wait_until(
                lambda: [s for s in engine.workflow_stats(since="5m") if s.count > 0], 60,
                interval=0.1, error=lambda: AssertionError("Prometheus never had workflow data"),
            )  # fmt: skip
            path = render_report(engine, tmp_path / "prom.html", since="5m")
        finally:
            assert workload.stdin is not None
            workload.stdin.close()
            workload.wait(30)
    text = path.read_text(encoding="utf-8")
    assert "from the prometheus backend" in text
    assert "checkout" in text
    assert 'id="chart-throughput"' in text and 'id="chart-durations"' in text
    run = browser.screenshot(chromium, path, tmp_path / "prom.png")
    assert run.console == []
    assert len(browser.distinct_colours(run.screenshot)) > 100
