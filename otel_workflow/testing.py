"""Test helpers for code instrumented with otel-workflow (a pytest plugin).

Installed as a pytest plugin, so the fixtures are available in any test suite::

    def test_checkout_records_a_failed_step(ow_telemetry):
        with pytest.raises(PaymentDeclined):
            checkout(order)
        (step,) = ow_telemetry.step_spans("charge")
        assert step.attributes["workflow.status"] == "error"
        errors = {"error.type": "shop.PaymentDeclined"}
        assert ow_telemetry.counter("workflow.step.errors", **errors) == 1

The fixture uses its own in-memory tracer provider (never the set-once global one) and
starts every test with all otel-workflow metrics at zero.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_workflow import semconv
from otel_workflow._guard import internal_error_counts, reset_internal_errors
from otel_workflow._metrics import REGISTRY
from otel_workflow._runtime import RUNTIME

__all__ = ["TelemetryCapture", "ow_telemetry"]


class TelemetryCapture:
    """Spans and metrics recorded by otel-workflow while it is active."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self._previous_provider: Any = None
        self._previous_enabled = True

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> TelemetryCapture:
        """Route otel-workflow's spans and metrics here, from zero."""
        self._previous_provider = RUNTIME.explicit_provider
        self._previous_enabled = RUNTIME.enabled
        REGISTRY.reset()
        reset_internal_errors()
        RUNTIME.set_enabled(True)
        RUNTIME.use_tracer_provider(self.tracer_provider)
        RUNTIME.add_metrics_consumer()
        return self

    def stop(self) -> None:
        """Restore what was there before :meth:`start`."""
        RUNTIME.remove_metrics_consumer()
        RUNTIME.use_tracer_provider(self._previous_provider)
        RUNTIME.set_enabled(self._previous_enabled)
        self.tracer_provider.shutdown()

    def clear(self) -> None:
        """Forget recorded spans and zero the metrics."""
        self.exporter.clear()
        REGISTRY.reset()

    # -- spans -----------------------------------------------------------------------
    def spans(self) -> list[ReadableSpan]:
        """Every finished span, in the order they ended."""
        return list(self.exporter.get_finished_spans())

    def workflow_spans(self, name: str | None = None) -> list[ReadableSpan]:
        """Finished workflow execution spans, optionally of one workflow."""
        return self._of_kind(semconv.SPAN_KIND_WORKFLOW, semconv.WORKFLOW_NAME, name)

    def step_spans(self, name: str | None = None) -> list[ReadableSpan]:
        """Finished step spans, optionally of one step."""
        return self._of_kind(semconv.SPAN_KIND_STEP, semconv.STEP_NAME, name)

    def _of_kind(self, kind: str, key: str, name: str | None) -> list[ReadableSpan]:
        return [
            s for s in self.spans()
            if s.attributes is not None and s.attributes.get(semconv.WORKFLOW_SPAN_KIND) == kind
            and (name is None or s.attributes.get(key) == name)
        ]  # fmt: skip

    # -- metrics ---------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        """Metric families by OpenTelemetry name (see ``exporters.aggregates``)."""
        from otel_workflow.exporters.aggregates import collect_families

        return {family.name: family for family in collect_families()}

    def _matching(self, name: str, labels: dict[str, str]) -> list[Any]:
        family = self.metrics().get(name)
        if family is None:
            raise KeyError(f"no metric named {name!r}")
        return [s for s in family.series if all(s.labels.get(k) == v for k, v in labels.items())]

    def counter(self, name: str, **labels: str) -> float:
        """Sum of a counter or gauge over series matching ``labels`` (attribute keys)."""
        return float(sum(s.value for s in self._matching(name, labels)))

    def histogram_count(self, name: str, **labels: str) -> int:
        """Observations in a histogram over series matching ``labels``."""
        return sum(sum(s.counts) for s in self._matching(name, labels))

    def internal_errors(self) -> dict[str, int]:
        """otel-workflow's own caught failures, by component (should be empty)."""
        return internal_error_counts()


@pytest.fixture
def ow_telemetry() -> Iterator[TelemetryCapture]:
    """In-memory spans and zeroed metrics for one test."""
    capture = TelemetryCapture().start()
    try:
        yield capture
    finally:
        capture.stop()
