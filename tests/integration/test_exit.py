"""Interpreter exit without ``handle.shutdown()``: bounded by the deadline, last metrics sent."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from otel_workflow import semconv
from tests.integration._exit_child import EXIT_MARK
from tests.integration._subprocess import ROOT, child_env
from tests.support.otlp_receiver import OTLPReceiver

pytestmark = pytest.mark.integration

DEADLINE_MS = 1500
MARGIN_S = 3.0  # interpreter teardown; far below the exporter's own 10 s timeout
EXECUTIONS = 1_000


def _closed_port() -> int:
    # Bind then close: nothing listens there for the test's duration (127.0.0.1 only).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_child(endpoint: str) -> float:
    """Run the exit child against ``endpoint``; seconds from its last line to its exit."""
    env = child_env({
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_WORKFLOW_SHUTDOWN_TIMEOUT": str(DEADLINE_MS),
        # No periodic export during the run: only the exit hook can deliver the counts.
        "OTEL_METRIC_EXPORT_INTERVAL": "600000",
    })  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "tests.integration._exit_child", str(EXECUTIONS)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    ended = time.time()
    marks = [line for line in proc.stdout.splitlines() if line.startswith(EXIT_MARK)]
    assert proc.returncode == 0 and marks, proc.stderr
    return ended - float(marks[-1].removeprefix(EXIT_MARK))


def test_exit_is_bounded_by_the_deadline_when_the_collector_is_down() -> None:
    """With the collector's port closed, the process exits within the deadline plus a margin."""
    exit_seconds = _run_child(f"http://127.0.0.1:{_closed_port()}")
    assert exit_seconds < DEADLINE_MS / 1000 + MARGIN_S


def _total(receiver: OTLPReceiver, name: str) -> float:
    metric = receiver.latest_metric(name)
    assert metric is not None, f"{name} never arrived"
    return sum(point.as_double or point.as_int for point in metric.sum.data_points)


def test_exit_exports_every_execution_count(otlp_receiver: OTLPReceiver) -> None:
    """The receiver sees every workflow and step execution after the child exits."""
    _run_child(otlp_receiver.endpoint)
    assert _total(otlp_receiver, semconv.METRIC_WORKFLOW_EXECUTIONS) == EXECUTIONS
    assert _total(otlp_receiver, semconv.METRIC_STEP_EXECUTIONS) == EXECUTIONS
