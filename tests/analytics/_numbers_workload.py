"""Small stores for the tests of the numbers everyone reads (retries, rates, drops)."""

from __future__ import annotations

from pathlib import Path

import otel_workflow as ow
from otel_workflow.exporters.store import SQLiteSpanExporter
from otel_workflow.testing import TelemetryCapture

from .conftest import SpanFactory


def retry_store(capture: TelemetryCapture, path: Path, *, dropped: int = 0) -> Path:
    """One checkout whose ``charge`` step fails twice and then succeeds, written to ``path``.

    The spans come from the real step machine (``@ow.step(retries=3)``).
    """
    attempts: list[int] = []

    @ow.step(name="charge", retries=3, backoff=0)
    def charge() -> str:
        attempts.append(1)
        if len(attempts) <= 2:
            raise ConnectionError("gateway down")
        return "paid"

    @ow.workflow(name="checkout", type="order")
    def checkout() -> str:
        return charge()

    assert checkout() == "paid" and len(attempts) == 3
    exporter = SQLiteSpanExporter(path)
    try:
        assert exporter.export(capture.spans()).name == "SUCCESS"
        if dropped:
            exporter.note_dropped("queue_full", dropped)
            exporter.note_dropped("export_failed", 2)
    finally:
        exporter.shutdown()
    return path


def three_second_store(factory: SpanFactory, path: Path) -> Path:
    """60 executions, the first starting at 0 s and the last ending at 3 s."""
    for i in range(60):
        factory.execution("burst", i * 0.05, 0.05, steps=[{"name": "work", "duration": 0.05}])
    return factory.write(path)
