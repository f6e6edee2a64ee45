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

A test that uses ``ow_telemetry`` (or ``ow_internal_errors``) *fails* when otel-workflow
swallowed one of its own errors during it (the instrumented code carried on, but the
telemetry is wrong), with the error's traceback in the report.  A test that exercises that
path on purpose says so::

    @pytest.mark.expect_internal_errors("hook")      # only errors in the "hook" component
    def test_a_failing_hook_is_contained(ow_telemetry): ...

    def test_anything_goes(ow_telemetry):
        ow_telemetry.expect_internal_errors()        # any component
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_workflow import semconv
from otel_workflow._guard import (
    add_internal_error_listener,
    internal_error_counts,
    reset_internal_errors,
)
from otel_workflow._metrics import REGISTRY
from otel_workflow._runtime import RUNTIME

__all__ = [
    "InternalError",
    "InternalErrorWatch",
    "TelemetryCapture",
    "ow_internal_errors",
    "ow_telemetry",
]

MARKER = "expect_internal_errors"

# The label keys each metric is recorded with, so a misspelt key is an error even before
# the metric has a series.  Keys seen on recorded series are accepted too.
_LABEL_KEYS: dict[str, tuple[str, ...]] = {
    semconv.METRIC_WORKFLOW_EXECUTIONS: (
        semconv.LABEL_WORKFLOW, semconv.LABEL_WORKFLOW_TYPE, semconv.LABEL_STATUS),
    semconv.METRIC_WORKFLOW_DURATION: (
        semconv.LABEL_WORKFLOW, semconv.LABEL_WORKFLOW_TYPE, semconv.LABEL_STATUS),
    semconv.METRIC_WORKFLOW_ACTIVE: (semconv.LABEL_WORKFLOW, semconv.LABEL_WORKFLOW_TYPE),
    semconv.METRIC_STEP_EXECUTIONS: (
        semconv.LABEL_WORKFLOW, semconv.LABEL_STEP, semconv.LABEL_STATUS),
    semconv.METRIC_STEP_DURATION: (
        semconv.LABEL_WORKFLOW, semconv.LABEL_STEP, semconv.LABEL_STATUS),
    semconv.METRIC_STEP_CPU_TIME: (
        semconv.LABEL_WORKFLOW, semconv.LABEL_STEP, semconv.LABEL_STATUS),
    semconv.METRIC_STEP_ERRORS: (
        semconv.LABEL_WORKFLOW, semconv.LABEL_STEP, semconv.LABEL_ERROR_TYPE,
        semconv.LABEL_ERROR_CATEGORY),
    semconv.METRIC_SELF_ERRORS: (semconv.LABEL_COMPONENT,),
    semconv.METRIC_SELF_SPANS_DROPPED: (semconv.LABEL_REASON,),
    semconv.METRIC_SELF_LABEL_OVERFLOW: (semconv.LABEL_LABEL,),
}  # fmt: skip


@dataclass(frozen=True)
class InternalError:
    """One error otel-workflow caught in its own code and reported through its guard."""

    component: str
    exception: BaseException

    def format(self) -> str:
        """The component and the exception with its traceback, as logged."""
        lines = traceback.format_exception(
            type(self.exception), self.exception, self.exception.__traceback__
        )
        return f"in {self.component}:\n" + "".join(lines).rstrip()


class InternalErrorWatch:
    """Collects every internal error reported while it runs; :meth:`check` fails on one.

    ``expect()`` with no argument allows any; with components, only errors in those.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: list[InternalError] = []
        self._checked = 0
        self._expect_any = False
        self._expected: set[str] = set()
        self._remove: Any = None

    def start(self) -> InternalErrorWatch:
        """Begin collecting (errors from any thread)."""
        self._remove = add_internal_error_listener(self._collect)
        return self

    def stop(self) -> None:
        """Stop collecting; what was collected stays readable."""
        if self._remove is not None:
            self._remove()
            self._remove = None

    def _collect(self, component: str, exc: BaseException) -> None:
        with self._lock:
            self._errors.append(InternalError(component, exc))

    def expect(self, *components: str) -> None:
        """Allow internal errors: any (no argument) or only those of ``components``."""
        for component in components:
            if not isinstance(component, str):
                raise TypeError(
                    f"expect_internal_errors takes component names (str), not {component!r}"
                )
        with self._lock:
            if components:
                self._expected.update(components)
            else:
                self._expect_any = True

    @property
    def errors(self) -> list[InternalError]:
        """Every error collected so far, expected or not, in the order reported."""
        with self._lock:
            return list(self._errors)

    def unexpected(self) -> list[InternalError]:
        """The collected errors that the test did not say it expects."""
        with self._lock:
            if self._expect_any:
                return []
            return [e for e in self._errors if e.component not in self._expected]

    def check(self) -> None:
        """Fail the test (``pytest.fail``) on an unexpected error not failed on before."""
        found = self.unexpected()
        with self._lock:
            new, self._checked = found[self._checked :], len(found)
        if not new:
            return
        details = "\n\n".join(e.format() for e in new)
        components = sorted({e.component for e in new})
        marker = ", ".join(repr(c) for c in components)
        pytest.fail(
            f"otel-workflow reported {len(new)} internal error(s) during this test "
            f"(component(s): {', '.join(components)}); the instrumented code carried on, "
            f"but its telemetry is wrong. If the test exercises this on purpose, mark it "
            f"@pytest.mark.{MARKER}({marker}) or call "
            f"ow_telemetry.expect_internal_errors({marker}).\n\n{details}",
            pytrace=False,
        )


class TelemetryCapture:
    """Spans and metrics recorded by otel-workflow while it is active."""

    def __init__(self, watch: InternalErrorWatch | None = None) -> None:
        self.watch = watch
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
            raise KeyError(
                f"no metric named {name!r}; metrics: {', '.join(sorted(self.metrics()))}"
            )
        valid = set(_LABEL_KEYS.get(name, ())).union(*(s.labels for s in family.series))
        unknown = sorted(set(labels) - valid)
        if unknown:
            raise KeyError(
                f"metric {name!r} has no label {', '.join(map(repr, unknown))}; "
                f"its labels are: {', '.join(sorted(valid)) or '(none)'}"
            )
        return [s for s in family.series if all(s.labels.get(k) == v for k, v in labels.items())]

    def counter(self, name: str, /, **labels: str) -> float:
        """Sum of a counter or gauge over series matching ``labels`` (attribute keys).

        Raises ``KeyError`` for an unknown metric or a label key it does not have.
        """
        return float(sum(s.value for s in self._matching(name, labels)))

    def histogram_count(self, name: str, /, **labels: str) -> int:
        """Observations in a histogram over series matching ``labels`` (checked as for counter)."""
        return sum(sum(s.counts) for s in self._matching(name, labels))

    def histogram_sum(self, name: str, /, **labels: str) -> float:
        """Sum of observed values in a histogram over series matching ``labels``."""
        return float(sum(s.sum for s in self._matching(name, labels)))

    def internal_errors(self) -> dict[str, int]:
        """otel-workflow's own caught failures since :meth:`start`, by component."""
        return internal_error_counts()

    def expect_internal_errors(self, *components: str) -> None:
        """Say this test expects internal errors (of ``components``, or any): no failure."""
        if self.watch is None:
            raise RuntimeError("this capture has no InternalErrorWatch (pass watch=...)")
        self.watch.expect(*components)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``expect_internal_errors`` marker."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*components): the test expects otel-workflow internal errors (of these "
        "components, or any); without it, ow_telemetry fails a test that produced one",
    )


_WATCH_KEY = pytest.StashKey[InternalErrorWatch]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Fail the test itself (not only its teardown) on an unexpected internal error."""
    result = yield
    watch = item.stash.get(_WATCH_KEY, None)
    if watch is not None:
        watch.check()
    return result


@pytest.fixture
def ow_internal_errors(request: pytest.FixtureRequest) -> Iterator[InternalErrorWatch]:
    """Fail the test on an internal error it does not expect (see the module docstring)."""
    watch = InternalErrorWatch()
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        watch.expect(*marker.args)
    request.node.stash[_WATCH_KEY] = watch
    watch.start()
    try:
        yield watch
    finally:
        watch.stop()
        del request.node.stash[_WATCH_KEY]
    watch.check()  # errors reported after the test body, in other fixtures' teardown


@pytest.fixture
def ow_telemetry(ow_internal_errors: InternalErrorWatch) -> Iterator[TelemetryCapture]:
    """In-memory spans and zeroed metrics for one test; fails it on an unexpected internal error."""
    capture = TelemetryCapture(ow_internal_errors).start()
    try:
        yield capture
    finally:
        capture.stop()
