"""The call paths over the step machine: thin drivers, one per kind of callable.

Each driver is a wrapt wrapper ``(wrapped, instance, args, kwargs)`` that runs the phases
of :class:`~otel_workflow._instrumented.StepMachine` around the body.  They differ only in
how the body runs (called, awaited, resumed) and in whether hooks' awaitables are awaited
(async) or hooks may only block (sync).  The plain-step fast paths inline the common case
(no retries, capture or hooks) with the same behaviour: that is what ``make bench``
measures against a hand-written span.
"""

from __future__ import annotations

import asyncio
import time
import types
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY

from otel_workflow import semconv
from otel_workflow._guard import report_internal_error
from otel_workflow._hooks import substituted
from otel_workflow._instrumented import (
    Call,
    StepMachine,
    _attach,
    _detach,
    _get_current,
    _perf_counter,
    _set_span_in_context,
    put_captured,
)
from otel_workflow._metrics import StatusCells
from otel_workflow._runtime import RUNTIME
from otel_workflow._scope import CURRENT_SCOPE

_thread_time = time.thread_time

# Only coroutines are driven by cpu_timed: an arbitrary awaitable has no send/throw.
_CoroutineType = types.CoroutineType


_NOT_STARTED: Any = object()


@types.coroutine
def cpu_timed(
    coroutine: Any, cpu: list[float], yielded: Any = _NOT_STARTED
) -> Generator[Any, Any, Any]:
    """Await ``coroutine``, adding to ``cpu[0]`` the thread CPU time of its own slices only.

    Measuring ``thread_time()`` around an ``await`` would also count every other task the
    event loop ran in between; resuming the coroutine by hand counts just its own slices.
    Anything with the coroutine protocol (``send``/``throw``/``close``) works, including
    the awaitables an async generator's ``asend()``/``athrow()`` return.  (A generator
    rather than a class with ``__await__``: one object less per call on the hot path.)
    ``yielded``: the coroutine was already resumed once and handed this to the event loop.
    """
    to_send: Any = None
    to_throw: BaseException | None = None
    if yielded is not _NOT_STARTED:
        try:
            to_send = yield yielded
        except GeneratorExit:
            coroutine.close()
            raise
        except BaseException as thrown:  # cancellation and throw() go to the coroutine
            to_throw = thrown
    while True:
        c0 = _thread_time()
        try:
            if to_throw is None:
                yielded = coroutine.send(to_send)
            else:
                exc, to_throw = to_throw, None
                yielded = coroutine.throw(exc)
        except StopIteration as stop:
            cpu[0] += _thread_time() - c0
            return stop.value
        except BaseException:
            cpu[0] += _thread_time() - c0
            raise
        cpu[0] += _thread_time() - c0
        try:
            to_send = yield yielded
        except GeneratorExit:
            coroutine.close()
            raise
        except BaseException as exc:  # cancellation and throw() go to the coroutine
            to_throw = exc


class Instrumented(StepMachine):
    """A workflow or step with its call paths (the wrappers ``_decorators`` installs)."""

    # -- sync ----------------------------------------------------------------------------
    def call_sync(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:  # fmt: skip
        rt = RUNTIME
        if not rt.active and not rt.wake():
            return wrapped(*args, **kwargs)
        attempt = 1
        while True:
            call = self.begin_guarded(args, kwargs, attempt, True, False, instance)
            if call is None:
                return wrapped(*args, **kwargs)
            info = call.info
            if info is not None:
                self.run_hooks_sync(call, "before")
                if info.has_substitute:
                    return self._substitute_sync(call, info)
                args, kwargs = info.args, info.kwargs
            c0 = _thread_time()
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                call.cpu = _thread_time() - c0
                self.finish(call, exc)
                if call.retry:
                    time.sleep(self.retry_delay(attempt))
                    attempt += 1
                    continue
                raise
            call.cpu = _thread_time() - c0
            self.finish(call, None, result)
            return result

    def _substitute_sync(self, call: Call, info: Any) -> Any:
        try:
            result = substituted(info)
        except BaseException as exc:
            self.finish(call, exc)
            raise
        self.finish(call, None, result)
        return result

    # -- async ---------------------------------------------------------------------------
    def call_async(
        self, wrapped: Callable[..., Awaitable[Any]], instance: Any, args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Awaitable[Any]:  # fmt: skip
        rt = RUNTIME
        if not rt.active and not rt.wake():
            return wrapped(*args, **kwargs)
        return self._run_async(wrapped, args, kwargs, instance)

    async def _run_async(
        self, wrapped: Callable[..., Awaitable[Any]], args: tuple[Any, ...],
        kwargs: dict[str, Any], instance: Any = None,
    ) -> Any:  # fmt: skip
        attempt = 1
        while True:
            call = self.begin_guarded(args, kwargs, attempt, True, True, instance)
            if call is None:
                return await wrapped(*args, **kwargs)
            info = call.info
            if info is not None:
                pending = self.run_hooks(call, "before")
                if pending:
                    await self.await_hooks(call, pending)
                if info.has_substitute:
                    try:
                        result = substituted(info)
                    except BaseException as exc:
                        await self.finish_async(call, exc)
                        raise
                    await self.finish_async(call, None, result)
                    return result
                args, kwargs = info.args, info.kwargs
            cpu = [0.0]
            try:
                awaitable = wrapped(*args, **kwargs)
                if type(awaitable) is _CoroutineType:
                    awaitable = cpu_timed(awaitable, cpu)
                result = await awaitable
            except BaseException as exc:
                call.cpu = cpu[0]
                await self.finish_async(call, exc)
                if call.retry:
                    await asyncio.sleep(self.retry_delay(attempt))
                    attempt += 1
                    continue
                raise
            call.cpu = cpu[0]
            await self.finish_async(call, None, result)
            return result

    # -- the plain-step fast paths (capture included; no retries, hooks or workflows) --
    def _open_step(
        self, rt: Any, args: tuple[Any, ...], kwargs: dict[str, Any], instance: Any,
    ) -> tuple[Any, Any, StatusCells] | None:  # fmt: skip
        """Start a plain step's span: (span, token, cells), or None to run uninstrumented."""
        span = token = None
        try:
            ctx = _get_current()
            if ctx.get(_SUPPRESS_INSTRUMENTATION_KEY):
                return None
            scope = CURRENT_SCOPE.get()
            execution = scope.execution
            if execution is None:
                cells = self._step_cells.get("") or self._bind_step("")
                index = 0
            else:
                cells = self._step_cells.get(execution.name) or self._bind_step(execution.name)
                index = next(execution.step_counter)
            tracer = rt.tracer
            if tracer is not None:
                attrs = {**scope.step_attributes, **self.attributes}
                attrs[semconv.STEP_INDEX] = index
                attrs[semconv.STEP_ATTEMPT] = 1
                if self._capture_args is not None:
                    put_captured(attrs, semconv.CAPTURE_INPUT,
                                 self._capture_args(args, kwargs, instance))  # fmt: skip
                span = tracer.start_span(self.name, ctx, attributes=attrs)
                token = _attach(_set_span_in_context(span, ctx))
            return span, token, cells
        except Exception as internal:
            report_internal_error("decorator", internal)
            if token is not None:
                _detach(token)
            if span is not None:
                span.end()
            return None

    def _close_step(self, span: Any, token: Any, cells: StatusCells, duration: float,
                    cpu: float, result: Any) -> None:  # fmt: skip
        try:
            if span is not None:
                _detach(token)
                if self._capture_result is None:
                    span.set_attribute(semconv.STEP_CPU_TIME, cpu)
                else:
                    attrs: dict[str, Any] = {semconv.STEP_CPU_TIME: cpu}
                    put_captured(attrs, semconv.CAPTURE_OUTPUT, self._capture_result(result))
                    span.set_attributes(attrs)
                span.end()
            cells.ok.observe_with_cpu(duration, cpu, span)
        except Exception as internal:
            report_internal_error("decorator", internal)

    @staticmethod
    def _failed_call(
        span: Any, token: Any, cells: StatusCells, start: float, cpu: float,
        args: tuple[Any, ...], kwargs: dict[str, Any],
    ) -> Call:  # fmt: skip
        """The Call a fast path never built, for the failure path to finish."""
        call = Call()
        call.span, call.token, call.cells, call.cpu, call.start = span, token, cells, cpu, start
        call.args, call.kwargs = args, kwargs
        return call

    def call_sync_step(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:  # fmt: skip
        """:meth:`call_sync` inlined for the common case: a plain sync step."""
        rt = RUNTIME
        if not rt.active and not rt.wake():
            return wrapped(*args, **kwargs)
        if rt.call_hooks and self.wants_hooks():
            return self.call_sync(wrapped, instance, args, kwargs)
        opened = self._open_step(rt, args, kwargs, instance)
        if opened is None:
            return wrapped(*args, **kwargs)
        span, token, cells = opened
        start = _perf_counter()
        c0 = _thread_time()
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            cpu = _thread_time() - c0
            self.finish(self._failed_call(span, token, cells, start, cpu, args, kwargs), exc)
            raise
        cpu = _thread_time() - c0
        self._close_step(span, token, cells, _perf_counter() - start, cpu, result)
        return result

    def call_async_step(
        self, wrapped: Callable[..., Awaitable[Any]], instance: Any, args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Awaitable[Any]:  # fmt: skip
        """:meth:`call_async` for the common case: a plain async step."""
        rt = RUNTIME
        if not rt.active and not rt.wake():
            return wrapped(*args, **kwargs)
        if rt.call_hooks and self.wants_hooks():
            return self._run_async(wrapped, args, kwargs, instance)
        return self._run_async_step(wrapped, args, kwargs, instance)

    async def _run_async_step(
        self, wrapped: Callable[..., Awaitable[Any]], args: tuple[Any, ...],
        kwargs: dict[str, Any], instance: Any,
    ) -> Any:  # fmt: skip
        opened = self._open_step(RUNTIME, args, kwargs, instance)
        if opened is None:
            return await wrapped(*args, **kwargs)
        span, token, cells = opened
        start = _perf_counter()
        cpu = [0.0]
        try:
            awaitable = wrapped(*args, **kwargs)
            if type(awaitable) is _CoroutineType:
                # The first slice runs inline: a body that finishes without suspending (the
                # common short step) needs no driver generator at all.
                c0 = _thread_time()
                try:
                    yielded = awaitable.send(None)
                except StopIteration as stop:
                    cpu[0] = _thread_time() - c0
                    result = stop.value
                except BaseException:
                    cpu[0] = _thread_time() - c0
                    raise
                else:
                    cpu[0] = _thread_time() - c0
                    result = await cpu_timed(awaitable, cpu, yielded)
            else:
                result = await awaitable
        except BaseException as exc:
            # Awaited: an async on_error hook (the debugger) waits on this step's loop.
            call = self._failed_call(span, token, cells, start, cpu[0], args, kwargs)
            await self.finish_async(call, exc)
            raise
        self._close_step(span, token, cells, _perf_counter() - start, cpu[0], result)
        return result

    # -- generators ----------------------------------------------------------------------
    def call_generator(
        self, wrapped: Callable[..., Generator[Any, Any, Any]], instance: Any,
        args: tuple[Any, ...], kwargs: dict[str, Any],
    ) -> Generator[Any, Any, Any]:  # fmt: skip
        generator = wrapped(*args, **kwargs)
        rt = RUNTIME
        if not rt.active and not rt.wake():
            return generator
        return self._drive_generator(generator, args, kwargs, instance)

    def call_async_generator(
        self, wrapped: Callable[..., AsyncGenerator[Any, Any]], instance: Any,
        args: tuple[Any, ...], kwargs: dict[str, Any],
    ) -> AsyncGenerator[Any, Any]:  # fmt: skip
        agen = wrapped(*args, **kwargs)
        rt = RUNTIME
        if not rt.active and not rt.wake():
            return agen
        return self._drive_async_generator(agen, args, kwargs, instance)

    def _drive_generator(
        self, generator: Generator[Any, Any, Any], args: tuple[Any, ...],
        kwargs: dict[str, Any], instance: Any,
    ) -> Generator[Any, Any, Any]:  # fmt: skip
        # Creating a generator runs none of its body, so the span starts at the first
        # resume; it stays open until the generator is exhausted, closed or collected, and
        # its context is attached only while the body runs, never between items.
        call = self.begin_guarded(args, kwargs, 1, True, False, instance)
        if call is None:
            return (yield from generator)
        if call.info is not None:
            self.run_hooks_sync(call, "before")
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            c0 = _thread_time()
            try:
                if to_throw is not None:
                    exc, to_throw = to_throw, None
                    item = generator.throw(exc)
                else:
                    item = generator.send(to_send)
            except StopIteration as stop:
                call.cpu += _thread_time() - c0
                self.finish(call, None, stop.value)
                return stop.value
            except BaseException as exc:
                call.cpu += _thread_time() - c0
                self.finish(call, exc)
                raise
            call.cpu += _thread_time() - c0
            self.leave_quietly(call)
            try:
                to_send = yield item
            except GeneratorExit as exit_:
                self.enter_quietly(call)
                try:
                    generator.close()
                finally:
                    self.finish(call, exit_)
                raise
            except BaseException as exc:
                to_throw = exc
            self.enter_quietly(call)

    async def _drive_async_generator(
        self, agen: AsyncGenerator[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any],
        instance: Any,
    ) -> AsyncGenerator[Any, Any]:  # fmt: skip
        call = self.begin_guarded(args, kwargs, 1, True, True, instance)
        if call is None:
            async for item in agen:
                yield item
            return
        if call.info is not None:
            pending = self.run_hooks(call, "before")
            if pending:
                await self.await_hooks(call, pending)
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            cpu = [call.cpu]
            try:
                if to_throw is not None:
                    exc, to_throw = to_throw, None
                    resume = agen.athrow(exc)
                else:
                    resume = agen.asend(to_send)
                item = await cpu_timed(resume, cpu)
            except StopAsyncIteration:
                call.cpu = cpu[0]
                await self.finish_async(call, None)
                return
            except BaseException as exc:
                call.cpu = cpu[0]
                await self.finish_async(call, exc)
                raise
            call.cpu = cpu[0]
            self.leave_quietly(call)
            try:
                to_send = yield item
            except GeneratorExit as exit_:
                self.enter_quietly(call)
                try:
                    await agen.aclose()
                finally:
                    await self.finish_async(call, exit_)
                raise
            except BaseException as exc:
                to_throw = exc
            self.enter_quietly(call)
