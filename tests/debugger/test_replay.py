"""Replay and fork from the store's recording, overrides, divergence, restore from a snapshot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow.debugger import WorkflowDebugger
from otel_workflow.debugger.replay import ReplayDivergence, ReplayError
from otel_workflow.exporters.store import SQLiteSpanExporter
from otel_workflow.testing import TelemetryCapture

RUNS: list[str] = []
ORDER = ["price", "charge"]


@ow.step(capture=True)
def price(order: dict) -> int:
    RUNS.append("price")
    return order["qty"] * 10


@ow.step(capture=True)
def charge(amount: int) -> str:
    RUNS.append("charge")
    return f"charged {amount}"


CATCH: list[bool] = []


@ow.workflow(capture=True)
def buy(order: dict) -> str:
    if ORDER[0] == "charge":  # the code changed since the recording: an extra first step
        try:
            charge(0)
        except ReplayDivergence:
            if not CATCH:
                raise
    return charge(price(order))


@ow.step(capture=True)
async def aprice(order: dict) -> int:
    RUNS.append("aprice")
    return order["qty"] * 10


@ow.step(capture=True)
async def acharge(amount: int) -> str:
    RUNS.append("acharge")
    return f"charged {amount}"


@ow.workflow(capture=True)
async def abuy(order: dict) -> str:
    return await acharge(await aprice(order))


@ow.workflow
def uncaptured(x: int) -> int:
    return x


@pytest.fixture
def recorded(ow_telemetry: TelemetryCapture, dbg: WorkflowDebugger, tmp_path: Path) -> str:
    """Run ``buy`` once with the span store attached; return its execution id."""
    exporter = SQLiteSpanExporter(str(tmp_path / "store.db"))
    ow_telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    buy({"qty": 3})
    RUNS.clear()
    assert dbg.last_execution_id is not None
    return dbg.last_execution_id


def test_replay_serves_steps_before_from_step(dbg: WorkflowDebugger, recorded: str) -> None:
    """Steps before from_step return recorded outputs without running; the rest run live."""
    assert dbg.replay(recorded, from_step="charge") == "charged 30"
    assert RUNS == ["charge"]
    assert dbg.last_execution_id not in (None, recorded)


def test_step_overrides_replace_recorded_inputs(dbg: WorkflowDebugger, recorded: str) -> None:
    """step_overrides change a live step's arguments in the fork."""
    assert (
        dbg.replay(recorded, from_step="charge", step_overrides={"charge": {"amount": 5}})
        == "charged 5"
    )


def test_fork_is_linked_to_the_original(dbg: WorkflowDebugger, recorded: str,
                                       ow_telemetry: TelemetryCapture) -> None:  # fmt: skip
    """The fork's workflow span names the original execution and links to its span."""
    dbg.replay(recorded, from_step="charge")
    fork = ow_telemetry.workflow_spans("buy")[-1]
    assert (
        fork.attributes is not None and fork.attributes["workflow.debugger.replay_of"] == recorded
    )
    assert len(fork.links) == 1


def test_divergence_is_a_clear_error(dbg: WorkflowDebugger, recorded: str) -> None:
    """Code calling steps in another order than recorded raises ReplayDivergence."""
    ORDER[:] = ["charge", "price"]
    try:
        with pytest.raises(ReplayDivergence, match=r"step 0: recorded 'price'.*'charge'"):
            dbg.replay(recorded, from_step="charge")
    finally:
        ORDER[:] = ["price", "charge"]
    assert RUNS == []


def test_divergence_fails_the_diverging_step_at_once(
    dbg: WorkflowDebugger, recorded: str, ow_telemetry: TelemetryCapture
) -> None:
    """The diverging step raises the divergence (its span says so); a workflow that catches
    it still runs nothing live after it."""
    ORDER[:] = ["charge", "price"]
    CATCH.append(True)
    try:
        with pytest.raises(ReplayDivergence, match="step 0"):
            dbg.replay(recorded, from_step="charge")
    finally:
        ORDER[:] = ["price", "charge"]
        CATCH.clear()
    assert RUNS == []
    failed = [
        (s.name, (s.attributes or {}).get(semconv.STEP_INDEX))
        for s in ow_telemetry.step_spans()
        for e in s.events
        if str((e.attributes or {}).get("exception.type")).endswith("ReplayDivergence")
    ]
    # charge(0) diverged; price, called after the workflow caught it, raised it again.
    assert failed == [("charge", 0), ("price", 1)]


def test_async_workflow_replays(
    dbg: WorkflowDebugger, ow_telemetry: TelemetryCapture, tmp_path: Path
) -> None:
    """replay_async serves the recorded steps of an async workflow and runs the rest live."""
    exporter = SQLiteSpanExporter(str(tmp_path / "store.db"))
    ow_telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    asyncio.run(abuy({"qty": 2}))
    original = dbg.last_execution_id
    RUNS.clear()
    assert original is not None
    result = asyncio.run(dbg.replay_async(original, from_step="acharge",
                                          step_overrides={"acharge": {"amount": 7}}))  # fmt: skip
    assert result == "charged 7"
    assert RUNS == ["acharge"]
    assert dbg.last_execution_id not in (None, original)


def test_replay_without_capture_says_how_to_turn_it_on(dbg: WorkflowDebugger, recorded: str,
                                                       tmp_path: Path) -> None:  # fmt: skip
    """An execution recorded without captured values cannot be replayed; the error says why."""
    uncaptured(1)
    with pytest.raises(ReplayError, match="capture=True"):
        dbg.replay(dbg.last_execution_id or "", from_step=None)
