"""Non-breaking snapshots, diffs, watches and execution traces."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import otel_workflow as ow
from otel_workflow.debugger import WorkflowDebugger
from otel_workflow.testing import TelemetryCapture


@ow.step
def add_item(cart: dict, sku: str) -> dict:
    return {**cart, "items": [*cart["items"], sku], "status": "open"}


@ow.step
def close(cart: dict) -> dict:
    return {**cart, "status": "closed"}


@ow.workflow
def shop(cart: dict, n: int) -> dict:
    for i in range(n):
        cart = add_item(cart, f"sku-{i}")
    return close(cart)


def test_snapshot_breakpoint_is_rate_limited_over_10000_calls(
    dbg: WorkflowDebugger, ow_telemetry: TelemetryCapture
) -> None:
    """10,000 hits of a snapshot breakpoint take about one snapshot per second, never blocking."""
    bp = dbg.set_breakpoint(step="add_item", action="snapshot")
    shop({"items": [], "token": "secret!"}, 10_000)
    snaps = dbg.snapshots()
    assert bp.hit_count == 10_000
    assert 1 <= len(snaps) <= 60  # one per second of the loop, however slow the machine
    assert snaps[0].state["variables"]["cart"]["token"] == "[REDACTED]"
    events = [e for s in ow_telemetry.step_spans("add_item") for e in s.events
              if e.name == "workflow.debugger.snapshot"]  # fmt: skip
    assert len(events) == len(snaps)


def test_snapshot_ttl_disables_the_breakpoint(dbg: WorkflowDebugger) -> None:
    """A snapshot breakpoint past its time to live disables itself and says so."""
    bp = dbg.set_breakpoint(step="add_item", action="snapshot", ttl=1e-9)
    shop({"items": []}, 1)
    assert not bp.enabled and "time to live" in (bp.disabled_reason or "")
    assert dbg.snapshots() == []


def test_log_breakpoint_renders_its_template(dbg: WorkflowDebugger) -> None:
    """A log breakpoint emits its rendered message without stopping."""
    lines: list[str] = []
    dbg.add_listener(lambda e: e.kind == "log" and lines.append(e.data["message"]))
    dbg.set_breakpoint(step="close", action="log", message="closing {len(cart['items'])} items")
    shop({"items": []}, 3)
    assert lines == ["closing 3 items"]


def test_compare_snapshots_names_the_step_that_changed_each_path(dbg: WorkflowDebugger) -> None:
    """The diff of two snapshots lists added and changed paths with their writer step."""
    dbg.set_breakpoint(step="add_item", action="snapshot", rate_limit=1000)
    dbg.set_breakpoint(step="close", action="snapshot", rate_limit=1000)
    shop({"items": []}, 2)
    first, *_, last = dbg.snapshots()
    changes = {c.path: c for c in dbg.compare(first, last)}
    added = changes["steps.add_item#1.items[1]"]
    assert (added.kind, added.after, added.step) == ("added", "sku-1", "add_item")
    assert changes["variables.step"].kind == "changed"


def test_watch_fires_when_the_value_changes(dbg: WorkflowDebugger) -> None:
    """A watch reports each change of its value with the step after which it changed."""
    watch = dbg.watch("result['status']", workflow="shop")
    shop({"items": []}, 2)
    changes = [(e["old"], e["new"], e["step"]) for e in dbg.watch_events(watch.id)]
    assert changes == [("open", "closed", "close")]


def test_trace_is_ordered_and_readable_from_another_debugger(dbg: WorkflowDebugger,
                                                              tmp_path: Path) -> None:  # fmt: skip
    """A trace records enter/exit with arguments and results, readable after the run."""
    dbg.start_trace(workflow="shop")
    started = time.time()
    shop({"items": []}, 1)
    ended = time.time()
    eid = dbg.last_execution_id
    assert eid is not None
    other = WorkflowDebugger(tmp_path / "store.db")
    trace = other.get_trace(eid)
    assert [(e["event"], e["name"]) for e in trace] == [
        ("enter", "shop"), ("enter", "add_item"), ("exit", "add_item"), ("enter", "close"),
        ("exit", "close"), ("exit", "shop"),
    ]  # fmt: skip
    assert trace[1]["arguments"]["sku"] == "sku-0"
    assert trace[-1]["result"]["status"] == "closed"
    # Each exit's duration is the time since its own enter, inside the call's wall time,
    # and the workflow's covers its steps'.
    enters: list[dict] = []
    durations: dict[str, float] = {}
    for e in trace:
        if e["event"] == "enter":
            enters.append(e)
            continue
        enter = enters.pop()
        assert enter["name"] == e["name"]
        assert e["duration"] == pytest.approx(e["ts"] - enter["ts"])
        assert started <= enter["ts"] <= e["ts"] <= ended
        durations[e["name"]] = e["duration"]
    assert durations["shop"] >= durations["add_item"] + durations["close"]
    assert durations["shop"] <= ended - started
