"""The hook path: when hooks run, what they see, blocking and awaiting, and paused time."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow._hooks import CallInfo
from otel_workflow._runtime import RUNTIME
from otel_workflow.testing import TelemetryCapture

PAUSE = 0.2  # seconds a hook deliberately blocks: the pause being measured, not a wait


class Recorder:
    """A hook that records every call it sees, with the span's state at that moment."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []

    def before(self, call: CallInfo) -> None:
        current = trace.get_current_span()
        self.events.append(("before", call.name, (call.attempt, call.is_async,
                                                  current is call.span)))  # fmt: skip

    def after(self, call: CallInfo, result: Any) -> None:
        recording = call.span is not None and call.span.is_recording()
        if recording:
            call.span.add_event("seen.after")  # type: ignore[union-attr]
        self.events.append(("after", call.name, (result, recording)))

    def on_error(self, call: CallInfo, exc: BaseException) -> None:
        recording = call.span is not None and call.span.is_recording()
        self.events.append(("on_error", call.name, (exc, recording)))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    hook = Recorder()
    ow.register_hook(hook)
    try:
        yield hook
    finally:
        ow.unregister_hook(hook)


def _register(hook: Any) -> Iterator[Any]:
    ow.register_hook(hook)
    try:
        yield hook
    finally:
        ow.unregister_hook(hook)


def test_sync_hooks_run_around_the_body_with_the_span_recording(
    ow_telemetry: TelemetryCapture, recorder: Recorder
) -> None:
    """before sees its span current; after sees it still recording and can add events."""

    @ow.step(name="plain")
    def plain(x: int) -> int:
        recorder.events.append(("body", "plain", x))
        return x + 1

    @ow.workflow(name="flow")
    def flow() -> int:
        return plain(1)

    assert flow() == 2
    names = [(kind, name) for kind, name, _ in recorder.events]
    assert names == [("before", "flow"), ("before", "plain"), ("body", "plain"),
                     ("after", "plain"), ("after", "flow")]  # fmt: skip
    assert recorder.events[1][2] == (1, False, True)
    assert recorder.events[3][2] == (2, True)
    (step_span,) = ow_telemetry.step_spans("plain")
    assert "seen.after" in [e.name for e in step_span.events]


def test_call_info_describes_the_call(ow_telemetry: TelemetryCapture) -> None:
    """CallInfo names the workflow, execution, index, parent and binds arguments."""
    seen: list[CallInfo] = []

    class Hook:
        def before(self, call: CallInfo) -> None:
            seen.append(call)

    @ow.step(name="charge")
    def charge(order: dict[str, int], currency: str = "EUR") -> int:
        return order["total"]

    @ow.workflow(name="checkout", type="order")
    def checkout() -> int:
        return charge({"total": 5}, currency="XAU")

    for _ in _register(Hook()):
        checkout()
    workflow_call, step_call = seen
    assert step_call.parent is workflow_call
    assert step_call.execution_id == workflow_call.execution_id is not None
    assert (step_call.workflow, step_call.workflow_type) == ("checkout", "order")
    assert step_call.step_index == 0 and workflow_call.step_index is None
    assert step_call.arguments() == {"order": {"total": 5}, "currency": "XAU"}
    assert [c.name for c in step_call.stack()] == ["checkout", "charge"]


def test_on_error_sees_user_frames_only_with_scrubbed_locals(
    ow_telemetry: TelemetryCapture,
) -> None:
    """on_error gets the same exception, the user's frames without ours, locals captured."""
    frames: list[Any] = []
    errors: list[BaseException] = []

    class Hook:
        def on_error(self, call: CallInfo, exc: BaseException) -> None:
            errors.append(exc)
            assert call.span is not None and call.span.is_recording()
            frames.extend(call.error_frames(exc))

    def helper(value: int) -> None:
        password = "hunter2"  # noqa: F841 - a local the capture must scrub
        raise KeyError(value)

    @ow.step(name="lookup")
    def lookup(sku: int) -> None:
        helper(sku * 2)

    for _ in _register(Hook()):
        with pytest.raises(KeyError) as caught:
            lookup(21)
    assert errors == [caught.value]
    assert [f.function for f in frames] == ["lookup", "helper"]
    assert all("otel_workflow" not in f.module and "wrapt" not in f.module for f in frames)
    assert frames[0].locals["sku"] == 21
    assert frames[1].locals["value"] == 42
    assert frames[1].locals["password"] == "[REDACTED]"
    assert frames[1].source_line == "raise KeyError(value)"
    # The user's traceback is untouched: it still starts at the test, through our wrapper.
    assert caught.value.__traceback__ is not None


def test_blocking_before_hook_time_is_not_in_the_metrics(
    ow_telemetry: TelemetryCapture,
) -> None:
    """A pause in a sync hook blocks the step but counts in neither duration nor CPU."""

    class Pauser:
        def before(self, call: CallInfo) -> None:
            threading.Event().wait(PAUSE)  # a debugger holding the step

    @ow.step(name="held")
    def held() -> str:
        return "done"

    for _ in _register(Pauser()):
        assert held() == "done"
    labels = {semconv.LABEL_STEP: "held"}
    total = ow_telemetry.histogram_sum(semconv.METRIC_STEP_DURATION, **labels)
    assert total < PAUSE / 2
    (span,) = ow_telemetry.step_spans("held")
    paused = span.attributes[semconv.WORKFLOW_PAUSE_DURATION]
    assert paused >= PAUSE
    (event,) = [e for e in span.events if e.name == semconv.PAUSED_EVENT]
    assert event.attributes[semconv.WORKFLOW_PAUSE_DURATION] == paused
    assert span.attributes[semconv.STEP_CPU_TIME] < PAUSE / 2


def test_async_hook_is_awaited_and_other_executions_keep_running(
    ow_telemetry: TelemetryCapture,
) -> None:
    """One execution awaits in an async hook; another on the same loop finishes meanwhile."""
    order: list[str] = []

    class Gate:
        def __init__(self) -> None:
            self.release = asyncio.Event()
            self.paused = asyncio.Event()

        def before(self, call: CallInfo) -> Any:
            if call.name == "gated" and call.arguments()["who"] == "first":
                assert call.is_async
                return self._hold()
            return None

        async def _hold(self) -> None:
            self.paused.set()
            await self.release.wait()

    @ow.step(name="gated")
    async def gated(who: str) -> str:
        order.append(who)
        return who

    @ow.workflow(name="run")
    async def run(who: str) -> str:
        return await gated(who)

    async def main(gate: Gate) -> list[str]:
        first = asyncio.ensure_future(run("first"))
        await gate.paused.wait()
        assert await run("second") == "second"  # finishes while "first" is paused
        gate.release.set()
        return [await first]

    gate = Gate()
    for _ in _register(gate):
        assert asyncio.run(main(gate)) == ["first"]
    assert order == ["second", "first"]
    assert len(ow_telemetry.step_spans("gated")) == 2
    assert len(ow_telemetry.workflow_spans("run")) == 2


def test_generator_before_runs_at_first_resume(
    ow_telemetry: TelemetryCapture, recorder: Recorder
) -> None:
    """A generator step's before hook runs when its body first runs, not at creation."""

    @ow.step(name="numbers")
    def numbers(n: int) -> Iterator[int]:
        yield from range(n)

    gen = numbers(3)
    assert recorder.events == []
    assert next(gen) == 0
    assert [kind for kind, _, _ in recorder.events] == ["before"]
    assert list(gen) == [1, 2]
    assert [kind for kind, _, _ in recorder.events] == ["before", "after"]
    (span,) = ow_telemetry.step_spans("numbers")
    assert "seen.after" in [e.name for e in span.events]


def test_async_generator_awaits_its_before_hook(ow_telemetry: TelemetryCapture) -> None:
    """An async generator awaits an async before hook at its first resume."""
    log: list[str] = []

    class Hook:
        def before(self, call: CallInfo) -> Any:
            async def hold() -> None:
                log.append("hook")
                await asyncio.sleep(0)

            return hold() if call.is_async else None

    @ow.step(name="agen")
    async def agen() -> Any:
        log.append("body")
        yield 1

    async def main() -> list[int]:
        return [item async for item in agen()]

    for _ in _register(Hook()):
        assert asyncio.run(main()) == [1]
    assert log == ["hook", "body"]


def test_hooks_see_every_retry_attempt(
    ow_telemetry: TelemetryCapture, recorder: Recorder
) -> None:
    """before and on_error run for each attempt, with the attempt number."""
    calls = []

    @ow.step(name="flaky", retries=2, retry_on=TimeoutError)
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TimeoutError("slow")
        return "ok"

    assert flaky() == "ok"
    seen = [(kind, detail[0] if kind == "before" else None)
            for kind, _, detail in recorder.events]  # fmt: skip
    assert seen == [("before", 1), ("on_error", None), ("before", 2), ("on_error", None),
                    ("before", 3), ("after", None)]  # fmt: skip


def test_hooks_run_without_an_sdk() -> None:
    """With no tracer provider and no metrics consumer, a registered hook still runs."""
    previous, consumers = RUNTIME.explicit_provider, RUNTIME.metrics_consumers
    RUNTIME.metrics_consumers = 0  # whatever earlier tests left registered
    RUNTIME.use_tracer_provider(trace.NoOpTracerProvider())
    seen: list[tuple[str, Any]] = []

    class Hook:
        def before(self, call: CallInfo) -> None:
            seen.append((call.name, call.span))

    @ow.step(name="bare")
    def bare() -> int:
        return 1

    try:
        assert not RUNTIME.active
        for _ in _register(Hook()):
            assert RUNTIME.active
            assert bare() == 1
        assert not RUNTIME.active
    finally:
        RUNTIME.metrics_consumers = consumers
        RUNTIME.use_tracer_provider(previous)
    assert seen == [("bare", None)]


def test_substitute_result_skips_the_body(ow_telemetry: TelemetryCapture) -> None:
    """A before hook can serve a recorded result (replay) or replace the arguments."""
    ran: list[int] = []

    class Replay:
        def before(self, call: CallInfo) -> None:
            if call.name == "recorded":
                call.substitute_result(99)
            elif call.name == "live":
                call.substitute_arguments((5,), {})

    @ow.step(name="recorded")
    def recorded() -> int:
        ran.append(1)
        return 1

    @ow.step(name="live")
    def live(x: int) -> int:
        return x * 2

    for _ in _register(Replay()):
        assert recorded() == 99
        assert live(1) == 10
    assert ran == []
    assert len(ow_telemetry.step_spans("recorded")) == 1


@pytest.mark.expect_internal_errors("hook")
def test_async_hook_on_a_sync_call_is_reported(ow_telemetry: TelemetryCapture) -> None:
    """A hook returning an awaitable for a sync call is reported and never left pending."""

    class Wrong:
        async def before(self, call: CallInfo) -> None:
            raise AssertionError("never awaited")

    @ow.step(name="sync_one")
    def sync_one() -> int:
        return 3

    for _ in _register(Wrong()):
        assert sync_one() == 3
    assert ow_telemetry.internal_errors().get("hook") == 1


def test_error_only_hook_sees_failures_without_slowing_successes(
    ow_telemetry: TelemetryCapture,
) -> None:
    """A hook with only on_error gets a full CallInfo for a failed plain step."""
    from otel_workflow._drivers import Instrumented

    seen: list[CallInfo] = []

    class Diagnosis:
        def on_error(self, call: CallInfo, exc: BaseException) -> None:
            assert call.span is not None and call.span.is_recording()
            seen.append(call)

    @ow.step(name="may_fail")
    def may_fail(x: int) -> int:
        if x < 0:
            raise ValueError(x)
        return x

    @ow.workflow(name="wf")
    def wf(x: int) -> int:
        return may_fail(x)

    built: list[int] = []
    original = Instrumented.failure_info

    def counting(self: Instrumented, call: Any, is_async: bool) -> Any:
        built.append(1)
        return original(self, call, is_async)

    for _ in _register(Diagnosis()):
        assert not RUNTIME.call_hooks and RUNTIME.error_hooks
        assert wf(1) == 1
        assert built == []  # nothing was built for a success
        Instrumented.failure_info = counting  # type: ignore[method-assign]
        try:
            with pytest.raises(ValueError):
                wf(-1)
        finally:
            Instrumented.failure_info = original  # type: ignore[method-assign]
    step_call, workflow_call = seen
    assert (step_call.name, workflow_call.name) == ("may_fail", "wf")
    assert step_call.arguments() == {"x": -1}
    assert step_call.workflow == "wf" and step_call.execution_id == workflow_call.execution_id
    assert step_call.step_index == 0


def test_substitute_exception_is_raised_instead_of_the_body(
    ow_telemetry: TelemetryCapture,
) -> None:
    """A replay divergence: the hook makes the call raise without running the body."""

    class Diverged(Exception):
        pass

    class Replay:
        def before(self, call: CallInfo) -> None:
            call.substitute_exception(Diverged("step 2: expected 'charge', got 'refund'"))

    @ow.step(name="refund")
    def refund() -> None:
        raise AssertionError("must not run")

    for _ in _register(Replay()):
        with pytest.raises(Diverged):
            refund()
    (span,) = ow_telemetry.step_spans("refund")
    assert span.attributes[semconv.WORKFLOW_STATUS] == "error"


def test_interested_narrows_which_calls_a_hook_sees(ow_telemetry: TelemetryCapture) -> None:
    """A hook's interested() is asked once per step and re-asked after a change."""
    from otel_workflow._hooks import hook_interest_changed

    class Picky:
        def __init__(self) -> None:
            self.wanted = {"watched"}
            self.asked: list[str] = []
            self.seen: list[str] = []

        def interested(self, kind: str, name: str) -> bool:
            self.asked.append(name)
            return name in self.wanted

        def before(self, call: CallInfo) -> None:
            self.seen.append(call.name)

    @ow.step(name="watched")
    def watched() -> None:
        pass

    @ow.step(name="ignored")
    def ignored() -> None:
        pass

    hook = Picky()
    for _ in _register(hook):
        for _ in range(3):
            watched()
            ignored()
        assert hook.seen == ["watched"] * 3
        assert sorted(hook.asked) == ["ignored", "watched"]  # asked once each
        hook.wanted = {"ignored"}
        hook_interest_changed()
        watched()
        ignored()
    assert hook.seen == ["watched"] * 3 + ["ignored"]
    assert len(ow_telemetry.step_spans()) == 8


def test_async_on_error_hook_is_awaited_for_a_plain_async_step(
    ow_telemetry: TelemetryCapture,
) -> None:
    """An error-only async hook is awaited on the step's loop, fast path or not."""
    log: list[str] = []

    class AsyncDiagnosis:
        def on_error(self, call: CallInfo, exc: BaseException) -> Any:
            async def record() -> None:
                await asyncio.sleep(0)
                log.append(f"{call.name}:{type(exc).__name__}")

            return record() if call.is_async else None

    @ow.step(name="afail")
    async def afail() -> None:
        raise LookupError("gone")

    for _ in _register(AsyncDiagnosis()):
        with pytest.raises(LookupError):
            asyncio.run(afail())
    assert log == ["afail:LookupError"]
    assert ow_telemetry.internal_errors() == {}
