"""Spans of workflows and steps: names, attributes, parentage, status."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import StatusCode

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow.testing import TelemetryCapture


@ow.step
def validate(order: dict[str, int]) -> int:
    return order["n"]


@ow.step(name="charge")
async def charge(amount: int) -> int:
    await asyncio.sleep(0)
    return amount * 2


@ow.workflow(type="order", version=3)
def checkout(order: dict[str, int]) -> int:
    return validate(order) + asyncio.run(charge(1))


def test_workflow_is_root_span_with_identity(ow_telemetry: TelemetryCapture) -> None:
    """A workflow execution is a root span with name, type, version and an execution id."""
    assert checkout({"n": 1}) == 3
    (root,) = ow_telemetry.workflow_spans()
    assert root.parent is None
    assert root.name == "checkout"
    attrs = root.attributes or {}
    assert attrs[semconv.WORKFLOW_TYPE] == "order"
    assert attrs[semconv.WORKFLOW_VERSION] == "3"
    assert attrs[semconv.WORKFLOW_STATUS] == "ok"
    assert len(str(attrs[semconv.WORKFLOW_EXECUTION_ID])) == 16
    assert attrs[semconv.CODE_FUNCTION_NAME].endswith("test_spans.checkout")
    assert attrs[semconv.CODE_FILE_PATH] == __file__
    assert isinstance(attrs[semconv.CODE_LINE_NUMBER], int)


def test_steps_are_children_with_index(ow_telemetry: TelemetryCapture) -> None:
    """Steps are child spans carrying the execution id, workflow name and their index."""
    checkout({"n": 1})
    (root,) = ow_telemetry.workflow_spans()
    steps = sorted(ow_telemetry.step_spans(), key=lambda s: s.attributes[semconv.STEP_INDEX])
    assert [s.name for s in steps] == ["validate", "charge"]
    for index, span in enumerate(steps):
        assert span.parent is not None and span.parent.span_id == root.context.span_id
        assert span.context.trace_id == root.context.trace_id
        assert span.attributes[semconv.STEP_INDEX] == index
        assert span.attributes[semconv.STEP_ATTEMPT] == 1
        assert span.attributes[semconv.WORKFLOW_NAME] == "checkout"
        assert (span.attributes[semconv.WORKFLOW_EXECUTION_ID]
                == root.attributes[semconv.WORKFLOW_EXECUTION_ID])  # fmt: skip
        # Thread CPU time of a single-threaded step: measured, and within its wall time.
        wall = (span.end_time - span.start_time) / 1e9
        assert 0 < span.attributes[semconv.STEP_CPU_TIME] <= wall


def test_each_execution_gets_its_own_id(ow_telemetry: TelemetryCapture) -> None:
    """Two executions of one workflow have different execution ids."""
    checkout({"n": 1})
    checkout({"n": 2})
    ids = {s.attributes[semconv.WORKFLOW_EXECUTION_ID] for s in ow_telemetry.workflow_spans()}
    assert len(ids) == 2


def test_nested_workflow_is_a_child_execution(ow_telemetry: TelemetryCapture) -> None:
    """A workflow called inside another is its child, with the parent's execution id."""

    @ow.workflow
    def inner() -> None:
        validate({"n": 0})

    @ow.workflow
    def outer() -> None:
        inner()

    outer()
    prefix = "test_nested_workflow_is_a_child_execution.<locals>."
    (outer_span,) = ow_telemetry.workflow_spans(prefix + "outer")
    (inner_span,) = ow_telemetry.workflow_spans(prefix + "inner")
    assert inner_span.parent.span_id == outer_span.context.span_id
    assert (inner_span.attributes[semconv.WORKFLOW_PARENT_EXECUTION_ID]
            == outer_span.attributes[semconv.WORKFLOW_EXECUTION_ID])  # fmt: skip
    (step,) = ow_telemetry.step_spans("validate")
    assert step.attributes[semconv.WORKFLOW_NAME] == inner_span.name


def test_recursion_nests_spans(ow_telemetry: TelemetryCapture) -> None:
    """A recursive step produces one nested span per call."""

    @ow.step(name="fact")
    def fact(n: int) -> int:
        return 1 if n <= 1 else n * fact(n - 1)

    assert fact(4) == 24
    spans = ow_telemetry.step_spans("fact")
    assert len(spans) == 4
    by_id = {s.context.span_id: s for s in spans}
    roots = [s for s in spans if s.parent is None or s.parent.span_id not in by_id]
    assert len(roots) == 1


def test_step_outside_workflow_still_traced(ow_telemetry: TelemetryCapture) -> None:
    """A step called with no workflow around it is a span with an empty workflow name."""
    assert validate({"n": 5}) == 5
    (span,) = ow_telemetry.step_spans("validate")
    assert span.attributes[semconv.WORKFLOW_NAME] == ""


def test_step_under_caller_span(ow_telemetry: TelemetryCapture) -> None:
    """A workflow started under the caller's own span is that span's child."""
    tracer = ow_telemetry.tracer_provider.get_tracer("caller")
    with tracer.start_as_current_span("http request") as caller:
        checkout({"n": 1})
    (root,) = ow_telemetry.workflow_spans()
    assert root.parent.span_id == caller.get_span_context().span_id


def test_methods_classmethods_staticmethods(ow_telemetry: TelemetryCapture) -> None:
    """Methods, classmethods and staticmethods are all steps and bind correctly."""

    class Pipeline:
        factor = 3

        def __init__(self) -> None:
            self.base = 2

        @ow.step(name="method")
        def method(self, x: int) -> int:
            return self.base * x

        @ow.step(name="cls")
        @classmethod
        def cls_method(cls, x: int) -> int:
            return cls.factor * x

        @ow.step(name="static")
        @staticmethod
        def static(x: int) -> int:
            return x + 1

    p = Pipeline()
    assert (p.method(5), Pipeline.cls_method(5), p.cls_method(1), Pipeline.static(1),
            p.static(2)) == (10, 15, 3, 2, 3)  # fmt: skip
    names = sorted(s.name for s in ow_telemetry.step_spans())
    assert names == ["cls", "cls", "method", "static", "static"]


def test_failure_recorded_and_reraised_unchanged(ow_telemetry: TelemetryCapture) -> None:
    """The caller gets the very exception object; the span has status, event and error.type."""
    error = KeyError("missing")

    @ow.step(name="lookup")
    def lookup() -> None:
        raise error

    with pytest.raises(KeyError) as caught:
        lookup()
    assert caught.value is error
    # The innermost frame is still the user's function.
    tb = caught.value.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    assert tb.tb_frame.f_code.co_name == "lookup"
    (span,) = ow_telemetry.step_spans("lookup")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "KeyError"
    assert span.attributes[semconv.WORKFLOW_STATUS] == "error"
    assert span.attributes[semconv.ERROR_CATEGORY] == "programming"  # a missing key
    assert [e.name for e in span.events] == ["exception"]


def test_error_type_is_qualified_for_user_classes(ow_telemetry: TelemetryCapture) -> None:
    """error.type is the fully qualified class name for non-builtin exceptions."""

    class PaymentDeclined(Exception):
        pass

    @ow.step(name="pay")
    def pay() -> None:
        raise PaymentDeclined()

    with pytest.raises(PaymentDeclined):
        pay()
    (span,) = ow_telemetry.step_spans("pay")
    assert span.attributes[semconv.ERROR_TYPE] == (
        f"{__name__}.test_error_type_is_qualified_for_user_classes.<locals>.PaymentDeclined"
    )


def test_cancellation_is_not_failure(ow_telemetry: TelemetryCapture) -> None:
    """asyncio cancellation marks the step cancelled, with no ERROR status."""
    started = asyncio.Event()

    @ow.step(name="wait_forever")
    async def wait_forever() -> None:
        started.set()
        await asyncio.Event().wait()

    async def main() -> None:
        task = asyncio.create_task(wait_forever())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    (span,) = ow_telemetry.step_spans("wait_forever")
    assert span.attributes[semconv.WORKFLOW_STATUS] == "cancelled"
    assert span.status.status_code is not StatusCode.ERROR


def test_keyboard_interrupt_is_cancelled(ow_telemetry: TelemetryCapture) -> None:
    """KeyboardInterrupt inside a workflow marks it cancelled and propagates."""

    @ow.workflow(name="interrupted")
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    (span,) = ow_telemetry.workflow_spans("interrupted")
    assert span.attributes[semconv.WORKFLOW_STATUS] == "cancelled"
    assert ow_telemetry.counter(semconv.METRIC_WORKFLOW_EXECUTIONS, **{
        semconv.LABEL_WORKFLOW: "interrupted", semconv.LABEL_STATUS: "cancelled"}) == 1


def test_async_workflow_span_ends_after_await(ow_telemetry: TelemetryCapture) -> None:
    """An async workflow's span covers the awaited body, steps included."""

    @ow.workflow(name="async_flow")
    async def flow() -> int:
        return await charge(2)

    assert asyncio.run(flow()) == 4
    (root,) = ow_telemetry.workflow_spans("async_flow")
    (step,) = ow_telemetry.step_spans("charge")
    assert step.parent.span_id == root.context.span_id
    assert root.end_time >= step.end_time


def test_concurrent_async_steps_keep_their_parents(ow_telemetry: TelemetryCapture) -> None:
    """Steps gathered as asyncio tasks are children of the workflow that started them."""

    @ow.workflow(name="fan_out")
    async def fan_out() -> list[int]:
        return list(await asyncio.gather(*(charge(i) for i in range(5))))

    async def two() -> None:
        await asyncio.gather(fan_out(), fan_out())

    asyncio.run(two())
    roots = {s.context.span_id: s for s in ow_telemetry.workflow_spans("fan_out")}
    steps = ow_telemetry.step_spans("charge")
    assert len(roots) == 2 and len(steps) == 10
    for step in steps:
        parent = roots[step.parent.span_id]
        assert (step.attributes[semconv.WORKFLOW_EXECUTION_ID]
                == parent.attributes[semconv.WORKFLOW_EXECUTION_ID])  # fmt: skip
