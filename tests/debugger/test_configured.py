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


def test_in_memory_default_moves_to_a_later_configured_store(tmp_path: Path) -> None:
    """A debugger made before configure(store=...) moves there with its breakpoints."""
    assert config.current() is None
    set_default(None)
    early = ow.debugger()
    bp = early.set_breakpoint(step="charge", condition="total > 1")
    store = tmp_path / "later.db"
    handle = ow.configure(store=store, tracer_provider=TracerProvider())
    try:
        moved = ow.debugger()
        assert moved is not early and moved.store is not None and moved.store.path == store
        assert [b.id for b in moved.list_breakpoints()] == [bp.id]
        other = WorkflowDebugger(store)
        try:
            assert [b.condition for b in other.list_breakpoints()] == ["total > 1"]
        finally:
            other.close()
        moved.close()
    finally:
        handle.shutdown(5000)
        set_default(None)
