"""Pausing at breakpoints, in threads and on an event loop, stepping, timeouts."""

from __future__ import annotations

import asyncio
import threading

import otel_workflow as ow
from otel_workflow.debugger import WorkflowDebugger


@ow.step
def validate(order: dict) -> dict:
    return {**order, "valid": True}


@ow.step
def charge(order: dict) -> dict:
    return {**order, "status": "charged"}


@ow.step
def ship(order: dict) -> dict:
    return {**order, "status": "shipped"}


@ow.workflow
def checkout(order: dict) -> dict:
    return ship(charge(validate(order)))


def _run_in_thread(order: dict) -> tuple[threading.Thread, list[dict]]:
    out: list[dict] = []
    thread = threading.Thread(target=lambda: out.append(checkout(order)), daemon=True)
    thread.start()
    return thread, out


def test_sync_breakpoint_pauses_its_thread_with_variables(dbg: WorkflowDebugger) -> None:
    """A conditional breakpoint stops the step's thread; variables hold captured arguments."""
    dbg.set_breakpoint(step="charge", condition="order['total'] > 100")
    thread, out = _run_in_thread({"total": 150, "items": [{"sku": "A-1"}], "password": "x"})
    paused = dbg.wait_for_pause(timeout=5)
    assert paused is not None and paused.step == "charge"
    assert [f.name for f in paused.stack] == ["checkout", "charge"]
    assert paused.inspect("order['items'][0]['sku']") == "A-1"
    assert paused.variables["order"]["password"] == "[REDACTED]"
    assert thread.is_alive() and not out
    dbg.resume(paused.execution_id)
    thread.join(5)
    assert out[0]["status"] == "shipped"


def test_false_condition_does_not_stop(dbg: WorkflowDebugger) -> None:
    """A breakpoint whose condition is false counts the hit and lets the call run."""
    bp = dbg.set_breakpoint(step="charge", condition="order['total'] > 100")
    assert checkout({"total": 5})["status"] == "shipped"
    assert bp.hit_count == 1


def test_step_over_then_step_out(dbg: WorkflowDebugger) -> None:
    """step_over stops at the next sibling step; step_out stops when the workflow ends."""
    dbg.set_breakpoint(step="validate")
    thread, out = _run_in_thread({"total": 1})
    first = dbg.wait_for_pause(timeout=5)
    assert first is not None and first.step == "validate"
    dbg.step_over(first.execution_id)
    second = dbg.wait_for_pause(timeout=5)
    assert second is not None and (second.step, second.phase) == ("charge", "before")
    dbg.step_out(second.execution_id)
    third = dbg.wait_for_pause(timeout=5)
    assert third is not None and (third.step, third.phase) == ("checkout", "after")
    assert third.variables["result"]["status"] == "shipped"
    dbg.resume(third.execution_id)
    thread.join(5)
    assert out


def test_step_into_stops_at_a_nested_step(dbg: WorkflowDebugger) -> None:
    """step_into from the workflow stops at the first step below it."""
    dbg.set_breakpoint(workflow="checkout")
    thread, _ = _run_in_thread({"total": 1})
    top = dbg.wait_for_pause(timeout=5)
    assert top is not None and top.kind == "workflow"
    dbg.step_into(top.execution_id)
    inner = dbg.wait_for_pause(timeout=5)
    assert inner is not None and inner.step == "validate"
    dbg.resume(inner.execution_id)
    thread.join(5)


def test_pause_timeout_resumes_and_records_it(ow_telemetry, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A forgotten pause resumes by itself after the timeout and says so on the span."""
    dbg = WorkflowDebugger(tmp_path / "s.db", pause_timeout=0.2).attach()
    events: list[str] = []
    dbg.add_listener(lambda e: events.append(f"{e.kind}:{e.data.get('reason', '')}"))
    try:
        dbg.set_breakpoint(step="charge")
        assert checkout({"total": 1})["status"] == "shipped"
    finally:
        dbg.detach()
    (span,) = ow_telemetry.step_spans("charge")
    assert any(e.name == "workflow.debugger.pause_timeout" for e in span.events)
    assert "resumed:timeout" in events


def test_pause_request_stops_a_running_execution(dbg: WorkflowDebugger) -> None:
    """pause(eid) stops the execution at its next step boundary."""
    dbg.set_breakpoint(step="validate")
    thread, _ = _run_in_thread({"total": 1})
    first = dbg.wait_for_pause(timeout=5)
    assert first is not None
    dbg.pause(first.execution_id)
    dbg.resume(first.execution_id)
    again = dbg.wait_for_pause(timeout=5)
    assert again is not None and again.reason == "pause"
    dbg.resume(again.execution_id)
    thread.join(5)


@ow.step
async def slow_charge(order: dict) -> dict:
    await asyncio.sleep(0)
    return {**order, "status": "charged"}


@ow.workflow
async def async_checkout(order: dict) -> dict:
    return await slow_charge(order)


def test_async_pause_lets_other_coroutines_run(dbg: WorkflowDebugger) -> None:
    """Of two executions on one loop, one paused, the other finishes meanwhile."""
    dbg.set_breakpoint(step="slow_charge", condition="order['id'] == 1")

    async def main() -> list[str]:
        done: list[str] = []

        async def run(order_id: int) -> None:
            await async_checkout({"id": order_id})
            done.append(f"finished {order_id}")

        first = asyncio.create_task(run(1))
        paused = await asyncio.to_thread(dbg.wait_for_pause, 5)
        assert paused is not None and paused.variables["order"]["id"] == 1
        await run(2)  # the other execution runs to the end while 1 is paused
        done.append("second done while first paused")
        dbg.resume(paused.execution_id)
        await first
        return done

    assert asyncio.run(main()) == ["finished 2", "second done while first paused", "finished 1"]
