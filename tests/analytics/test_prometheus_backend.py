"""The Prometheus backend: clear errors, and agreement with the store on one real workload."""

from __future__ import annotations

import bisect
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from otel_workflow import semconv
from otel_workflow.analytics import AnalyticsEngine
from otel_workflow.analytics._percentile import percentile
from tests.analytics._agreement_workload import RETRY_PROBE_RUNS
from tests.support.prometheus import PrometheusProcess, PrometheusStarter, prometheus_factory

REPO = Path(__file__).resolve().parents[2]


def _free_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the socket is closed


def test_unreachable_prometheus_names_the_url() -> None:
    """A query to a Prometheus that is not there is a ConnectionError naming the URL."""
    url = _free_port_url()
    engine = AnalyticsEngine.from_prometheus(url, timeout=5)
    with pytest.raises(ConnectionError, match=f"cannot reach Prometheus at {url}"):
        engine.workflow_stats(since="1h")


@pytest.mark.parametrize("url", ["localhost:9090", "ftp://x", "", "http://"])
def test_bad_prometheus_url_is_refused(url: str) -> None:
    """A URL that is not http(s)://host is refused up front."""
    with pytest.raises(ValueError, match="Prometheus URL must be"):
        AnalyticsEngine.from_prometheus(url)


def test_per_user_and_per_execution_views_explain_why_not() -> None:
    """users, outliers and raw exports say Prometheus has no such data, by design."""
    engine = AnalyticsEngine.from_prometheus(_free_port_url())
    with pytest.raises(NotImplementedError, match="no user label by design"):
        engine.user_stats()
    with pytest.raises(NotImplementedError, match="per-execution data"):
        engine.outliers()
    with pytest.raises(NotImplementedError, match="raw executions exports"):
        engine.export_csv("/dev/null")


# --- agreement on one real workload -------------------------------------------------------
_EXECUTIONS = 300


def _read(proc: subprocess.Popen[str], tag: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith(tag + " "):
        raise AssertionError(f"workload said {line!r} (exit {proc.poll()}), expected {tag}")
    return line.split()[1]


def _sample_after(prom: PrometheusProcess, moment: float) -> float:
    """The timestamp of the first scrape of the workload taken after ``moment``."""
    result = prom.wait_for(
        f"max(timestamp({semconv.PROM_WORKFLOW_EXECUTIONS}))",
        lambda r: bool(r) and float(r[0]["value"][1]) > moment,
        timeout=60,
    )
    return float(result[0]["value"][1])


@pytest.fixture(scope="module")
def agreement(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[AnalyticsEngine, AnalyticsEngine, datetime, datetime]]:
    """Prometheus and store engines over the same measured run, and its exact range."""
    import otel_workflow

    if not hasattr(otel_workflow, "configure"):
        pytest.skip("otel_workflow.configure (the core SDK) is not available yet")
    store = tmp_path_factory.mktemp("agreement") / "store.db"
    with prometheus_factory(tmp_path_factory) as start:
        starter: PrometheusStarter = start
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.analytics._agreement_workload", str(store),
             str(_EXECUTIONS)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(REPO),
        )  # fmt: skip
        try:
            port = int(_read(proc, "METRICS_PORT"))
            prom = starter([f"127.0.0.1:{port}"])
            warm = float(_read(proc, "WARM"))
            # The range starts exactly on a scrape holding the warm-up totals: increase()
            # then needs no extrapolation at that end, and every series already exists.
            t0 = _sample_after(prom, warm)
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
            done = float(_read(proc, "DONE"))
            t1 = _sample_after(prom, done)
            since = datetime.fromtimestamp(t0, timezone.utc)
            until = datetime.fromtimestamp(t1, timezone.utc)
            with AnalyticsEngine.from_store(store) as store_engine:
                yield AnalyticsEngine.from_prometheus(prom.url), store_engine, since, until
        finally:
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _bucket(value: float) -> int:
    return bisect.bisect_left(semconv.DURATION_BUCKETS, value)


def _agrees(prom_value: float | None, sorted_durations: list[float], q: float) -> bool:
    """Prometheus' estimate lies in a bucket holding the exact value at q (± one rank)."""
    if prom_value is None:
        return False
    n = len(sorted_durations)
    step = 1 / max(n - 1, 1)
    candidates = {
        _bucket(v)
        for r in (max(0.0, q - step), q, min(1.0, q + step))
        if (v := percentile(sorted_durations, r)) is not None
    }
    return _bucket(prom_value) in candidates


def _close(a: float, b: float) -> bool:
    # Counts are whole executions; allow one or two that a new series' first scrape hides.
    return abs(a - b) <= max(2.0, 0.02 * b)


@pytest.mark.integration
def test_workflow_stats_agree(
    agreement: tuple[AnalyticsEngine, AnalyticsEngine, datetime, datetime],
) -> None:
    """Per-workflow counts, rates, averages and percentiles agree between the backends."""
    prom, store, since, until = agreement
    p_stats = {s.workflow: s for s in prom.workflow_stats(since=since, until=until)}
    s_stats = {s.workflow: s for s in store.workflow_stats(since=since, until=until)}
    assert set(p_stats) == set(s_stats) and s_stats
    assert sum(s.count for n, s in s_stats.items() if n != "retry_probe") == _EXECUTIONS
    for name, s in s_stats.items():
        p = p_stats[name]
        assert p.workflow_type == s.workflow_type
        assert _close(p.count, s.count), (name, p.count, s.count)
        assert _close(p.failed, s.failed), (name, p.failed, s.failed)
        assert p.error_rate == pytest.approx(s.error_rate, abs=0.02)
        # The histogram observes the decorator's timer, the store the span's start and end,
        # which also cover the span's own bookkeeping (a fraction of a millisecond).
        assert p.avg == pytest.approx(s.avg, rel=0.02, abs=5e-4)
        columns, rows_iter = store.iter_rows("executions", name, since, until)
        durations = sorted(r[columns.index("duration_seconds")] for r in rows_iter)
        for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            assert _agrees(getattr(p, key), durations, q), (
                name,
                key,
                getattr(p, key),
                getattr(s, key),
            )


@pytest.mark.integration
def test_step_stats_and_errors_agree(
    agreement: tuple[AnalyticsEngine, AnalyticsEngine, datetime, datetime],
) -> None:
    """Per-step counts, failures, percentiles and errors by type agree between the backends."""
    prom, store, since, until = agreement
    p_steps = {(s.workflow, s.step): s for s in prom.step_stats(since=since, until=until)}
    s_steps = {(s.workflow, s.step): s for s in store.step_stats(since=since, until=until)}
    assert set(p_steps) == set(s_steps) and s_steps
    columns, rows = store.iter_rows("steps", None, since, until)
    by_key: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        key = (row[columns.index("workflow")], row[columns.index("step")])
        by_key.setdefault(key, []).append(row[columns.index("duration_seconds")])
    for key, s in s_steps.items():
        p = p_steps[key]
        assert _close(p.count, s.count), (key, p.count, s.count)
        assert _close(p.failed, s.failed), (key, p.failed, s.failed)
        durations = sorted(by_key[key])
        assert _agrees(p.p95, durations, 0.95), (key, p.p95, s.p95)
    p_errors = {
        (e.workflow, e.step, e.error_type): e.count
        for e in prom.errors_by_type(since=since, until=until)
    }
    s_errors = {
        (e.workflow, e.step, e.error_type): e.count
        for e in store.errors_by_type(since=since, until=until)
    }
    assert s_errors and set(p_errors) <= set(s_errors)
    for error_key, count in s_errors.items():
        # An error series first seen in the measured run may hide its first scrape's count.
        found = p_errors.get(error_key, 0)
        assert _close(found, count), (error_key, found, count)


@pytest.mark.integration
def test_types_trends_and_resources_agree(
    agreement: tuple[AnalyticsEngine, AnalyticsEngine, datetime, datetime],
) -> None:
    """Per-type counts, the total of a count trend, and resource figures agree."""
    prom, store, since, until = agreement
    p_types = {t.workflow_type: t.count for t in prom.by_type(since=since, until=until)}
    s_types = {t.workflow_type: t.count for t in store.by_type(since=since, until=until)}
    assert set(p_types) == set(s_types)
    for wtype, count in s_types.items():
        assert _close(p_types[wtype], count)
    usage = prom.resource_usage(since=since, until=until)
    assert usage.memory_peak_bytes is not None and usage.memory_peak_bytes > 0
    assert {(s.workflow, s.step) for s in usage.steps} <= {
        (s.workflow, s.step) for s in store.resource_usage(since=since, until=until).steps
    }
    trend = prom.trends("count", "1h", since=since, until=until)
    assert trend and all(p.start <= until for p in trend)
    # Scrapes sample the gauge, so they never see more in flight than the exact peak.
    exact = store.concurrency(since=since, until=until).peak_active
    assert exact >= 1 and 0 <= prom.concurrency(since=since, until=until).peak_active <= exact


@pytest.mark.integration
def test_retried_attempts_are_not_failures_on_either_backend(
    agreement: tuple[AnalyticsEngine, AnalyticsEngine, datetime, datetime],
) -> None:
    """A step failing twice then succeeding: retried 2 per call, failed 0, on both backends."""
    prom, store, since, until = agreement
    expected = (RETRY_PROBE_RUNS, 0, 2 * RETRY_PROBE_RUNS)
    for engine in (store, prom):
        (step,) = engine.step_stats("retry_probe", "flaky", since=since, until=until)
        assert (step.succeeded, step.failed, step.retried) == expected, engine.backend_name
        assert step.error_rate == 0.0
        (flow,) = engine.workflow_stats("retry_probe", since=since, until=until)
        assert flow.failed == 0 and flow.error_rate == 0.0
        assert not [e for e in engine.errors_by_type(since=since, until=until)
                    if e.workflow == "retry_probe"], engine.backend_name  # fmt: skip
        assert not [s for s in engine.most_failed_steps(since=since, until=until)
                    if s.workflow == "retry_probe"], engine.backend_name  # fmt: skip
