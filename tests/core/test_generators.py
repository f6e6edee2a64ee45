"""Generators keep their span open until done, and attach context only while running."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator

from opentelemetry import trace

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow.testing import TelemetryCapture


@ow.step(name="numbers")
def numbers(n: int) -> Iterator[int]:
    yield from range(n)


@ow.step(name="anumbers")
async def anumbers(n: int) -> AsyncIterator[int]:
    for i in range(n):
        await asyncio.sleep(0)
        yield i


def test_generator_span_open_until_exhausted(ow_telemetry: TelemetryCapture) -> None:
    """The span ends only after the last item, with status ok."""
    gen = numbers(3)
    assert next(gen) == 0
    assert ow_telemetry.step_spans("numbers") == []
    assert list(gen) == [1, 2]
    (span,) = ow_telemetry.step_spans("numbers")
    assert span.attributes.get(semconv.WORKFLOW_STATUS, "ok") == "ok"


def test_generator_context_does_not_leak(ow_telemetry: TelemetryCapture) -> None:
    """Between items the caller's current span is its own, not the generator's."""
    seen_inside = []

    @ow.step(name="peek")
    def peek() -> Iterator[int]:
        seen_inside.append(trace.get_current_span().get_span_context().span_id)
        yield 1
        seen_inside.append(trace.get_current_span().get_span_context().span_id)
        yield 2

    gen = peek()
    next(gen)
    assert not trace.get_current_span().is_recording()
    next(gen)
    assert not trace.get_current_span().is_recording()
    gen.close()
    (span,) = ow_telemetry.step_spans("peek")
    assert seen_inside == [span.context.span_id] * 2


def test_generator_closed_early_is_cancelled(ow_telemetry: TelemetryCapture) -> None:
    """Breaking out of the loop closes the generator and marks the span cancelled."""
    for item in numbers(10):
        if item == 2:
            break
    gc.collect()
    (span,) = ow_telemetry.step_spans("numbers")
    assert span.attributes[semconv.WORKFLOW_STATUS] == "cancelled"


def test_generator_collected_ends_span(ow_telemetry: TelemetryCapture) -> None:
    """A generator dropped mid-way is closed on collection and its span ends."""
    gen = numbers(5)
    next(gen)
    del gen
    gc.collect()
    assert len(ow_telemetry.step_spans("numbers")) == 1


def test_generator_send_throw_and_return_value(ow_telemetry: TelemetryCapture) -> None:
    """send(), throw() and the generator's return value pass through the wrapper."""

    @ow.step(name="echo")
    def echo() -> Iterator[int]:
        total = 0
        while True:
            try:
                value = yield total
            except ValueError:
                value = 100
            if value is None:
                return total
            total += value

    gen = echo()
    assert next(gen) == 0
    assert gen.send(5) == 5
    assert gen.throw(ValueError()) == 105
    try:
        gen.send(None)
    except StopIteration as stop:
        assert stop.value == 105
    else:  # pragma: no cover
        raise AssertionError("generator should have returned")
    assert len(ow_telemetry.step_spans("echo")) == 1


def test_generator_error_recorded(ow_telemetry: TelemetryCapture) -> None:
    """An exception raised inside the generator body fails the span and propagates."""

    @ow.step(name="broken")
    def broken() -> Iterator[int]:
        yield 1
        raise RuntimeError("boom")

    gen = broken()
    next(gen)
    try:
        next(gen)
    except RuntimeError as exc:
        assert str(exc) == "boom"
    (span,) = ow_telemetry.step_spans("broken")
    assert span.attributes[semconv.WORKFLOW_STATUS] == "error"


def test_async_generator_span_and_context(ow_telemetry: TelemetryCapture) -> None:
    """Async generators: span open until exhausted, no context leak between items."""
    leaks = []

    async def main() -> list[int]:
        out = []
        async for item in anumbers(3):
            leaks.append(trace.get_current_span().is_recording())
            out.append(item)
        return out

    assert asyncio.run(main()) == [0, 1, 2]
    assert leaks == [False, False, False]
    (span,) = ow_telemetry.step_spans("anumbers")
    assert span.attributes.get(semconv.WORKFLOW_STATUS, "ok") == "ok"


def test_async_generator_closed_early_is_cancelled(ow_telemetry: TelemetryCapture) -> None:
    """aclose() on an async generator ends its span as cancelled."""

    async def main() -> None:
        agen = anumbers(10)
        assert await agen.__anext__() == 0
        await agen.aclose()

    asyncio.run(main())
    (span,) = ow_telemetry.step_spans("anumbers")
    assert span.attributes[semconv.WORKFLOW_STATUS] == "cancelled"


def test_generator_steps_inside_workflow(ow_telemetry: TelemetryCapture) -> None:
    """A generator step consumed inside a workflow is that execution's child."""

    @ow.workflow(name="consume")
    def consume() -> int:
        return sum(numbers(4))

    assert consume() == 6
    (root,) = ow_telemetry.workflow_spans("consume")
    (step,) = ow_telemetry.step_spans("numbers")
    assert step.parent.span_id == root.context.span_id
    assert step.attributes[semconv.WORKFLOW_NAME] == "consume"


def test_generator_workflow_scope_only_while_running(ow_telemetry: TelemetryCapture) -> None:
    """A workflow generator's execution is current only while its body runs."""

    @ow.workflow(name="stream")
    def stream() -> Iterator[int]:
        yield from numbers(2)

    gen = stream()
    next(gen)
    from otel_workflow._scope import CURRENT_SCOPE

    assert CURRENT_SCOPE.get().execution is None
    list(gen)
    (step,) = ow_telemetry.step_spans("numbers")
    assert step.attributes[semconv.WORKFLOW_NAME] == "stream"
