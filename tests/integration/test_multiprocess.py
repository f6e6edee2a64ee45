"""One /metrics across real worker processes (fork and spawn) sharing a directory."""

from __future__ import annotations

import multiprocessing
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_workflow import semconv
from otel_workflow.exporters.prometheus import MetricsServer
from tests.integration import _mp_worker as worker
from tests.integration._exposition import sample_sum

pytestmark = pytest.mark.integration

START_METHODS = [m for m in ("fork", "spawn") if m in multiprocessing.get_all_start_methods()]
# (start method, executions, hold): two workers finish, one stays inside an execution.
PLAN = [("fork", 10, False), ("spawn", 7, False), ("fork", 5, True)]
JOB = {semconv.PROM_LABEL_WORKFLOW: worker.JOB}
HOLD = {semconv.PROM_LABEL_WORKFLOW: worker.HOLD}


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
    assert os.path.exists(directory / f"otel-workflow-{held.pid}.json")
