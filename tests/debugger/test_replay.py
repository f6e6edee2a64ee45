"""Replay and fork from the store's recording, overrides, divergence, restore from a snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import otel_workflow as ow
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


@ow.workflow(capture=True)
def buy(order: dict) -> str:
    if ORDER[0] == "charge":  # the code changed since the recording: an extra first step
        charge(0)
    return charge(price(order))


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


def test_replay_without_capture_says_how_to_turn_it_on(dbg: WorkflowDebugger, recorded: str,
                                                       tmp_path: Path) -> None:  # fmt: skip
    """An execution recorded without captured values cannot be replayed; the error says why."""
    uncaptured(1)
    with pytest.raises(ReplayError, match="capture=True"):
        dbg.replay(dbg.last_execution_id or "", from_step=None)
