"""ow.debugger() on the store configure() opened, built lazily; the store's debugger component."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

import otel_workflow as ow
from otel_workflow import config
from otel_workflow.debugger import WorkflowDebugger, set_default
from otel_workflow.debugger.store import DEBUGGER
from otel_workflow.store import read_component_version


def _pollers() -> int:
    return sum(t.name == "otel-workflow-debugger-poll" for t in threading.enumerate())


@pytest.fixture
def configured(tmp_path: Path) -> Iterator[Path]:
    """configure() with a store file and a private provider; everything undone afterwards."""
    assert config.current() is None
    store = tmp_path / "configured.db"
    handle = ow.configure(store=store, tracer_provider=TracerProvider())
    try:
        yield store
    finally:
        handle.shutdown(5000)
        set_default(None)


def test_configure_builds_no_debugger_until_asked(configured: Path) -> None:
    """configure() alone starts no poller and adds no debugger tables to the store."""
    pollers = _pollers()
    ow.step(lambda: None)()
    assert _pollers() == pollers
    with sqlite3.connect(configured) as conn:
        assert read_component_version(conn, DEBUGGER.name) == 0


def test_debugger_persists_to_the_configured_store(configured: Path) -> None:
    """ow.debugger() after configure(store=...) writes its breakpoints to that store."""
    dbg = ow.debugger()
    try:
        assert dbg.store is not None and dbg.store.path == configured
        assert ow.debugger() is dbg
        bp = dbg.set_breakpoint(step="charge")
        other = WorkflowDebugger(configured)
        try:
            assert [b.id for b in other.list_breakpoints()] == [bp.id]
        finally:
            other.close()
        with sqlite3.connect(configured) as conn:
            assert read_component_version(conn, DEBUGGER.name) == DEBUGGER.version
    finally:
        dbg.close()
