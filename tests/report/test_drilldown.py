"""Drill-down: the report lists slow and failed executions, outliers and users, with ids."""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

import pytest

from otel_workflow.analytics import AnalyticsEngine
from otel_workflow.reports import collect, render_report
from otel_workflow.reports.html import render_html

JAEGER = "http://127.0.0.1:16686/trace/{trace_id}"


def test_engine_lists_the_slowest_executions(store_path: Path) -> None:
    """executions("slowest") gives the longest executions first, with their ids."""
    with AnalyticsEngine.from_store(store_path) as engine:
        top = engine.executions("slowest", since="24h", limit=5)
        _, rows = engine.iter_rows("executions", since="24h")
        durations = sorted((row[14] for row in rows), reverse=True)
    assert [r.duration for r in top] == durations[:5]
    assert all(re.fullmatch(r"[0-9a-f]{32}", r.trace_id) and r.execution_id for r in top)


def test_engine_lists_the_latest_failed_executions(store_path: Path) -> None:
    """executions("latest", failed_only=True) gives failed executions, newest first."""
    with AnalyticsEngine.from_store(store_path) as engine:
        failed = engine.executions("latest", failed_only=True, since="24h", limit=50)
        expected = sum(s.failed for s in engine.workflow_stats(since="24h"))
    assert len(failed) == min(expected, 50) > 0
    assert all(r.status == "error" and r.error_type for r in failed)
    assert [r.start for r in failed] == sorted((r.start for r in failed), reverse=True)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"order": "fastest"}, ValueError, "unknown execution order 'fastest'"),
        ({"limit": 0}, ValueError, "limit must be at least 1"),
        ({"limit": "3"}, TypeError, "limit must be an int"),
    ],
)
def test_engine_executions_rejects_bad_arguments(
    store_path: Path, kwargs: dict, error: type, message: str
) -> None:
    """A bad order or limit is an error naming it."""
    with AnalyticsEngine.from_store(store_path) as engine, pytest.raises(error, match=message):
        engine.executions(**kwargs)


def test_report_lists_slow_and_failed_executions_with_ids(store_path: Path, tmp_path: Path) -> None:
    """The HTML report has the slowest and failed executions, their execution and trace ids."""
    with AnalyticsEngine.from_store(store_path) as engine:
        slow = engine.executions("slowest", since="24h", limit=10)
        failed = engine.executions("latest", failed_only=True, since="24h", limit=10)
        text = render_report(engine, tmp_path / "r.html", since="24h").read_text("utf-8")
    for section in ("slowest-executions", "failed-executions", "outliers", "users"):
        assert f'id="{section}"' in text
    slow_part = text[text.index('id="slowest-executions"') : text.index('id="failed-executions"')]
    failed_part = text[text.index('id="failed-executions"') : text.index('id="outliers"')]
    for record in slow:
        assert record.trace_id in slow_part and f">{record.execution_id}<" in slow_part
    for record in failed:
        assert record.trace_id in failed_part and f">{record.execution_id}<" in failed_part


def test_report_lists_the_outliers_the_engine_finds(store_path: Path, tmp_path: Path) -> None:
    """Every outlier outliers() returns (up to the table's size) is in the report."""
    with AnalyticsEngine.from_store(store_path) as engine:
        outliers = engine.outliers(0.99, since="24h")
        text = render_report(engine, tmp_path / "r.html", since="24h").read_text("utf-8")
    assert outliers
    part = text[text.index('id="outliers"') : text.index('id="users"')]
    for outlier in outliers[:10]:
        assert outlier.trace_id in part


def test_users_section_only_with_user_ids(store_path: Path) -> None:
    """The per-user table lists each user; with no user ids there is no users section."""
    with AnalyticsEngine.from_store(store_path) as engine:
        data = collect(engine, since="24h")
    page = render_html(data)
    assert data.users and all(f">{html.escape(u.user_id)}<" in page for u in data.users)
    assert 'id="users"' not in render_html(dataclasses.replace(data, users=[]))


def test_prometheus_like_data_leaves_drill_down_out(store_path: Path) -> None:
    """A backend without per-execution data (sections None) gives no drill-down tables."""
    with AnalyticsEngine.from_store(store_path) as engine:
        data = collect(engine, since="24h")
    bare = dataclasses.replace(
        data, slowest_executions=None, failed_executions=None, outliers=None, users=None
    )
    page = render_html(bare)
    assert "Slowest executions" not in page and 'id="outliers"' not in page


def test_trace_links_follow_the_template(store_path: Path, tmp_path: Path) -> None:
    """With a trace_url every listed trace id links to the viewer; without one nothing links."""
    with AnalyticsEngine.from_store(store_path) as engine:
        linked = render_report(engine, tmp_path / "a.html", trace_url=JAEGER).read_text("utf-8")
        plain = render_report(engine, tmp_path / "b.html").read_text("utf-8")
        md = render_report(engine, tmp_path / "c.md", format="md", trace_url=JAEGER).read_text(
            "utf-8"
        )
    hrefs = re.findall(r'<a href="([^"]+)"', linked)
    assert hrefs and all(re.fullmatch(r"http://127\.0\.0\.1:16686/trace/[0-9a-f]{32}", h)
                         for h in hrefs)  # fmt: skip
    assert "<a " not in plain
    assert re.search(r"\[[0-9a-f]{32}\]\(http://127\.0\.0\.1:16686/trace/[0-9a-f]{32}\)", md)


def test_trace_link_values_are_encoded(store_path: Path) -> None:
    """Execution ids from telemetry are percent-encoded in links, never raw."""
    with AnalyticsEngine.from_store(store_path) as engine:
        data = collect(engine, since="24h", trace_url="https://viewer.example/e/{execution_id}")
    assert data.slowest_executions
    hostile = dataclasses.replace(data.slowest_executions[0], execution_id='a"><script>/b')
    page = render_html(dataclasses.replace(data, slowest_executions=[hostile]))
    assert 'href="https://viewer.example/e/a%22%3E%3Cscript%3E%2Fb"' in page


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("javascript:alert(1)//{trace_id}", "http or https"),
        ("http://x/{trace_id.__class__}", "placeholder"),
        ("http://x/{user}", "placeholder"),
        ("http://x/{trace_id!r}", "placeholder"),
        ("http://x/trace", "needs a {trace_id} or {execution_id}"),
    ],
)
def test_bad_trace_url_is_rejected_before_writing(
    store_path: Path, tmp_path: Path, template: str, message: str
) -> None:
    """A bad trace_url is a ValueError naming trace_url, and no report is written."""
    with AnalyticsEngine.from_store(store_path) as engine, pytest.raises(ValueError) as info:
        render_report(engine, tmp_path / "r.html", trace_url=template)
    assert "trace_url" in str(info.value) and message in str(info.value)
    assert not (tmp_path / "r.html").exists()


def test_time_columns_name_their_zone(store_path: Path, tmp_path: Path) -> None:
    """Every table column holding a time says it is UTC."""
    with AnalyticsEngine.from_store(store_path) as engine:
        text = render_report(engine, tmp_path / "r.html").read_text("utf-8")
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", text)
    timed = [h for h in headers if re.search(r"start|seen|time", h, re.IGNORECASE)]
    assert timed and all(h.endswith("(UTC)") for h in timed), timed
