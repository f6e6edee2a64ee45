"""Breakpoints on spans from other instrumentation: matched at start, never blocking there."""

from __future__ import annotations

import asyncio
import threading

import otel_workflow as ow
from otel_workflow.debugger import WorkflowDebugger
from otel_workflow.testing import TelemetryCapture

PROVIDER: list[object] = []
AFTER_SPAN: list[bool] = []


@ow.step
def call_gateway(amount: int) -> str:
    tracer = PROVIDER[0].get_tracer("http")  # type: ignore[attr-defined]
    method = "GET" if amount < 100 else "POST"
    with tracer.start_as_current_span("GET /charge" if method == "GET" else "POST /charge",
                                      attributes={"http.request.method": method}):  # fmt: skip
        pass
    AFTER_SPAN.append(True)  # on_start returned: the span breakpoint did not block here
    return "ok"


@ow.workflow
def checkout(amount: int) -> str:
    return call_gateway(amount)


def test_pause_lands_at_the_enclosing_steps_end(
    dbg: WorkflowDebugger, ow_telemetry: TelemetryCapture
) -> None:
    """A pause span breakpoint stops the enclosing step at its after hook, with the span's data."""
    PROVIDER[:] = [ow_telemetry.tracer_provider]
    AFTER_SPAN.clear()
    bp = dbg.set_breakpoint(span="GET *", attributes={"http.request.method": "GET"})
    out: list[str] = []
    thread = threading.Thread(target=lambda: out.append(checkout(5)), daemon=True)
    thread.start()
    paused = dbg.wait_for_pause(timeout=5)
    assert paused is not None
    where = (paused.reason, paused.step, paused.phase)
    assert where == ("span breakpoint", "call_gateway", "after")
    assert paused.breakpoint_id == bp.id
    assert paused.inspect("span['attributes']['http.request.method']") == "GET"
    assert AFTER_SPAN == [True]
    dbg.resume(paused.execution_id)
    thread.join(5)
    assert out == ["ok"] and bp.hit_count == 1


def test_log_and_snapshot_act_at_once_with_conditions_over_attributes(
    dbg: WorkflowDebugger, ow_telemetry: TelemetryCapture
) -> None:
    """Non-breaking span breakpoints count hits, test attribute conditions, write span events."""
    PROVIDER[:] = [ow_telemetry.tracer_provider]
    lines: list[str] = []
    dbg.add_listener(lambda e: e.kind == "log" and lines.append(e.data["message"]))
    log = dbg.set_breakpoint(
        span="*/charge", action="log", rate_limit=1000,
        condition="attributes['http.request.method'] == 'POST'",
        message="{step}: {attributes['http.request.method']} {span}",
    )  # fmt: skip
    snap = dbg.set_breakpoint(span="GET /charge", action="snapshot")
    for amount in (5, 500, 7):
        checkout(amount)
    assert lines == ["call_gateway: POST POST /charge"]
    assert log.hit_count == 3 and snap.hit_count == 2
    (stored,) = dbg.snapshots()  # rate limited to one per second
    assert stored.step == "call_gateway" and stored.breakpoint_id == snap.id
    http = [s for s in ow_telemetry.spans() if s.name.endswith("/charge")]
    names = [e.name for s in http for e in s.events]
    assert names.count("workflow.debugger.log") == 1
    assert names.count("workflow.debugger.snapshot") == 1


@ow.step
async def fetch_rate(currency: str) -> float:
    tracer = PROVIDER[0].get_tracer("http")  # type: ignore[attr-defined]
    with tracer.start_as_current_span("GET /rate", attributes={"currency": currency}):
        await asyncio.sleep(0)
    return 1.5


@ow.workflow
async def convert(currency: str) -> float:
    return await fetch_rate(currency)


def test_async_span_pause_awaits_while_other_executions_run(
    dbg: WorkflowDebugger, ow_telemetry: TelemetryCapture
) -> None:
    """A span breakpoint's pause in an async step awaits; another execution on the loop ends."""
    PROVIDER[:] = [ow_telemetry.tracer_provider]
    dbg.set_breakpoint(span="GET /rate", attributes={"currency": "EUR"})

    async def main() -> list[float]:
        paused_task = asyncio.ensure_future(convert("EUR"))
        other = await convert("USD")  # runs to the end while EUR is paused
        paused = await asyncio.to_thread(dbg.wait_for_pause, 5)
        assert paused is not None and paused.step == "fetch_rate" and not paused_task.done()
        dbg.resume(paused.execution_id)
        return [other, await paused_task]

    assert asyncio.run(main()) == [1.5, 1.5]
