"""Fixtures: a debugger attached to the step machine for one test, on a real store file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_workflow.debugger import WorkflowDebugger
from otel_workflow.testing import TelemetryCapture


@pytest.fixture
def dbg(ow_telemetry: TelemetryCapture, tmp_path: Path) -> Iterator[WorkflowDebugger]:
    """A debugger on a fresh SQLite store, its hook registered, short pause timeout."""
    debugger = WorkflowDebugger(tmp_path / "store.db", pause_timeout=10).attach()
    try:
        yield debugger
    finally:
        debugger.close()
