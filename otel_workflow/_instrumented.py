"""The per-call paths of ``@workflow`` and ``@step``: the hot code of the SDK.

Everything that can be known at decoration time (names, code attributes, metric cells,
which path to take) is computed once in :class:`Instrumented`; a call does a runtime check,
starts a span with ``start_span`` + ``attach`` (cheaper than ``start_as_current_span``),
reads two clocks and records into pre-bound metric cells.

Telemetry-side failures never reach the caller: :meth:`Instrumented.begin` failing means
the call runs uninstrumented; :meth:`Instrumented.finish` failing is logged and counted.
The user's result and exception (the same object, with its traceback) pass through.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import types
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.trace import Status, StatusCode

from otel_workflow import semconv
from otel_workflow._guard import report_internal_error
from otel_workflow._hooks import CallInfo
from otel_workflow._metrics import REGISTRY, ActiveGauge, StatusCells
from otel_workflow._runtime import RUNTIME
from otel_workflow._scope import CURRENT_SCOPE, Execution, Scope
from otel_workflow.capture import CaptureLimits, capture, capture_arguments
from otel_workflow.diagnosis.categories import categorize, error_type_name

_get_current = context_api.get_current
_attach = context_api.attach
_detach = context_api.detach
_set_span_in_context = trace.set_span_in_context
_perf_counter = time.perf_counter
_thread_time = time.thread_time

# Ending this way is an interruption, not a failure of the code.
CANCELLATION_TYPES: tuple[type[BaseException], ...] = (
    asyncio.CancelledError,
    GeneratorExit,
    KeyboardInterrupt,
)


@types.coroutine
def cpu_timed(coroutine: Any, cpu: list[float]) -> Generator[Any, Any, Any]:
    """Await ``coroutine``, adding to ``cpu[0]`` the thread CPU time of its own slices only.

    Measuring ``thread_time()`` around an ``await`` would also count every other task the
    event loop ran in between; resuming the coroutine by hand counts just its own slices.
    Anything with the coroutine protocol (``send``/``throw``/``close``) works, including
    the awaitables an async generator's ``asend()``/``athrow()`` return.  (A generator
    rather than a class with ``__await__``: one object less per call on the hot path.)
    """
    to_send: Any = None
    to_throw: BaseException | None = None
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


# Only coroutines are driven by cpu_timed: an arbitrary awaitable has no send/throw.
_CoroutineType = types.CoroutineType


class Call:
    """The state of one call between :meth:`Instrumented.begin` and ``finish``."""

    __slots__ = ("cells", "context", "cpu", "info", "scope", "scope_token", "span", "start",
                 "token")  # fmt: skip

    def __init__(self) -> None:
        self.span: Any = None
        self.token: Any = None
        self.scope: Scope | None = None
        self.scope_token: Any = None
        self.context: Any = None
        self.cells: StatusCells | None = None
        self.start = 0.0
        self.cpu = 0.0
        self.info: CallInfo | None = None


class Instrumented:
    """Decoration-time facts about one workflow or step, and its call paths."""

    def __init__(
        self,
        *,
        kind: str,
        name: str,
        func: Callable[..., Any],
        workflow_type: str = "",
        version: str | None = None,
        capture_input: bool = False,
        capture_output: bool = False,
        capture_limits: CaptureLimits | None = None,
        retries: int = 0,
        retry_on: tuple[type[BaseException], ...] = (Exception,),
        backoff: float | Callable[[int], float] = 0.0,
    ) -> None:
        self.kind = kind
        self.name = name
        self.func = func
        self.is_workflow = kind == semconv.SPAN_KIND_WORKFLOW
        self.workflow_type = workflow_type
        self.capture_input = capture_input
        self.capture_output = capture_output
        self.capture_limits = capture_limits or CaptureLimits()
        self.retries = retries
        self.retry_on = retry_on
        self.backoff = backoff
        self._signature: inspect.Signature | None = None
        self.attributes = self._static_attributes(func, version)
        # A step with no retries and no capture takes the inlined fast paths.
        self.is_plain_step = not (self.is_workflow or retries or capture_input
                                  or capture_output)  # fmt: skip
        self._step_cells: dict[str, StatusCells] = {}
        self._workflow_cells: StatusCells | None = None
        self._active: ActiveGauge | None = None
        if self.is_workflow:
            self._workflow_cells, self._active = REGISTRY.workflow_cells(name, workflow_type)

    def _static_attributes(
        self, func: Callable[..., Any], version: str | None
    ) -> dict[str, Any]:
        attrs: dict[str, Any] = {semconv.WORKFLOW_SPAN_KIND: self.kind}
        if self.is_workflow:
            attrs[semconv.WORKFLOW_NAME] = self.name
            attrs[semconv.WORKFLOW_TYPE] = self.workflow_type
            if version is not None:
                attrs[semconv.WORKFLOW_VERSION] = version
        else:
            attrs[semconv.STEP_NAME] = self.name
        code = getattr(inspect.unwrap(func), "__code__", None)
        module = getattr(func, "__module__", None) or ""
        qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", self.name)
        attrs[semconv.CODE_FUNCTION_NAME] = f"{module}.{qualname}" if module else qualname
        if code is not None:
            attrs[semconv.CODE_FILE_PATH] = code.co_filename
            attrs[semconv.CODE_LINE_NUMBER] = code.co_firstlineno
        return attrs

    # -- begin / finish ----------------------------------------------------------------
    def begin(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], attempt: int, attach: bool
    ) -> Call | None:
        """Start the span and timers; ``None`` means run uninstrumented (suppressed)."""
        ctx = _get_current()
        if ctx.get(_SUPPRESS_INSTRUMENTATION_KEY):
            return None
        call = Call()
        scope = CURRENT_SCOPE.get()
        tracer = RUNTIME.tracer
        if self.is_workflow:
            execution = Execution(self.name)
            attrs = {**scope.attributes, **self.attributes}
            attrs[semconv.WORKFLOW_EXECUTION_ID] = execution.execution_id
            if scope.execution is not None:
                attrs[semconv.WORKFLOW_PARENT_EXECUTION_ID] = scope.execution.execution_id
            new_scope = Scope(execution, scope.attributes)
            call.cells = self._workflow_cells
        else:
            execution = scope.execution  # type: ignore[assignment]  # a step may run outside
            workflow = execution.name if execution is not None else ""
            call.cells = self._step_cells.get(workflow) or self._bind_step(workflow)
            attrs = {**scope.step_attributes, **self.attributes}
            attrs[semconv.STEP_INDEX] = next(execution.step_counter) if execution else 0
            attrs[semconv.STEP_ATTEMPT] = attempt
            new_scope = None
        if self.capture_input:
            self._capture_into(attrs, semconv.CAPTURE_INPUT, self._bind(args, kwargs), True)
        if tracer is not None:
            span = tracer.start_span(self.name, ctx, attributes=attrs)
            call.span = span
            ctx = _set_span_in_context(span, ctx)
            if new_scope is not None:
                execution.span = span  # type: ignore[union-attr]
        call.context = ctx
        call.scope = new_scope
        if attach:
            self.enter(call)
        if RUNTIME.hooks:
            call.info = CallInfo(
                self.kind, self.name, call.span, args, kwargs,
                execution.execution_id if execution is not None else None,
                False,
            )  # fmt: skip
            _run_hooks("before", call.info)
        if self.is_workflow:
            self._active.add(1)  # type: ignore[union-attr]
        call.start = _perf_counter()
        return call

    def begin_guarded(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], attempt: int, attach: bool
    ) -> Call | None:
        """:meth:`begin`, with our own failures contained: ``None`` runs uninstrumented."""
        try:
            return self.begin(args, kwargs, attempt, attach)
        except Exception as internal:
            report_internal_error("decorator", internal)
            return None

    def enter(self, call: Call) -> None:
        """Make the call's span (and execution) current; generators do this per resume."""
        if call.span is not None:
            call.token = _attach(call.context)
        if call.scope is not None:
            call.scope_token = CURRENT_SCOPE.set(call.scope)

    def leave(self, call: Call) -> None:
        """Undo :meth:`enter`."""
        if call.scope_token is not None:
            CURRENT_SCOPE.reset(call.scope_token)
            call.scope_token = None
        if call.token is not None:
            _detach(call.token)
            call.token = None

    def finish(self, call: Call, exc: BaseException | None, result: Any = None) -> None:
        """End the span and record metrics; never raises."""
        duration = _perf_counter() - call.start
        try:
            span = call.span
            if exc is None:
                status = semconv.STATUS_OK
            elif isinstance(exc, CANCELLATION_TYPES):
                status = semconv.STATUS_CANCELLED
            else:
                status = semconv.STATUS_ERROR
            cells = call.cells
            # Computed once for the span and the error counter alike.
            error_type: str | None = None
            category: str | None = None
            if exc is not None:
                error_type = error_type_name(exc)
                if status == semconv.STATUS_ERROR:
                    category = categorize(exc).value
            if span is not None:
                attrs: dict[str, Any] = {}
                # Step spans leave workflow.status unset when ok (a span status of UNSET
                # says the same) to spare an attribute write on the hot path.
                if self.is_workflow or status != semconv.STATUS_OK:
                    attrs[semconv.WORKFLOW_STATUS] = status
                if not self.is_workflow:
                    attrs[semconv.STEP_CPU_TIME] = call.cpu
                if error_type is not None:
                    attrs[semconv.ERROR_TYPE] = error_type
                if category is not None:
                    attrs[semconv.ERROR_CATEGORY] = category
                    span.record_exception(exc, escaped=True)
                    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:512]))
                elif status == semconv.STATUS_OK and self.capture_output:
                    self._capture_into(attrs, semconv.CAPTURE_OUTPUT, result, False)
                span.set_attributes(attrs)
                span.end()
            if self.is_workflow:
                self._active.add(-1)  # type: ignore[union-attr]
                cells.cell(status).observe(duration, span)  # type: ignore[union-attr]
            else:
                cells.cell(status).observe_with_cpu(duration, call.cpu, span)  # type: ignore[union-attr]
                if error_type is not None and category is not None:
                    REGISTRY.count_step_error(cells, error_type, category)  # type: ignore[arg-type]
            if call.info is not None:
                if exc is None:
                    _run_hooks("after", call.info, result)
                else:
                    _run_hooks("on_error", call.info, exc)
        except Exception as internal:
            report_internal_error("decorator", internal)

    # -- helpers -------------------------------------------------------------------------
    def _bind_step(self, workflow: str) -> StatusCells:
        cells = REGISTRY.step_cells(workflow, self.name)
        if len(self._step_cells) < 1024:  # bounded even if workflows are unbounded
            self._step_cells[workflow] = cells
        return cells

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            if self._signature is None:
                self._signature = inspect.signature(self.func)
            bound = self._signature.bind_partial(*args, **kwargs)
            return dict(bound.arguments)
        except (TypeError, ValueError):
            return {"args": args, "kwargs": kwargs}

    def _capture_into(self, attrs: dict[str, Any], key: str, value: Any, is_args: bool) -> None:
        captured = (capture_arguments(value, self.capture_limits) if is_args
                    else capture(value, self.capture_limits))  # fmt: skip
        attrs[key] = captured.to_json()
        if captured.truncated:
            attrs[semconv.CAPTURE_TRUNCATED] = True

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait after failed ``attempt`` (1-based)."""
        backoff = self.backoff
        if callable(backoff):
            delay: float = max(0.0, float(backoff(attempt)))
            return delay
        return float(backoff) * 2.0 ** (attempt - 1)

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        return attempt <= self.retries and isinstance(exc, self.retry_on)

    # -- the wrapt wrappers: (wrapped, instance, args, kwargs) ---------------------------
    def call_sync(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:  # fmt: skip
        rt = RUNTIME
        if not rt.active and not rt.wake():
            return wrapped(*args, **kwargs)
        attempt = 1
        while True:
            call = self.begin_guarded(args, kwargs, attempt, True)
            if call is None:
                return wrapped(*args, **kwargs)
            c0 = _thread_time()
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                call.cpu = _thread_time() - c0
                self._leave_quietly(call)
                self.finish(call, exc)
                if self.retries and self.should_retry(exc, attempt):
                    time.sleep(self.retry_delay(attempt))
                    attempt += 1
                    continue
                raise
            call.cpu = _thread_time() - c0
            self._leave_quietly(call)
            self.finish(call, None, result)
            return result

    def _open_step(self, rt: Any) -> tuple[Any, Any, StatusCells] | None:
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

    @staticmethod
    def _close_step(span: Any, token: Any, cells: StatusCells, duration: float,
                    cpu: float) -> None:  # fmt: skip
        try:
            if span is not None:
                _detach(token)
                span.set_attribute(semconv.STEP_CPU_TIME, cpu)
                span.end()
            cells.ok.observe_with_cpu(duration, cpu, span)
        except Exception as internal:
            report_internal_error("decorator", internal)

    def call_sync_step(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:  # fmt: skip
        """:meth:`call_sync` inlined for the common case: a plain sync step.

        Same behaviour, fewer calls and allocations: this is what ``make bench`` measures
        against a hand-written span.
        """
        rt = RUNTIME
        if not rt.active and not rt.wake():
            return wrapped(*args, **kwargs)
        if rt.hooks:
            return self.call_sync(wrapped, instance, args, kwargs)
        opened = self._open_step(rt)
        if opened is None:
            return wrapped(*args, **kwargs)
        span, token, cells = opened
        start = _perf_counter()
        c0 = _thread_time()
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            cpu = _thread_time() - c0
            self._step_failed(span, token, cells, _perf_counter() - start, cpu, exc)
            raise
        cpu = _thread_time() - c0
        self._close_step(span, token, cells, _perf_counter() - start, cpu)
        return result

    def call_async_step(
        self, wrapped: Callable[..., Awaitable[Any]], instance: Any, args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Awaitable[Any]:  # fmt: skip
        """:meth:`call_async` for the common case: a plain async step."""
        rt = RUNTIME
        if not rt.active and not rt.wake():
            return wrapped(*args, **kwargs)
        if rt.hooks:
            return self._run_async(wrapped, args, kwargs)
        return self._run_async_step(wrapped, args, kwargs)

    async def _run_async_step(
        self, wrapped: Callable[..., Awaitable[Any]], args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:  # fmt: skip
        opened = self._open_step(RUNTIME)
        if opened is None:
            return await wrapped(*args, **kwargs)
        span, token, cells = opened
        start = _perf_counter()
        awaitable = wrapped(*args, **kwargs)
        cpu = [0.0]
        if type(awaitable) is _CoroutineType:
            awaitable = cpu_timed(awaitable, cpu)
        try:
            result = await awaitable
        except BaseException as exc:
            self._step_failed(span, token, cells, _perf_counter() - start, cpu[0], exc)
            raise
        self._close_step(span, token, cells, _perf_counter() - start, cpu[0])
        return result

    def _step_failed(
        self, span: Any, token: Any, cells: StatusCells, duration: float, cpu: float,
        exc: BaseException,
    ) -> None:  # fmt: skip
        call = Call()
        call.span, call.token, call.cells, call.cpu = span, token, cells, cpu
        self._leave_quietly(call)
        call.start = _perf_counter() - duration
        self.finish(call, exc)

    def call_async(
        self, wrapped: Callable[..., Awaitable[Any]], instance: Any, args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Awaitable[Any]:  # fmt: skip
        rt = RUNTIME
        if not rt.active and not rt.wake():
            return wrapped(*args, **kwargs)
        return self._run_async(wrapped, args, kwargs)

    async def _run_async(
        self, wrapped: Callable[..., Awaitable[Any]], args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:  # fmt: skip
        attempt = 1
        while True:
            call = self.begin_guarded(args, kwargs, attempt, True)
            if call is None:
                return await wrapped(*args, **kwargs)
            if call.info is not None:
                call.info.is_async = True
            awaitable = wrapped(*args, **kwargs)
            cpu = [0.0]
            if type(awaitable) is _CoroutineType:
                awaitable = cpu_timed(awaitable, cpu)
            try:
                result = await awaitable
            except BaseException as exc:
                call.cpu = cpu[0]
                self._leave_quietly(call)
                self.finish(call, exc)
                if self.retries and self.should_retry(exc, attempt):
                    await asyncio.sleep(self.retry_delay(attempt))
                    attempt += 1
                    continue
                raise
            call.cpu = cpu[0]
            self._leave_quietly(call)
            self.finish(call, None, result)
            return result

    def call_generator(
        self, wrapped: Callable[..., Generator[Any, Any, Any]], instance: Any,
        args: tuple[Any, ...], kwargs: dict[str, Any],
    ) -> Generator[Any, Any, Any]:  # fmt: skip
        generator: Generator[Any, Any, Any] = self._start_generator(
            wrapped(*args, **kwargs), args, kwargs, self._drive_generator
        )
        return generator

    def call_async_generator(
        self, wrapped: Callable[..., AsyncGenerator[Any, Any]], instance: Any,
        args: tuple[Any, ...], kwargs: dict[str, Any],
    ) -> AsyncGenerator[Any, Any]:  # fmt: skip
        agen: AsyncGenerator[Any, Any] = self._start_generator(
            wrapped(*args, **kwargs), args, kwargs, self._drive_async_generator
        )
        return agen

    def _start_generator(
        self, generator: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
        drive: Callable[[Any, Call], Any],
    ) -> Any:  # fmt: skip
        # Creating a generator runs none of its body: the span starts now, its context is
        # attached by ``drive`` around each resume.
        rt = RUNTIME
        if not rt.active and not rt.wake():
            return generator
        call = self.begin_guarded(args, kwargs, 1, False)
        return generator if call is None else drive(generator, call)

    def _drive_generator(
        self, generator: Generator[Any, Any, Any], call: Call
    ) -> Generator[Any, Any, Any]:
        # The span stays open until the generator is exhausted, closed or collected; its
        # context is attached only while the generator body runs, never between items.
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            self._enter_quietly(call)
            c0 = _thread_time()
            try:
                if to_throw is not None:
                    exc, to_throw = to_throw, None
                    item = generator.throw(exc)
                else:
                    item = generator.send(to_send)
            except StopIteration as stop:
                call.cpu += _thread_time() - c0
                self._leave_quietly(call)
                self.finish(call, None, stop.value)
                return stop.value
            except BaseException as exc:
                call.cpu += _thread_time() - c0
                self._leave_quietly(call)
                self.finish(call, exc)
                raise
            call.cpu += _thread_time() - c0
            self._leave_quietly(call)
            try:
                to_send = yield item
            except GeneratorExit as exit_:
                self._enter_quietly(call)
                try:
                    generator.close()
                finally:
                    self._leave_quietly(call)
                    self.finish(call, exit_)
                raise
            except BaseException as exc:
                to_throw = exc

    async def _drive_async_generator(
        self, agen: AsyncGenerator[Any, Any], call: Call
    ) -> AsyncGenerator[Any, Any]:
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            self._enter_quietly(call)
            if to_throw is not None:
                exc, to_throw = to_throw, None
                resume = agen.athrow(exc)
            else:
                resume = agen.asend(to_send)
            cpu = [call.cpu]
            try:
                item = await cpu_timed(resume, cpu)
            except StopAsyncIteration:
                call.cpu = cpu[0]
                self._leave_quietly(call)
                self.finish(call, None)
                return
            except BaseException as exc:
                call.cpu = cpu[0]
                self._leave_quietly(call)
                self.finish(call, exc)
                raise
            call.cpu = cpu[0]
            self._leave_quietly(call)
            try:
                to_send = yield item
            except GeneratorExit as exit_:
                self._enter_quietly(call)
                try:
                    await agen.aclose()
                finally:
                    self._leave_quietly(call)
                    self.finish(call, exit_)
                raise
            except BaseException as exc:
                to_throw = exc

    def _enter_quietly(self, call: Call) -> None:
        try:
            self.enter(call)
        except Exception as internal:
            report_internal_error("decorator", internal)

    def _leave_quietly(self, call: Call) -> None:
        try:
            self.leave(call)
        except Exception as internal:
            report_internal_error("decorator", internal)


def _run_hooks(method: str, info: CallInfo, *extra: Any) -> None:
    for hook in RUNTIME.hooks:
        try:
            getattr(hook, method)(info, *extra)
        except Exception as exc:
            report_internal_error("hook", exc)
