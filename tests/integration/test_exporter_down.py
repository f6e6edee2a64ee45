"""Exporter down: the application keeps working, memory stays bounded, drops are counted."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.integration._subprocess import run_child

pytestmark = pytest.mark.integration

WARMUP = 2_000
CALLS = 30_000  # 60,000 spans: far beyond the batch queue, so an unbounded queue would show
# Each span held in memory costs well over 1 KiB; a queue that kept all 60,000 would add
# tens of MiB, so a bounded pipeline stays far below this.
RSS_GROWTH_LIMIT = 32 * 1024 * 1024
SHUTDOWN_DEADLINE_MS = 3000
EXPORTER_TIMEOUT_S = 10  # OTEL_EXPORTER_OTLP_TIMEOUT's default


def _closed_port() -> int:
    # Bind then close: nothing listens there for the test's duration (127.0.0.1 only).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def down() -> dict[str, Any]:
    """The exporter_down scenario against a closed OTLP port (run once for the module)."""
    port = _closed_port()
    return run_child(
        "exporter_down",
        # The exporter's own timeout stays at its 10 s default: only the handle's deadline
        # can make shutdown return sooner than that.
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
             "OTEL_METRIC_EXPORT_INTERVAL": "500"},
        timeout=240, warmup=WARMUP, calls=CALLS, shutdown_timeout_ms=SHUTDOWN_DEADLINE_MS,
    )  # fmt: skip


def test_results_are_correct_with_the_exporter_down(down: dict[str, Any]) -> None:
    """Every call returns its correct value while the OTLP endpoint refuses connections."""
    assert down["wrong_results"] == 0
    assert down["executions"] >= WARMUP + CALLS


def test_batch_queue_stays_bounded(down: dict[str, Any]) -> None:
    """The OTLP batch queue never holds more than its limit."""
    assert down["queues"], "configure() added no batch processor for OTLP"
    for queue in down["queues"]:
        assert queue["length"] <= queue["limit"]


def test_memory_growth_is_bounded(down: dict[str, Any]) -> None:
    """Resident memory grows by less than the spans would take if they were all kept."""
    assert down["rss_after"] - down["rss_before"] < RSS_GROWTH_LIMIT


def test_drops_are_counted_in_metrics(down: dict[str, Any]) -> None:
    """otel_workflow_spans_dropped_total on /metrics counts the spans that could not leave."""
    assert down["dropped"] > 0


def test_shutdown_returns_at_its_deadline(down: dict[str, Any]) -> None:
    """handle.shutdown(timeout) gives up at its deadline, reporting False, not at the exporter's."""
    assert down["shutdown_result"] is False
    # Generous: only checks it did not wait for the exporter's own retries to run out.
    assert down["shutdown_seconds"] < EXPORTER_TIMEOUT_S - 1
