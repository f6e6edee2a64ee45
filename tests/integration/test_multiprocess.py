"""One /metrics across real worker processes (fork and spawn) sharing a directory."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_workflow import semconv
from otel_workflow.exporters.aggregates import (
    COUNTER,
    GAUGE,
    MetricFamily,
    Series,
    families_to_json,
)
from otel_workflow.exporters.prometheus import MetricsServer
from tests.integration import _mp_worker as worker
from tests.integration._exposition import sample_sum

pytestmark = pytest.mark.integration

START_METHODS = [m for m in ("fork", "spawn") if m in multiprocessing.get_all_start_methods()]
# (start method, executions, hold): two workers finish, one stays inside an execution.
PLAN = [("fork", 10, False), ("spawn", 7, False), ("fork", 5, True)]
JOB = {semconv.PROM_LABEL_WORKFLOW: worker.JOB}
HOLD = {semconv.PROM_LABEL_WORKFLOW: worker.HOLD}
GHOST = "mp_ghost"


def _scrape(server: MetricsServer) -> str:
    with urllib.request.urlopen(server.url, timeout=10) as response:
        return str(response.read().decode("utf-8"))


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[Path, Any]]:
    """Run the finishing workers to completion and start the holding one; kill it at the end."""
    if "fork" not in START_METHODS or "spawn" not in START_METHODS:
        pytest.skip("needs both the fork and spawn start methods (POSIX)")
    directory = tmp_path / "multiproc"
    directory.mkdir()
    held: Any = None
    try:
        for method, executions, hold in PLAN:
            context: Any = multiprocessing.get_context(method)
            ready = context.Event()
            process = context.Process(target=worker.run_worker,
                                      args=(str(directory), executions, hold, ready))  # fmt: skip
            process.start()
            if hold:
                held = process
                assert ready.wait(60), "holding worker never became ready"
            else:
                process.join(60)
                assert process.exitcode == 0, f"{method} worker exited with {process.exitcode}"
        yield directory, held
    finally:
        if held is not None and held.is_alive():
            held.kill()
            held.join(30)


def test_served_metrics_are_the_sum_across_workers(workers: tuple[Path, Any]) -> None:
    """Counters and histograms on /metrics equal the sum over every worker's executions."""
    directory, _ = workers
    assert len(list(directory.glob("otel-workflow-*.json"))) == len(PLAN)
    ok = sum(worker.expected_counts(n)[0] for _, n, _ in PLAN)
    errors = sum(worker.expected_counts(n)[1] for _, n, _ in PLAN)
    server = MetricsServer(0, multiprocess_dir=str(directory))
    try:
        text = _scrape(server)
    finally:
        server.close()
    status = semconv.PROM_LABEL_STATUS
    assert sample_sum(text, semconv.PROM_WORKFLOW_EXECUTIONS,
                      **JOB, **{status: semconv.STATUS_OK}) == ok  # fmt: skip
    assert sample_sum(text, semconv.PROM_WORKFLOW_EXECUTIONS,
                      **JOB, **{status: semconv.STATUS_ERROR}) == errors  # fmt: skip
    assert sample_sum(text, semconv.PROM_STEP_DURATION + "_count", **JOB) == ok + errors
    assert sample_sum(text, semconv.PROM_STEP_DURATION + "_bucket",
                      **JOB, **{semconv.PROM_LABEL_LE: "+Inf"}) == ok + errors  # fmt: skip
    assert sample_sum(text, semconv.PROM_STEP_ERRORS, **JOB) == errors
    assert sample_sum(text, semconv.PROM_WORKFLOW_ACTIVE, **HOLD) == 1


def test_dead_worker_keeps_counters_and_drops_gauges(workers: tuple[Path, Any]) -> None:
    """After a worker is killed its executions stay counted but its active gauge is gone."""
    directory, held = workers
    server = MetricsServer(0, multiprocess_dir=str(directory))
    try:
        before = _scrape(server)
        held.kill()
        held.join(30)
        assert not held.is_alive()
        after = _scrape(server)
    finally:
        server.close()
    assert sample_sum(before, semconv.PROM_WORKFLOW_ACTIVE, **HOLD) == 1
    assert sample_sum(after, semconv.PROM_WORKFLOW_ACTIVE, **HOLD) == 0
    for name in (semconv.PROM_WORKFLOW_EXECUTIONS, semconv.PROM_STEP_DURATION + "_count",
                 semconv.PROM_STEP_ERRORS):  # fmt: skip
        assert sample_sum(after, name, **JOB) == sample_sum(before, name, **JOB) > 0
    # The dead worker's own executions (5 of them) are among those still counted.
    assert sample_sum(after, semconv.PROM_WORKFLOW_EXECUTIONS, **JOB) == sum(n for _, n, _ in PLAN)
    # ... folded into the archive: the dead worker's own file is gone.
    assert not os.path.exists(directory / f"otel-workflow-{held.pid}.json")
    assert (directory / "otel-workflow.archive.json").exists()


def _ghost_file(directory: Path, pid: int, executions: int) -> None:
    """A worker file as process ``pid`` would have written it, with ``executions`` ok runs."""
    labels = {semconv.LABEL_WORKFLOW: GHOST, semconv.LABEL_WORKFLOW_TYPE: "mp",
              semconv.LABEL_STATUS: semconv.STATUS_OK}  # fmt: skip
    families = [
        MetricFamily(semconv.METRIC_WORKFLOW_EXECUTIONS, COUNTER, "1", "executions",
                     [Series(labels, value=executions)]),
        MetricFamily(semconv.METRIC_WORKFLOW_ACTIVE, GAUGE, "1", "active",
                     [Series(labels, value=1)], per_process=True),
    ]  # fmt: skip
    path = directory / f"otel-workflow-{pid}.json"
    path.write_text(json.dumps(families_to_json(families)), encoding="utf-8")


def _dead_pid(offset: int) -> int:
    # Above the kernel's pid_max no process can exist: these pids are dead for sure.
    return int(Path("/proc/sys/kernel/pid_max").read_text()) + 1 + offset


def test_dead_workers_are_folded_once_and_scrapes_stay_fast(tmp_path: Path) -> None:
    """2,000 dead workers' counts stay in the total after one fold, and later scrapes are fast."""
    if not Path("/proc/sys/kernel/pid_max").exists():
        pytest.skip("needs /proc/sys/kernel/pid_max (Linux) to pick pids that cannot be alive")
    dead = 2000
    for i in range(dead):
        _ghost_file(tmp_path, _dead_pid(i), executions=2)
    ghost = {semconv.PROM_LABEL_WORKFLOW: GHOST}
    server = MetricsServer(0, multiprocess_dir=str(tmp_path))
    try:
        folding = _scrape(server)
        assert len(list(tmp_path.glob("otel-workflow-*.json"))) == 1  # only this process's
        started = time.perf_counter()
        steady = _scrape(server)
        elapsed = time.perf_counter() - started
    finally:
        server.close()
    for text in (folding, steady):
        assert sample_sum(text, semconv.PROM_WORKFLOW_EXECUTIONS, **ghost) == 2 * dead
        assert sample_sum(text, semconv.PROM_WORKFLOW_ACTIVE, **ghost) == 0  # gauges: gone
    # Generous bound (the target is 50 ms; bench/metrics_bench.py measures it).
    assert elapsed < 1.0, f"a scrape after folding took {elapsed * 1000:.0f} ms"


def test_reused_pid_file_is_folded_not_overwritten(tmp_path: Path) -> None:
    """A file left under this process's pid by a dead process keeps its counts."""
    _ghost_file(tmp_path, os.getpid(), executions=3)
    text = _scrape_once(tmp_path)
    assert sample_sum(text, semconv.PROM_WORKFLOW_EXECUTIONS,
                      **{semconv.PROM_LABEL_WORKFLOW: GHOST}) == 3  # fmt: skip
    again = _scrape_once(tmp_path)
    assert sample_sum(again, semconv.PROM_WORKFLOW_EXECUTIONS,
                      **{semconv.PROM_LABEL_WORKFLOW: GHOST}) == 3  # fmt: skip


def _scrape_once(directory: Path) -> str:
    server = MetricsServer(0, multiprocess_dir=str(directory))
    try:
        return _scrape(server)
    finally:
        server.close()
