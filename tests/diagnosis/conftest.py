"""Fixtures: the step machine on a real SQLite store with the diagnosis recorder and hook."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from otel_workflow.diagnosis.api import Installed, install
from otel_workflow.diagnosis.live import LIVE
from otel_workflow.store import SQLiteSpanExporter, StoreSpanProcessor
from otel_workflow.testing import TelemetryCapture


@dataclass
class Recorded:
    """A store file fed by the store processor and the diagnosis recorder."""

    path: Path
    store: StoreSpanProcessor
    installed: Installed
    telemetry: TelemetryCapture

    def flush(self) -> None:
        """Write everything both processors hold (spans first, then failures)."""
        assert self.store.force_flush(10_000)
        assert self.installed.processor.force_flush(10_000)


@pytest.fixture
def recorded(ow_telemetry: TelemetryCapture, tmp_path: Path) -> Iterator[Recorded]:
    """Spans to a real store file; failures recorded by the diagnosis; the hook registered."""
    path = tmp_path / "store.db"
    store = StoreSpanProcessor(SQLiteSpanExporter(path))
    ow_telemetry.tracer_provider.add_span_processor(store)
    installed = install(ow_telemetry.tracer_provider, path)
    LIVE.clear()
    try:
        yield Recorded(path, store, installed, ow_telemetry)
    finally:
        installed.uninstall()
        store.shutdown()
        LIVE.clear()
