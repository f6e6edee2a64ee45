"""Metrics recorded by the decorators themselves."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import pytest

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow._metrics import REGISTRY
from otel_workflow.testing import TelemetryCapture

WF = semconv.LABEL_WORKFLOW
STEP = semconv.LABEL_STEP
STATUS = semconv.LABEL_STATUS


@ow.step(name="maybe_fail")
def maybe_fail(fail: bool) -> None:
    if fail:
        raise TimeoutError("upstream slow")


@ow.workflow(name="metered", type="batch")
def metered(fail: bool) -> None:
    maybe_fail(fail)


def test_execution_counts_by_status(ow_telemetry: TelemetryCapture) -> None:
    """workflow.executions and workflow.step.executions count per status."""
    for fail in (False, False, True):
        try:
            metered(fail)
        except TimeoutError:
            pass
    counter = ow_telemetry.counter
    assert counter(semconv.METRIC_WORKFLOW_EXECUTIONS, **{WF: "metered", STATUS: "ok"}) == 2
    assert counter(semconv.METRIC_WORKFLOW_EXECUTIONS, **{WF: "metered", STATUS: "error",
                                                         semconv.LABEL_WORKFLOW_TYPE: "batch"}) == 1
    assert counter(semconv.METRIC_STEP_EXECUTIONS, **{WF: "metered", STEP: "maybe_fail"}) == 3
    assert ow_telemetry.histogram_count(semconv.METRIC_STEP_DURATION, **{STEP: "maybe_fail"}) == 3
    assert ow_telemetry.histogram_count(semconv.METRIC_STEP_CPU_TIME, **{STEP: "maybe_fail"}) == 3
    assert ow_telemetry.histogram_count(semconv.METRIC_WORKFLOW_DURATION, **{WF: "metered"}) == 3


def test_step_errors_by_type_and_category(ow_telemetry: TelemetryCapture) -> None:
    """workflow.step.errors carries error.type and the error category."""
    with pytest.raises(TimeoutError):
        metered(True)
    assert ow_telemetry.counter(semconv.METRIC_STEP_ERRORS, **{
        STEP: "maybe_fail", semconv.LABEL_ERROR_TYPE: "TimeoutError",
        semconv.LABEL_ERROR_CATEGORY: "timeout"}) == 1


def test_active_gauge_counts_running_executions(ow_telemetry: TelemetryCapture) -> None:
    """workflow.active is 1 while an execution runs and 0 after."""
    inside = []

    @ow.workflow(name="observed")
    def observed() -> None:
        inside.append(ow_telemetry.counter(semconv.METRIC_WORKFLOW_ACTIVE, **{WF: "observed"}))

    observed()
    assert inside == [1]
    assert ow_telemetry.counter(semconv.METRIC_WORKFLOW_ACTIVE, **{WF: "observed"}) == 0


def test_metrics_recorded_without_tracer(ow_telemetry: TelemetryCapture) -> None:
    """Metrics do not depend on spans: counts are exact with no tracer at all."""
    from otel_workflow._runtime import RUNTIME

    RUNTIME.use_tracer_provider(None)
    assert RUNTIME.tracer is None and RUNTIME.active
    metered(False)
    assert ow_telemetry.spans() == []
    assert ow_telemetry.counter(semconv.METRIC_STEP_EXECUTIONS, **{STEP: "maybe_fail"}) == 1


def test_no_counts_lost_across_threads(ow_telemetry: TelemetryCapture) -> None:
    """Concurrent calls from many threads are all counted."""
    RUNTIME_THREADS, CALLS = 8, 500

    @ow.step(name="hammer")
    def hammer() -> None:
        pass

    barrier = threading.Barrier(RUNTIME_THREADS)

    def run() -> None:
        barrier.wait()
        for _ in range(CALLS):
            hammer()

    threads = [threading.Thread(target=run) for _ in range(RUNTIME_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ow_telemetry.histogram_count(semconv.METRIC_STEP_DURATION, **{STEP: "hammer"}) == (
        RUNTIME_THREADS * CALLS
    )


def test_label_cap_overflows_to_other(ow_telemetry: TelemetryCapture) -> None:
    """Past max_label_values distinct values, new ones are recorded as _OTHER."""
    previous = REGISTRY.cap.max_values
    REGISTRY.cap.max_values = len(REGISTRY.cap._seen.get(semconv.LABEL_ERROR_TYPE, ())) + 1
    try:
        errors = [type(f"CapError{i}", (Exception,), {}) for i in range(3)]

        @ow.step(name="many_errors")
        def many_errors(cls: type[Exception]) -> None:
            raise cls()

        for cls in errors:
            with pytest.raises(cls):
                many_errors(cls)
    finally:
        REGISTRY.cap.max_values = previous
    # The step label may overflow too (the cap is per key): select by error type only.
    types = {s.labels[semconv.LABEL_ERROR_TYPE]
             for s in ow_telemetry.metrics()[semconv.METRIC_STEP_ERRORS].series}  # fmt: skip
    assert semconv.OVERFLOW_VALUE in types
    assert len(types) == 2
    assert ow_telemetry.counter(semconv.METRIC_SELF_LABEL_OVERFLOW) >= 2


def test_prometheus_names_match_semconv() -> None:
    """The exposition names rendered from families equal the PROM_* constants."""
    from otel_workflow.exporters.aggregates import collect_families, prometheus_name

    names = {prometheus_name(f) for f in collect_families()}
    expected = {value for key, value in vars(semconv).items()
                if key.startswith("PROM_") and not key.startswith("PROM_LABEL")
                and not key.startswith("PROM_RULE")}  # fmt: skip
    assert expected <= names


async def _burn_cpu_then_release(ready: asyncio.Event, burned: list[float]) -> None:
    """Spin ~50 ms of CPU on the event loop's thread, then let the waiting step go on."""
    start = time.thread_time()
    while time.thread_time() - start < 0.05:
        pass
    burned.append(time.thread_time() - start)
    ready.set()


def test_async_step_cpu_time_excludes_other_tasks(ow_telemetry: TelemetryCapture) -> None:
    """An async step's CPU time counts its own slices, not tasks that ran while it waited."""
    burned: list[float] = []

    @ow.step(name="waiter")
    async def waiter(ready: asyncio.Event) -> None:
        await ready.wait()

    async def main() -> None:
        ready = asyncio.Event()
        await asyncio.gather(waiter(ready), _burn_cpu_then_release(ready, burned))

    asyncio.run(main())
    (span,) = ow_telemetry.step_spans("waiter")
    assert span.attributes[semconv.STEP_CPU_TIME] < burned[0] / 2


def test_async_generator_cpu_time_excludes_other_tasks(ow_telemetry: TelemetryCapture) -> None:
    """An async generator step's CPU time leaves out tasks that ran while it awaited."""
    burned: list[float] = []

    @ow.step(name="agen_waiter")
    async def agen_waiter(ready: asyncio.Event) -> AsyncIterator[int]:
        await ready.wait()
        yield 1

    async def consume(ready: asyncio.Event) -> list[int]:
        return [item async for item in agen_waiter(ready)]

    async def main() -> None:
        ready = asyncio.Event()
        await asyncio.gather(consume(ready), _burn_cpu_then_release(ready, burned))

    asyncio.run(main())
    (span,) = ow_telemetry.step_spans("agen_waiter")
    assert span.attributes[semconv.STEP_CPU_TIME] < burned[0] / 2
