"""Sampling that tells the truth: unsampled traces are recorded, never exported.

The store, the debugger and the diagnosis must see every execution, yet a span the
sampler drops is a non-recording span that never reaches a SpanProcessor.  So our tracer's
sampler is wrapped: where the configured sampler says ``DROP``, the wrapper says
``RECORD_ONLY`` — the span records and reaches every processor's ``on_end``, but its trace
flags say *not sampled*, so the SDK's batch processors (OTLP) skip it and the propagated
``traceparent`` carries ``-00``: downstream parent-based samplers drop the rest of the
trace too, and no exported trace is missing its parent half.  ``RECORD_AND_SAMPLE``
decisions pass through untouched.

Loaded only when an SDK tracer is in use (the core stays API-only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes


class RecordUnsampled(Sampler):
    """Wraps a sampler so that what it drops is recorded but not sampled."""

    def __init__(self, sampler: Sampler) -> None:
        self.wrapped = sampler

    def should_sample(
        self, parent_context: Context | None, trace_id: int, name: str,
        kind: SpanKind | None = None, attributes: Attributes = None,
        links: Sequence[Link] | None = None, trace_state: TraceState | None = None,
    ) -> SamplingResult:  # fmt: skip
        result = self.wrapped.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        if result.decision is Decision.DROP:
            return SamplingResult(Decision.RECORD_ONLY, attributes, result.trace_state)
        return result

    def get_description(self) -> str:
        return f"RecordUnsampled{{{self.wrapped.get_description()}}}"


def record_unsampled(sampler: Sampler) -> Sampler:
    """``sampler`` wrapped once (wrapping a wrapped sampler returns it as it is)."""
    return sampler if isinstance(sampler, RecordUnsampled) else RecordUnsampled(sampler)


def wrap_tracer(tracer: Any) -> None:
    """Make an SDK tracer record what its sampler drops; other tracers are left alone."""
    sampler = getattr(tracer, "sampler", None)
    if isinstance(sampler, Sampler):
        tracer.sampler = record_unsampled(sampler)
