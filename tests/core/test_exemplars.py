"""Exemplars point only at exported (sampled) spans; the ``retried`` status is its own series."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

from otel_workflow import semconv
from otel_workflow._metrics import MetricsRegistry
from otel_workflow.exporters.aggregates import MetricFamily, collect_families


class ByName(Sampler):
    """Samples spans whose name starts with "sampled"; the others are RECORD_ONLY."""

    def should_sample(
        self, parent_context: Context | None, trace_id: int, name: str,
        kind: SpanKind | None = None, attributes: Attributes = None,
        links: Sequence[Link] | None = None, trace_state: Any = None,
    ) -> SamplingResult:  # fmt: skip
        sampled = name.startswith("sampled")
        return SamplingResult(Decision.RECORD_AND_SAMPLE if sampled else Decision.RECORD_ONLY)

    def get_description(self) -> str:
        return "ByName"


def _family(families: list[MetricFamily], name: str) -> MetricFamily:
    return next(f for f in families if f.name == name)


def test_unsampled_span_never_becomes_or_replaces_an_exemplar() -> None:
    """A RECORD_ONLY span is counted but leaves the last sampled span as the bucket's exemplar."""
    tracer = TracerProvider(sampler=ByName()).get_tracer("test")
    registry = MetricsRegistry()
    cells = registry.step_cells("wf", "step")
    sampled = tracer.start_span("sampled step")
    unsampled = tracer.start_span("unsampled step")
    assert unsampled.is_recording() and not unsampled.get_span_context().trace_flags.sampled
    for span in (sampled, unsampled):
        span.end()
    cells.cell(semconv.STATUS_OK).observe(0.001, sampled)
    cells.cell(semconv.STATUS_OK).observe(0.001, unsampled)  # same bucket, later
    cells.cell(semconv.STATUS_OK).observe_with_cpu(100.0, 0.0, unsampled)  # a bucket of its own
    (series,) = _family(collect_families(registry), semconv.METRIC_STEP_DURATION).series
    assert sum(series.counts) == 3
    exemplars = [e for e in series.exemplars if e is not None]
    assert [e.span_id for e in exemplars] == [sampled.get_span_context().span_id]
    assert exemplars[0].trace_id == sampled.get_span_context().trace_id


def test_retried_attempts_are_their_own_status() -> None:
    """``cell("retried")`` counts under status="retried", apart from ok and error."""
    registry = MetricsRegistry()
    cells = registry.step_cells("wf", "flaky")
    cells.cell(semconv.STATUS_RETRIED).observe(0.01, None)
    cells.cell(semconv.STATUS_RETRIED).observe_with_cpu(0.01, 0.001, None)
    cells.cell(semconv.STATUS_OK).observe(0.01, None)
    executions = _family(collect_families(registry), semconv.METRIC_STEP_EXECUTIONS)
    by_status = {s.labels[semconv.LABEL_STATUS]: s.value for s in executions.series}
    assert by_status == {semconv.STATUS_RETRIED: 2, semconv.STATUS_OK: 1}
