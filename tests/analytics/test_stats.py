"""Store statistics agree with a direct computation on the same data."""

from __future__ import annotations

import sqlite3
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from otel_workflow import semconv
from otel_workflow.analytics import AnalyticsEngine, percentile

from .conftest import BASE_NS, SpanFactory, Workload

BASE = datetime.fromtimestamp(BASE_NS / 1e9, timezone.utc)


def _inclusive(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


def test_percentile_matches_statistics_quantiles() -> None:
    """The documented percentile equals statistics.quantiles(method='inclusive')."""
    values = sorted([0.3, 1.7, 0.01, 5.0, 2.2, 2.2, 9.9, 0.5, 3.3, 4.1, 7.0])
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    for i, cut in enumerate(cuts, start=1):
        assert percentile(values, i / 100) == pytest.approx(cut, rel=1e-12)
    assert percentile([], 0.5) is None
    assert percentile([4.0], 0.99) == 4.0


def test_workflow_stats_equal_direct_computation(workload: Workload) -> None:
    """Counts, rates, min/max/avg and p50/p95/p99 equal the values computed directly."""
    with AnalyticsEngine.from_store(workload.path) as engine:
        stats = {s.workflow: s for s in engine.workflow_stats()}
    assert sorted(stats) == sorted(workload.durations)
    for name, durations in workload.durations.items():
        s = stats[name]
        statuses = workload.statuses[name]
        assert s.count == len(durations)
        assert s.failed == statuses.count(semconv.STATUS_ERROR)
        assert s.cancelled == statuses.count(semconv.STATUS_CANCELLED)
        assert s.succeeded == statuses.count(semconv.STATUS_OK)
        assert s.error_rate == pytest.approx(s.failed / s.count)
        assert s.success_rate == pytest.approx(s.succeeded / s.count)
        assert s.min == pytest.approx(min(durations), abs=1e-9)
        assert s.max == pytest.approx(max(durations), abs=1e-9)
        assert s.avg == pytest.approx(statistics.fmean(durations), abs=1e-9)
        for key, expected in _inclusive(durations).items():
            assert getattr(s, key) == pytest.approx(expected, abs=1e-8), (name, key)


def test_step_stats_equal_direct_computation(workload: Workload) -> None:
    """Step percentiles and counts equal statistics.quantiles on the same durations."""
    with AnalyticsEngine.from_store(workload.path) as engine:
        stats = {(s.workflow, s.step): s for s in engine.step_stats()}
    assert sorted(stats) == sorted(workload.step_durations)
    for key, durations in workload.step_durations.items():
        s = stats[key]
        assert s.count == len(durations)
        for name, expected in _inclusive(durations).items():
            assert getattr(s, name) == pytest.approx(expected, abs=1e-8), (key, name)
        assert s.total_cpu_time == pytest.approx(sum(d / 2 for d in durations), rel=1e-6)


def test_time_range_limits_the_data(factory: SpanFactory, tmp_path: Path) -> None:
    """since/until keep executions that started in [since, until) and rates use that range."""
    for minute in range(10):
        factory.execution("order", minute * 60, 1.0 + minute)
    path = factory.write(tmp_path / "s.db")
    with AnalyticsEngine.from_store(path) as engine:
        (s,) = engine.workflow_stats(
            since=BASE + timedelta(minutes=2), until=BASE + timedelta(minutes=6)
        )
        assert s.count == 4
        assert (s.min, s.max) == (3.0, 6.0)
        assert s.throughput_per_minute == pytest.approx(1.0)
        iso = engine.workflow_stats(since=(BASE + timedelta(minutes=8)).isoformat())
        assert iso[0].count == 2
        assert engine.workflow_stats(since="1h") == []  # all of it is long ago


def test_unknown_workflow_is_empty_not_an_error(workload: Workload) -> None:
    """Asking about a workflow that never ran gives empty results everywhere."""
    with AnalyticsEngine.from_store(workload.path) as engine:
        assert engine.workflow_stats("nope") == []
        assert engine.step_stats("nope") == []
        assert engine.user_stats("nope") == []
        assert engine.errors_by_type("nope") == []
        assert engine.outliers(workflow="nope") == []
        assert engine.trends("p95", "5m", workflow="nope") == []
        assert engine.concurrency("nope").peak_active == 0


def test_by_type_groups_workflows(workload: Workload) -> None:
    """Per-type stats sum their workflows and take percentiles over all their executions."""
    with AnalyticsEngine.from_store(workload.path) as engine:
        types = {t.workflow_type: t for t in engine.by_type()}
    commerce = workload.durations["order"] + workload.durations["refund"]
    assert types["commerce"].workflows == 2
    assert types["commerce"].count == len(commerce)
    assert types["commerce"].p95 == pytest.approx(_inclusive(commerce)["p95"], abs=1e-8)
    assert types["batch"].count == len(workload.durations["report"])


def test_user_stats_per_user(workload: Workload) -> None:
    """Per-user executions, failures and p95 match the recorded truth; most active first."""
    with AnalyticsEngine.from_store(workload.path) as engine:
        users = engine.user_stats()
        top = engine.user_stats(limit=2)
    assert [u.executions for u in users] == sorted((u.executions for u in users), reverse=True)
    assert top == users[:2]
    for u in users:
        runs = workload.users[u.user_id]
        assert u.executions == len(runs)
        assert u.failed == sum(1 for _, st in runs if st == semconv.STATUS_ERROR)
        assert u.p95 == pytest.approx(_inclusive([d for d, _ in runs])["p95"], abs=1e-8)


def test_errors_by_type_counts_failed_steps(workload: Workload) -> None:
    """Failed steps are counted per workflow, step, error type and category."""
    with AnalyticsEngine.from_store(workload.path) as engine:
        errors = engine.errors_by_type()
        failed = {(s.workflow, s.step): s.failed for s in engine.step_stats() if s.failed}
    assert {(e.workflow, e.step): e.count for e in errors} == failed
    assert {(e.error_type, e.error_category) for e in errors} == {("TimeoutError", "timeout")}


def test_outliers_are_all_reported_with_trace_ids(workload: Workload) -> None:
    """Every execution above its workflow's p90 is reported, slowest first, with ids."""
    with AnalyticsEngine.from_store(workload.path) as engine:
        outliers = engine.outliers(0.9)
        limited = engine.outliers(0.9, limit=3)
    expected = 0
    for durations in workload.durations.values():
        threshold = statistics.quantiles(durations, n=10, method="inclusive")[8]
        expected += sum(1 for d in durations if d > threshold + 1e-9)
    assert len(outliers) == expected
    assert [o.duration for o in outliers] == sorted((o.duration for o in outliers), reverse=True)
    assert all(len(o.trace_id) == 32 and len(o.span_id) == 16 for o in outliers)
    assert all(o.duration > o.threshold for o in outliers)
    assert limited == outliers[:3]


def test_trends_bucket_counts_and_values(factory: SpanFactory, tmp_path: Path) -> None:
    """Trends give every bucket in the range, in order, with per-bucket values."""
    for i in range(6):  # two executions in each of minutes 0, 1, 2 (none in minute 3)
        status = semconv.STATUS_ERROR if i == 5 else semconv.STATUS_OK
        factory.execution("order", (i // 2) * 60 + i % 2, 1.0 + i, status=status)
    path = factory.write(tmp_path / "s.db")
    with AnalyticsEngine.from_store(path) as engine:
        window: dict[str, Any] = {"since": BASE, "until": BASE + timedelta(minutes=4)}
        counts = engine.trends("count", "1m", **window)
        rates = engine.trends("error_rate", "1m", **window)
        p50 = engine.trends("p50", "1m", **window)
        per_wf = engine.trends("throughput", "2m", per_workflow=True, **window)
    assert [p.value for p in counts] == [2, 2, 2, 0]
    assert [p.start for p in counts] == [BASE + timedelta(minutes=m) for m in range(4)]
    assert [p.value for p in rates] == [0.0, 0.0, 0.5, None]
    assert [p.value for p in p50] == [1.5, 3.5, 5.5, None]
    assert [(p.workflow, p.value) for p in per_wf] == [("order", 2.0), ("order", 1.0)]


def test_concurrency_peak_and_average(factory: SpanFactory, tmp_path: Path) -> None:
    """Peak and time-weighted average of overlapping executions are exact."""
    factory.execution("a", 0, 10.0)  # active 0..10
    factory.execution("a", 2, 4.0)  # active 2..6
    factory.execution("b", 5, 5.0)  # active 5..10
    path = factory.write(tmp_path / "s.db")
    with AnalyticsEngine.from_store(path) as engine:
        c = engine.concurrency(since=BASE, until=BASE + timedelta(seconds=10))
        only_b = engine.concurrency("b", since=BASE, until=BASE + timedelta(seconds=10))
    assert c.peak_active == 3
    assert c.peak_at == BASE + timedelta(seconds=5)
    assert c.avg_active == pytest.approx((10 + 4 + 5) / 10)
    assert only_b.peak_active == 1 and only_b.avg_active == pytest.approx(0.5)


def test_resource_usage_reports_memory_cpu_and_step_cpu(workload: Workload) -> None:
    """Resource usage has process memory and CPU and the CPU time per step."""
    with AnalyticsEngine.from_store(workload.path) as engine:
        usage = engine.resource_usage()
    assert usage.memory_peak_bytes is not None and usage.memory_peak_bytes > 0
    assert usage.processes == 1
    # One process wrote the store: its CPU use is its last sample minus its first, and no
    # more than this process has used so far.
    with sqlite3.connect(workload.path) as db:
        ((first, last),) = db.execute(
            "SELECT min(cpu_seconds), max(cpu_seconds) FROM process_samples"
        ).fetchall()
    assert usage.process_cpu_seconds == pytest.approx(last - first)
    assert usage.process_cpu_seconds <= time.process_time()
    by_step = {(s.workflow, s.step): s for s in usage.steps}
    for key, durations in workload.step_durations.items():
        assert by_step[key].total_cpu_time == pytest.approx(sum(d / 2 for d in durations))
        assert by_step[key].count == len(durations)


def test_slowest_and_most_failed_steps(workload: Workload) -> None:
    """slowest_steps ranks by the chosen statistic; most_failed_steps by failures."""
    with AnalyticsEngine.from_store(workload.path) as engine:
        slow = engine.slowest_steps(limit=3, by="p99")
        failed = engine.most_failed_steps(limit=10)
        every = engine.step_stats()
    assert [s.p99 for s in slow] == sorted((s.p99 or 0 for s in every), reverse=True)[:3]
    assert all(s.step == "charge" for s in failed)
    assert [s.failed for s in failed] == sorted((s.failed for s in failed), reverse=True)


def test_dashboard_data_is_one_versioned_document(workload: Workload) -> None:
    """dashboard_data has every section, JSON-ready, with the version and range."""
    import json

    with AnalyticsEngine.from_store(workload.path) as engine:
        doc = engine.dashboard_data(since=BASE, until=BASE + timedelta(hours=1), interval="10m")
    json.dumps(doc)  # serialisable as it is
    assert doc["version"] == 1 and doc["backend"] == "store"
    assert {w["workflow"] for w in doc["workflows"]} == set(workload.durations)
    assert len(doc["trends"]["throughput"]) == 6
    for section in ("steps", "slowest_steps", "errors_by_type", "by_type", "outliers", "users"):
        assert doc[section], section
    assert doc["concurrency"]["peak_active"] >= 1
