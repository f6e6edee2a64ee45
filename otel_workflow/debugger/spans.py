"""Breakpoints on spans from any instrumentation: a SpanProcessor that never blocks.

A span breakpoint (``set_breakpoint(span="GET *", attributes={"http.request.method":
"GET"})``) matches a span by name glob and attribute values when it *starts* (the
attributes given to ``start_span``; ones set later are not seen).  Hits are counted and
conditions evaluated, with bdb's rules, over ``span`` (its name), ``attributes`` (its
attributes, captured: bounded and scrubbed) and the enclosing step's ``workflow``,
``step`` and ``execution_id``.  ``on_start`` never blocks: ``snapshot`` and ``log``
actions happen at once (the snapshot and log line go, as events, to the matched span);
a ``pause`` is carried out at the enclosing step's next hook point, its ``after`` or
``on_error``, where it can block or await like any other pause.

Workflow and step spans (ours) are left to step and workflow breakpoints.  A span the
sampler of another tracer drops is never recorded, so no processor sees it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_workflow import semconv
from otel_workflow._guard import report_internal_error
from otel_workflow._hooks import CURRENT_CALL, CallInfo
from otel_workflow.capture import capture
from otel_workflow.debugger.snapshots import SNAPSHOT_LIMITS

if TYPE_CHECKING:
    from otel_workflow.debugger.core import WorkflowDebugger

_logger = logging.getLogger("otel_workflow.debugger")


class SpanBreakpointProcessor(SpanProcessor):
    """Hands every started span to its debugger while it has span breakpoints."""

    def __init__(self, debugger: WorkflowDebugger) -> None:
        self.debugger = debugger
        self.active = True  # False once detached: an SDK provider cannot remove a processor
        self._orphans_reported = False

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        dbg = self.debugger
        if not dbg._span_bps or not self.active:
            return
        try:
            attributes = span.attributes or {}
            if semconv.WORKFLOW_SPAN_KIND in attributes:
                return
            self._started(span, span.name, attributes)
        except Exception as exc:
            report_internal_error("debugger.span", exc)

    def _started(self, span: Any, name: str, attributes: Mapping[str, Any]) -> None:
        """Count, test and act on the span breakpoints that match (never blocks)."""
        dbg = self.debugger
        call = CURRENT_CALL.get()
        namespace: dict[str, Any] | None = None

        def ns() -> dict[str, Any]:
            nonlocal namespace
            if namespace is None:
                namespace = {
                    "span": name,
                    "attributes": capture(dict(attributes), SNAPSHOT_LIMITS).data,
                    "workflow": call.workflow if call is not None else "",
                    "step": call.name if call is not None else None,
                    "execution_id": call.execution_id if call is not None else None,
                }
            return namespace

        where = call or CallInfo(kind="span", name=name, workflow="", span=None, args=(),
                                 kwargs={}, execution_id=None, is_async=False)  # fmt: skip
        for bp in dbg._span_bps:
            if not bp.matches_span(name, attributes):
                continue
            if not dbg._act(bp, dbg._hits.hit(bp, ns), where, ns, span):
                continue
            if call is None:
                if not self._orphans_reported:
                    self._orphans_reported = True
                    _logger.warning("debugger: span breakpoint %s matched span %r outside any "
                                    "workflow or step: nothing to pause", bp.id, name)  # fmt: skip
                continue
            with dbg._lock:
                if len(dbg._span_stops) > 10_000:  # calls that never reached a hook point
                    dbg._span_stops.clear()
                dbg._span_stops[call] = (bp.id, ns())

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def sdk_providers() -> list[Any]:
    """The SDK tracer providers spans come from: configure()'s, the runtime's, the global."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from otel_workflow._runtime import RUNTIME

    handle = RUNTIME.telemetry  # what configure() set up, if anything
    candidates = [
        getattr(handle, "tracer_provider", None),
        RUNTIME.explicit_provider,
        trace.get_tracer_provider(),
    ]
    found: list[Any] = []
    for provider in candidates:
        if isinstance(provider, TracerProvider) and all(p is not provider for p in found):
            found.append(provider)
    return found
