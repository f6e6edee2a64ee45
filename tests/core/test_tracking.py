"""The tracking API gives the same telemetry as the decorators, and defined outcomes."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

import otel_workflow as ow
from otel_workflow import semconv, tracking
from otel_workflow._hooks import CallInfo
from otel_workflow.testing import TelemetryCapture

_IGNORED = {semconv.WORKFLOW_EXECUTION_ID, semconv.CODE_FUNCTION_NAME, semconv.CODE_FILE_PATH,
            semconv.CODE_LINE_NUMBER, semconv.STEP_CPU_TIME}  # fmt: skip


def _shape(spans: list[Any]) -> list[tuple[str, dict[str, Any], str, list[str]]]:
    """Spans without ids, times and code locations, in start order."""
    out = []
    for span in sorted(spans, key=lambda s: s.start_time):
        attrs = {k: v for k, v in span.attributes.items() if k not in _IGNORED}
        out.append((span.name, attrs, span.status.status_code.name,
                    [e.name for e in span.events]))  # fmt: skip
    return out


def _metric_state(capture: TelemetryCapture) -> dict[str, float]:
    return {
        "workflows": capture.counter(semconv.METRIC_WORKFLOW_EXECUTIONS),
        "steps_ok": capture.counter(semconv.METRIC_STEP_EXECUTIONS, **{
            semconv.LABEL_STATUS: "ok"}),
        "steps_error": capture.counter(semconv.METRIC_STEP_EXECUTIONS, **{
            semconv.LABEL_STATUS: "error"}),
        "errors": capture.counter(semconv.METRIC_STEP_ERRORS),
        "active": capture.counter(semconv.METRIC_WORKFLOW_ACTIVE),
    }  # fmt: skip


def test_context_managers_record_what_decorators_record(ow_telemetry: TelemetryCapture) -> None:
    """One workflow run decorated and once with workflow_span/step: same spans and metrics."""

    @ow.step(name="validate")
    def validate() -> None:
        pass

    @ow.step(name="charge")
    def charge() -> None:
        raise ValueError("card declined")

    @ow.workflow(name="checkout", type="order")
    def checkout() -> None:
        with ow.attributes(user_id="u1"):
            validate()
            charge()

    with pytest.raises(ValueError):
        checkout()
    decorated = _shape(ow_telemetry.spans())
    decorated_metrics = _metric_state(ow_telemetry)
    ow_telemetry.clear()

    with (pytest.raises(ValueError), ow.workflow_span("checkout", type="order") as ex,
          ow.attributes(user_id="u1")):  # fmt: skip
        with ex.step("validate"):
            pass
        with ow.step_span("charge"):
            raise ValueError("card declined")
    assert _shape(ow_telemetry.spans()) == decorated
    assert _metric_state(ow_telemetry) == decorated_metrics  # clear() zeroed the metrics
    assert decorated_metrics["steps_error"] == 1 and decorated_metrics["active"] == 0


def test_async_context_managers(ow_telemetry: TelemetryCapture) -> None:
    """async with workflow_span / step_span records an execution with its step."""

    async def main() -> str:
        async with ow.workflow_span("async_flow") as ex:
            async with ex.step("fetch"):
                await asyncio.sleep(0)
            return ex.execution_id

    execution_id = asyncio.run(main())
    (step,) = ow_telemetry.step_spans("fetch")
    assert step.attributes[semconv.WORKFLOW_EXECUTION_ID] == execution_id
    (wf,) = ow_telemetry.workflow_spans("async_flow")
    assert step.parent.span_id == wf.context.span_id


def test_recorded_step_timings_are_used(ow_telemetry: TelemetryCapture) -> None:
    """Steps with given timings keep them on the span and in the histogram, past ones too."""
    ex = ow.track_workflow_start("import_log", type="batch", user_id="u7")
    t0 = time.time() - 3600.0
    ex.record_step_timing("parse", start=t0, end=t0 + 0.25)
    ex.track_step_execution("load", status="ok", duration=0.012)
    ex.record_step_timing("store", start=t0 + 1, end=t0 + 1.5, error=TimeoutError("db"),
                          attempt=2)  # fmt: skip
    ex.track_workflow_complete()
    (parse,) = ow_telemetry.step_spans("parse")
    assert parse.start_time == int(t0 * 1e9)
    assert parse.end_time - parse.start_time == pytest.approx(0.25e9, abs=1e3)
    assert parse.attributes[semconv.USER_ID] == "u7"
    (store,) = ow_telemetry.step_spans("store")
    assert store.attributes[semconv.STEP_ATTEMPT] == 2
    assert store.attributes[semconv.ERROR_CATEGORY] == "timeout"
    labels = {semconv.LABEL_WORKFLOW: "import_log"}
    total = ow_telemetry.histogram_sum(semconv.METRIC_STEP_DURATION, **labels)
    assert total == pytest.approx(0.25 + 0.012 + 0.5, abs=1e-6)
    indices = sorted(s.attributes[semconv.STEP_INDEX] for s in ow_telemetry.step_spans())
    assert indices == [0, 1, 2]
    (wf,) = ow_telemetry.workflow_spans("import_log")
    assert wf.attributes[semconv.WORKFLOW_STATUS] == "ok"


def test_bad_tracking_calls_get_clear_errors(ow_telemetry: TelemetryCapture) -> None:
    """End before start, a second completion and a step after completion each raise."""
    ex = ow.track_workflow_start("strict")
    with pytest.raises(ValueError, match="before start"):
        ex.record_step_timing("s", start=10.0, end=9.0)
    with pytest.raises(ValueError, match="duration"):
        ex.track_step_execution("s", duration=-1)
    with pytest.raises(ValueError, match="status"):
        ex.track_step_execution("s", status="fine")
    assert ow_telemetry.step_spans() == []  # nothing half-recorded
    ex.track_workflow_failure(RuntimeError("boom"))
    with pytest.raises(tracking.ExecutionClosedError, match="already ended"):
        ex.track_workflow_complete()
    with pytest.raises(tracking.ExecutionClosedError, match="no more steps"):
        ex.track_step_execution("late")
    with pytest.raises(TypeError):
        ow.track_workflow_start("")
    (wf,) = ow_telemetry.workflow_spans("strict")
    assert wf.attributes[semconv.WORKFLOW_STATUS] == "error"


def test_unfinished_handle_is_cancelled_at_exit(
    ow_telemetry: TelemetryCapture, caplog: pytest.LogCaptureFixture
) -> None:
    """A handle never completed is recorded as cancelled, with a warning, by the exit hook."""
    ex = ow.track_workflow_start("forgotten")
    assert ow.get_execution(ex.execution_id) is ex
    with caplog.at_level(logging.WARNING, logger="otel_workflow"):
        tracking.cancel_unfinished()  # what atexit and shutdown() run
    assert "never completed" in caplog.text and ex.execution_id in caplog.text
    assert ow.get_execution(ex.execution_id) is None
    (wf,) = ow_telemetry.workflow_spans("forgotten")
    assert wf.attributes[semconv.WORKFLOW_STATUS] == "cancelled"
    labels = {semconv.LABEL_WORKFLOW: "forgotten"}
    assert ow_telemetry.counter(semconv.METRIC_WORKFLOW_ACTIVE, **labels) == 0


def test_handle_is_thread_safe(ow_telemetry: TelemetryCapture) -> None:
    """Eight threads tracking steps on one handle get distinct step indices."""
    ex = ow.track_workflow_start("fan_out")
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for _ in range(50):
            ex.track_step_execution("part", duration=0.001)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ex.track_workflow_complete()
    indices = sorted(s.attributes[semconv.STEP_INDEX] for s in ow_telemetry.step_spans("part"))
    assert indices == list(range(400))


def test_tracked_steps_run_hooks(ow_telemetry: TelemetryCapture) -> None:
    """Breakpoints and diagnosis see tracked steps: the hooks run for them."""
    seen: list[tuple[str, str]] = []

    class Hook:
        def before(self, call: CallInfo) -> None:
            seen.append((call.kind, call.name))

    hook = Hook()
    ow.register_hook(hook)
    try:
        ex = ow.track_workflow_start("hooked")
        ex.track_step_execution("measured", duration=0.0)
        with ex.step("live"):
            pass
        ex.track_workflow_complete()
    finally:
        ow.unregister_hook(hook)
    assert seen == [("workflow", "hooked"), ("step", "measured"), ("step", "live")]


def test_inject_and_continue_keep_the_execution(ow_telemetry: TelemetryCapture) -> None:
    """A carrier continues the same trace, execution, numbering and user id."""

    @ow.step(name="first")
    def first() -> dict[str, str]:
        return ow.inject()

    @ow.step(name="second")
    def second() -> None:
        pass

    @ow.workflow(name="hop")
    def hop() -> dict[str, str]:
        with ow.attributes(user_id="u9"):
            return first()

    carrier = hop()
    assert set(carrier) >= {"traceparent", "baggage"}
    as_http_headers = {key.capitalize(): value for key, value in carrier.items()}
    with ow.continue_execution(as_http_headers) as execution_id:
        second()
    (wf,) = ow_telemetry.workflow_spans("hop")
    (one,) = ow_telemetry.step_spans("first")
    (two,) = ow_telemetry.step_spans("second")
    assert execution_id == wf.attributes[semconv.WORKFLOW_EXECUTION_ID]
    assert two.context.trace_id == wf.context.trace_id
    assert two.attributes[semconv.WORKFLOW_EXECUTION_ID] == execution_id
    assert two.attributes[semconv.WORKFLOW_NAME] == "hop"
    assert two.attributes[semconv.USER_ID] == "u9"
    assert two.attributes[semconv.STEP_INDEX] > one.attributes[semconv.STEP_INDEX]


@pytest.mark.parametrize("carrier", [None, {}, {"traceparent": "garbage"}, "not a dict",
                                     {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}])
def test_bad_carrier_starts_a_new_execution(
    ow_telemetry: TelemetryCapture, caplog: pytest.LogCaptureFixture, carrier: Any
) -> None:
    """A missing or malformed carrier runs the block as a new execution, never raising."""
    from otel_workflow import propagation

    propagation._warned.clear()  # warned once per process: start this test from none

    @ow.step(name="orphan")
    def orphan() -> int:
        return 1

    with caplog.at_level(logging.WARNING, logger="otel_workflow"):
        for _ in range(2):
            with ow.continue_execution(carrier, workflow="recovered") as execution_id:
                assert orphan() == 1
    assert caplog.text.count("new execution") == 1
    spans = ow_telemetry.workflow_spans("recovered")
    assert len(spans) == 2
    assert execution_id == spans[-1].attributes[semconv.WORKFLOW_EXECUTION_ID] or (
        execution_id == spans[0].attributes[semconv.WORKFLOW_EXECUTION_ID])


def test_workflow_imported_from_a_log_keeps_its_timings(ow_telemetry: TelemetryCapture) -> None:
    """start= and end= give the workflow span and histogram the recorded times."""
    t0 = time.time() - 7200.0
    ex = ow.track_workflow_start("nightly", start=t0)
    ex.record_step_timing("extract", start=t0 + 1, end=t0 + 4)
    with pytest.raises(ValueError, match="before its start"):
        ex.track_workflow_complete(end=t0 - 1)
    ex.track_workflow_complete(end=t0 + 5)
    (wf,) = ow_telemetry.workflow_spans("nightly")
    assert wf.start_time == int(t0 * 1e9)
    assert wf.end_time - wf.start_time == pytest.approx(5e9, abs=1e3)
    labels = {semconv.LABEL_WORKFLOW: "nightly"}
    assert ow_telemetry.histogram_sum(semconv.METRIC_WORKFLOW_DURATION, **labels) == (
        pytest.approx(5.0, abs=1e-6))


def test_recorded_failure_reaches_on_error_hooks(ow_telemetry: TelemetryCapture) -> None:
    """A step recorded as failed runs the on_error hooks, so the diagnosis sees it."""
    seen: list[tuple[str, str]] = []

    class Hook:
        def on_error(self, call: CallInfo, exc: BaseException) -> None:
            seen.append((call.name, type(exc).__name__))

    hook = Hook()
    ow.register_hook(hook)
    try:
        ex = ow.track_workflow_start("imported")
        ex.track_step_execution("load", duration=0.5, error=TimeoutError("db"))
        ex.track_step_execution("fine", duration=0.1)
        ex.track_workflow_complete()
    finally:
        ow.unregister_hook(hook)
    assert seen == [("load", "TimeoutError")]
    (load,) = ow_telemetry.step_spans("load")
    assert load.end_time - load.start_time == pytest.approx(0.5e9, abs=1e3)
