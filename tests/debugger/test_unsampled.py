"""Every execution: breakpoints, watches and snapshots work where the sampler exports nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

import otel_workflow as ow
from otel_workflow._runtime import RUNTIME
from otel_workflow.debugger import WorkflowDebugger
from otel_workflow.testing import TelemetryCapture


class Ended(SpanProcessor):
    """Keeps every ended span that reaches processors (sampled or not)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


@ow.step
def reserve(order: dict) -> dict:
    return {**order, "status": "reserved"}


@ow.workflow
def order_flow(order: dict) -> dict:
    return reserve(order)


@pytest.fixture
def unsampled(ow_telemetry: TelemetryCapture) -> Iterator[tuple[InMemorySpanExporter, Ended]]:
    """The decorators use a provider whose sampler drops every trace."""
    provider = TracerProvider(sampler=ALWAYS_OFF)
    exported, ended = InMemorySpanExporter(), Ended()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    provider.add_span_processor(ended)
    RUNTIME.use_tracer_provider(provider)
    try:
        yield exported, ended
    finally:
        RUNTIME.use_tracer_provider(ow_telemetry.tracer_provider)
        provider.shutdown()


def test_breakpoints_watches_and_snapshots_see_unexported_executions(
    unsampled: tuple[InMemorySpanExporter, Ended], dbg: WorkflowDebugger
) -> None:
    """Nothing is exported, yet a pause, a watch event and a snapshot all happen."""
    exported, ended = unsampled
    watch = dbg.watch("step")  # 'reserve', then the workflow's name at its end
    snap_bp = dbg.set_breakpoint(step="reserve", action="snapshot")
    dbg.set_breakpoint(step="reserve", condition="order['id'] == 2")
    order_flow({"id": 1})
    thread = threading.Thread(target=order_flow, args=({"id": 2},), daemon=True)
    thread.start()
    paused = dbg.wait_for_pause(timeout=5)
    assert paused is not None and paused.inspect("order['id']") == 2
    dbg.resume(paused.execution_id)
    thread.join(5)
    assert exported.get_finished_spans() == ()
    assert ended.spans and not any(s.context.trace_flags.sampled for s in ended.spans)
    changes = dbg.watch_events(watch.id)
    assert [(e["old"], e["new"]) for e in changes] == [("reserve", "order_flow")] * 2
    assert len({e["execution_id"] for e in changes}) == 2
    (snap,) = dbg.snapshots()
    assert snap.breakpoint_id == snap_bp.id and snap.state["variables"]["order"] == {"id": 1}
    events = [e.name for s in ended.spans for e in s.events]
    assert "workflow.debugger.snapshot" in events
