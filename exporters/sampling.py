"""Sample where spans leave the process, not where they are created.

The store, the debugger and the diagnosis must see every execution, yet a span the
sampler drops at creation never reaches a SpanProcessor.  So when the standard
``OTEL_TRACES_SAMPLER`` asks for a trace-id ratio, the provider we create records
everything and the ratio is applied by :class:`TraceRatioFilter` in front of the OTLP
processor only — the same per-trace decision ``TraceIdRatioBased`` would make, so a trace
is exported whole or not at all.  (Tail sampling in the Collector is the better place
still; see ``collector-config/``.)
"""

from __future__ import annotations

import logging
import os

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler

_logger = logging.getLogger("otel_workflow")

_RATIO_SAMPLERS = {"traceidratio", "parentbased_traceidratio"}
_TRACE_ID_LIMIT = (1 << 64) - 1


def ratio_from_environment() -> float | None:
    """The ratio of ``OTEL_TRACES_SAMPLER=[parentbased_]traceidratio``, else ``None``."""
    sampler = os.environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if sampler not in _RATIO_SAMPLERS:
        return None
    raw = os.environ.get("OTEL_TRACES_SAMPLER_ARG", "1.0")
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        _logger.warning("Invalid OTEL_TRACES_SAMPLER_ARG=%r (expected 0..1); using 1.0", raw)
        return 1.0
    return ratio


def creation_sampler() -> Sampler | None:
    """Record every span when a ratio is configured (applied at export instead)."""
    if ratio_from_environment() is not None:
        return ParentBased(ALWAYS_ON)
    return None  # the SDK's default, which honours any other OTEL_TRACES_SAMPLER


class TraceRatioFilter(SpanProcessor):
    """Forwards only spans whose trace id falls under the ratio (decided per trace)."""

    def __init__(self, processor: SpanProcessor, ratio: float) -> None:
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"ratio must be within 0..1, got {ratio!r}")
        self._processor = processor
        self._bound = round(ratio * (_TRACE_ID_LIMIT + 1))

    def _keep(self, trace_id: int) -> bool:
        return (trace_id & _TRACE_ID_LIMIT) < self._bound

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self._keep(span.get_span_context().trace_id):
            self._processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and self._keep(span.context.trace_id):
            self._processor.on_end(span)

    def shutdown(self) -> None:
        self._processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._processor.force_flush(timeout_millis)
