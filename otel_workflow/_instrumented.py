"""The step machine of ``@workflow`` and ``@step``: the hot code of the SDK.

Everything that can be known at decoration time (names, code attributes, metric cells,
which path to take) is computed once in :class:`Instrumented`.  The per-call logic exists
once, as four phases every call goes through:

1. :meth:`Instrumented.begin` starts the span (``start_span`` + ``attach``, cheaper than
   ``start_as_current_span``), the execution scope and the clock;
2. the ``before`` hooks, when the body is about to run (``run_hooks``);
3. the body, timed for CPU by the driver;
4. :meth:`Instrumented.settle` decides the outcome (``ok``, ``error``, ``retried``,
   ``cancelled``) and the retry, the ``after``/``on_error`` hooks run while the span still
   records, then :meth:`Instrumented.end` ends the span and records the metrics.

The drivers (``_drivers``) are thin: sync, async, generator and async-generator calls differ
only in how the body is resumed and in whether a hook's awaitable is awaited.  A plain
step (no retries, no capture, no hook registered) takes an inlined fast path with the same
behaviour.

Telemetry-side failures never reach the caller: ``begin`` failing means the call runs
uninstrumented; anything failing later is logged and counted, and whatever failed, the
span ends, the counts are made and the active gauge comes back down.  The user's result
and exception (the same object, with its traceback) pass through.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, Context
from opentelemetry.trace import Status, StatusCode

from otel_workflow import semconv
from otel_workflow._guard import report_internal_error
from otel_workflow._hooks import CURRENT_CALL, CallInfo
from otel_workflow._metrics import REGISTRY, ActiveGauge, StatusCells
from otel_workflow._runtime import RUNTIME
from otel_workflow._scope import CURRENT_SCOPE, Execution, Scope
from otel_workflow._signature import signature_of
from otel_workflow.capture import Captured, CaptureLimits, argument_capturer, result_capturer
from otel_workflow.diagnosis.categories import categorize, error_type_name
from otel_workflow.scrub import exception_summary

_get_current = context_api.get_current
_attach = context_api.attach
_detach = context_api.detach
_set_span_in_context = trace.set_span_in_context
_perf_counter = time.perf_counter
_time_ns = time.time_ns

# Ending this way is an interruption, not a failure of the code.
CANCELLATION_TYPES: tuple[type[BaseException], ...] = (
    asyncio.CancelledError,
    GeneratorExit,
    KeyboardInterrupt,
)

# Hook time below this is our own overhead, not a pause worth an event on the span.
_PAUSE_EVENT_THRESHOLD = 0.001


def outcome_of(exc: BaseException | None) -> str:
    """The status an exception (or none) gives a call, before any retry decision."""
    if exc is None:
        return semconv.STATUS_OK
    if isinstance(exc, CANCELLATION_TYPES):
        return semconv.STATUS_CANCELLED
    if isinstance(exc, SystemExit) and exc.code in (0, None):
        return semconv.STATUS_OK  # a clean exit is not a failure
    return semconv.STATUS_ERROR


class Call:
    """The state of one call (one attempt) between ``begin`` and ``end``.

    Class-level defaults instead of ``__slots__`` and an ``__init__`` assigning them all:
    a call sets only what it uses, which halves the cost of making one.
    """

    span: Any = None
    token: Any = None
    scope: Scope | None = None
    scope_token: Any = None
    call_token: Any = None
    context: Any = None
    cells: StatusCells | None = None
    start = 0.0
    cpu = 0.0
    paused = 0.0  # seconds spent inside hooks (a debugger pause), not counted
    duration = 0.0
    info: CallInfo | None = None
    attempt = 1
    status: str = semconv.STATUS_OK
    retry = False
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}  # replaced per call, never mutated
    settled_ns = 0  # when a failed body was done (time.time_ns), 0 for a success
    paused_at_settle = 0.0


class StepMachine:
    """Decoration-time facts about one workflow or step, and the phases of its calls.

    The drivers (:class:`otel_workflow._drivers.Instrumented`) add the call paths.
    """

    def __init__(
        self,
        *,
        kind: str,
        name: str,
        func: Callable[..., Any] | None,
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
        self.signature = signature_of(func)
        # Worked out once: the signature, secret-named parameters, JSON names.
        self._capture_args = (argument_capturer(func, self.capture_limits)
                              if capture_input and func is not None else None)  # fmt: skip
        self._capture_result = result_capturer(self.capture_limits) if capture_output else None
        self.attributes = self._static_attributes(func, version)
        # A step with no retries takes the inlined fast paths (capture is done there too).
        self.is_plain_step = not (self.is_workflow or retries)
        self._hook_generation = -1
        self._hooked = False
        self._step_cells: dict[str, StatusCells] = {}
        self._workflow_cells: StatusCells | None = None
        self._active: ActiveGauge | None = None
        if self.is_workflow:
            self._workflow_cells, self._active = REGISTRY.workflow_cells(name, workflow_type)

    def _static_attributes(
        self, func: Callable[..., Any] | None, version: str | None
    ) -> dict[str, Any]:
        attrs: dict[str, Any] = {semconv.WORKFLOW_SPAN_KIND: self.kind}
        if self.is_workflow:
            attrs[semconv.WORKFLOW_NAME] = self.name
            attrs[semconv.WORKFLOW_TYPE] = self.workflow_type
            if version is not None:
                attrs[semconv.WORKFLOW_VERSION] = version
        else:
            attrs[semconv.STEP_NAME] = self.name
        if func is None:  # the tracking API: no function to point at
            return attrs
        code = getattr(inspect.unwrap(func), "__code__", None)
        module = getattr(func, "__module__", None) or ""
        qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", self.name)
        attrs[semconv.CODE_FUNCTION_NAME] = f"{module}.{qualname}" if module else qualname
        if code is not None:
            attrs[semconv.CODE_FILE_PATH] = code.co_filename
            attrs[semconv.CODE_LINE_NUMBER] = code.co_firstlineno
        return attrs

    # -- phase 1: begin ------------------------------------------------------------------
    def begin(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], attempt: int, attach: bool,
        is_async: bool, instance: Any = None, *, scope: Scope | None = None,
        context: Context | None = None, start_time: int | None = None,
        execution: Execution | None = None,
    ) -> Call | None:  # fmt: skip
        """Start the span, scope and clock; ``None`` means run uninstrumented (suppressed).

        The tracking API passes what a decorator takes from the current context: the
        ``scope`` and ``context`` of an execution held by a handle, a recorded
        ``start_time`` (ns since the epoch), the ``execution`` a workflow span continues.
        """
        ctx = _get_current() if context is None else context
        if ctx.get(_SUPPRESS_INSTRUMENTATION_KEY):
            return None
        call = Call()
        call.attempt = attempt
        if scope is None:
            scope = CURRENT_SCOPE.get()
        tracer = RUNTIME.tracer
        index: int | None = None
        if self.is_workflow:
            if execution is None:
                execution = Execution(self.name, self.workflow_type)
            attrs = {**scope.attributes, **self.attributes}
            attrs[semconv.WORKFLOW_EXECUTION_ID] = execution.execution_id  # type: ignore[union-attr]
            if scope.execution is not None:
                attrs[semconv.WORKFLOW_PARENT_EXECUTION_ID] = scope.execution.execution_id
            new_scope: Scope | None = Scope(execution, scope.attributes)
            call.cells = self._workflow_cells
        else:
            execution = scope.execution
            workflow = execution.name if execution is not None else ""
            call.cells = self._step_cells.get(workflow) or self._bind_step(workflow)
            attrs = {**scope.step_attributes, **self.attributes}
            index = next(execution.step_counter) if execution is not None else 0
            attrs[semconv.STEP_INDEX] = index
            attrs[semconv.STEP_ATTEMPT] = attempt
            new_scope = None
        if self._capture_args is not None:
            put_captured(attrs, semconv.CAPTURE_INPUT, self._capture_args(args, kwargs, instance))
        if tracer is not None:
            span = tracer.start_span(self.name, ctx, attributes=attrs, start_time=start_time)
            call.span = span
            ctx = _set_span_in_context(span, ctx)
            if execution is not None and new_scope is not None:
                execution.span = span
        call.context = ctx
        call.scope = new_scope
        if RUNTIME.error_hooks:
            call.args, call.kwargs = args, kwargs  # for a CallInfo built on failure only
        if RUNTIME.call_hooks and self.wants_hooks():
            call.info = CallInfo(
                kind=self.kind, name=self.name,
                workflow=execution.name if execution is not None else "",
                workflow_type=execution.workflow_type if execution is not None else "",
                span=call.span, args=args, kwargs=kwargs,
                execution_id=execution.execution_id if execution is not None else None,
                is_async=is_async, attempt=attempt, step_index=index,
                parent=CURRENT_CALL.get(), func=self.func, signature=self.signature,
            )  # fmt: skip
        if attach:
            self.enter(call)
        if self.is_workflow:
            self._active.started()  # type: ignore[union-attr]
        call.start = _perf_counter()
        return call

    def begin_guarded(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], attempt: int, attach: bool,
        is_async: bool = False, instance: Any = None, **where: Any,
    ) -> Call | None:  # fmt: skip
        """:meth:`begin`, with our own failures contained: ``None`` runs uninstrumented."""
        try:
            return self.begin(args, kwargs, attempt, attach, is_async, instance, **where)
        except Exception as internal:
            report_internal_error("decorator", internal)
            return None

    def enter(self, call: Call) -> None:
        """Make the call's span (and execution) current; generators do this per resume."""
        if call.span is not None:
            call.token = _attach(call.context)
        if call.scope is not None:
            call.scope_token = CURRENT_SCOPE.set(call.scope)
        if call.info is not None:
            call.call_token = CURRENT_CALL.set(call.info)

    def leave(self, call: Call) -> None:
        """Undo :meth:`enter`."""
        if call.call_token is not None:
            CURRENT_CALL.reset(call.call_token)
            call.call_token = None
        if call.scope_token is not None:
            CURRENT_SCOPE.reset(call.scope_token)
            call.scope_token = None
        if call.token is not None:
            _detach(call.token)
            call.token = None

    def enter_quietly(self, call: Call) -> None:
        try:
            self.enter(call)
        except Exception as internal:
            report_internal_error("decorator", internal)

    def leave_quietly(self, call: Call) -> None:
        try:
            self.leave(call)
        except Exception as internal:
            report_internal_error("decorator", internal)

    # -- phases 2 and 4: hooks -----------------------------------------------------------
    def wants_hooks(self) -> bool:
        """Whether a before/after hook is interested in calls of this workflow or step.

        A hook may have ``interested(kind, name) -> bool`` (the debugger answers from its
        breakpoint index); the answer is cached here until the hooks or their interest
        change (:meth:`Runtime.hook_interest_changed`), so an uninterested call costs one
        comparison and keeps the fast path.
        """
        rt = RUNTIME
        if self._hook_generation == rt.hook_generation:
            return self._hooked
        generation = rt.hook_generation
        hooked = False
        for hook in rt.hooks:
            if getattr(hook, "before", None) is None and getattr(hook, "after", None) is None:
                continue
            interested = getattr(hook, "interested", None)
            try:
                hooked = interested is None or bool(interested(self.kind, self.name))
            except Exception as exc:
                report_internal_error("hook", exc)
                hooked = True
            if hooked:
                break
        self._hooked, self._hook_generation = hooked, generation
        return hooked

    def run_hooks(self, call: Call, method: str, *extra: Any) -> list[Any] | None:
        """Run one hook method of every hook; blocking counts as paused time.

        Returns the awaitables async hooks handed back (for an async driver to await with
        :meth:`await_hooks`), or ``None``.  A sync driver calls :meth:`run_hooks_sync`.
        """
        info = call.info
        if info is None:
            return None
        pending = None
        t0 = _perf_counter()
        for handler in RUNTIME.hook_handlers[method]:
            try:
                awaitable = handler(info, *extra)
            except Exception as exc:
                report_internal_error("hook", exc)
                continue
            if awaitable is not None:
                if pending is None:
                    pending = [awaitable]
                else:
                    pending.append(awaitable)
        call.paused += _perf_counter() - t0
        return pending

    def run_hooks_sync(self, call: Call, method: str, *extra: Any) -> None:
        """:meth:`run_hooks` for a sync call: an async hook cannot be awaited here."""
        pending = self.run_hooks(call, method, *extra)
        if pending:
            for awaitable in pending:
                close = getattr(awaitable, "close", None)
                if close is not None:
                    close()  # never awaited: don't leave a "never awaited" warning behind
            report_internal_error("hook", TypeError(
                f"hook {method}() returned an awaitable for a sync call of {self.name!r}; "
                "only async calls (call.is_async) await hooks"
            ))  # fmt: skip

    async def await_hooks(self, call: Call, pending: list[Any]) -> None:
        """Await what async hooks returned, on the call's own event loop."""
        t0 = _perf_counter()
        for awaitable in pending:
            try:
                await awaitable
            except Exception as exc:
                report_internal_error("hook", exc)
        call.paused += _perf_counter() - t0

    # -- phase 4: settle and end ---------------------------------------------------------
    def settle(self, call: Call, exc: BaseException | None) -> None:
        """Fix the call's outcome (and retry decision) the moment the body is done."""
        call.duration = _perf_counter() - call.start - call.paused
        if exc is None:
            return  # ok: the defaults already say so
        # Recording a failure (formatting its stack trace) takes time after the body is
        # done: the span ends at this moment (plus any hook time after it), so the stored
        # duration is the histogram's, not the histogram's plus our own work.
        call.settled_ns = _time_ns()
        call.paused_at_settle = call.paused
        status = outcome_of(exc)
        if (status == semconv.STATUS_ERROR and self.retries
                and self.should_retry(exc, call.attempt)):  # type: ignore[arg-type]  # fmt: skip
            status = semconv.STATUS_RETRIED
            call.retry = True
        call.status = status

    def end(self, call: Call, exc: BaseException | None, result: Any = None,
            end_time: int | None = None) -> None:  # fmt: skip
        """End the span and record the metrics; never raises, always ends and counts."""
        span = call.span
        error_type: str | None = None
        category: str | None = None
        try:
            status = call.status
            if exc is not None and status != semconv.STATUS_OK:
                error_type = error_type_name(exc)
                if status != semconv.STATUS_CANCELLED:
                    category = categorize(exc).value
            if span is not None:
                self._annotate(call, span, exc, result, error_type, category)
        except Exception as internal:
            report_internal_error("decorator", internal)
        finally:
            if span is not None:
                if end_time is None and call.settled_ns:
                    end_time = call.settled_ns + int((call.paused - call.paused_at_settle) * 1e9)
                try:
                    span.end(end_time)
                except Exception as internal:
                    report_internal_error("decorator", internal)
            self._record(call, span, error_type, category)

    def _annotate(
        self, call: Call, span: Any, exc: BaseException | None, result: Any,
        error_type: str | None, category: str | None,
    ) -> None:  # fmt: skip
        status = call.status
        if status == semconv.STATUS_OK and exc is None and self._capture_result is None and (
                call.paused < _PAUSE_EVENT_THRESHOLD):  # fmt: skip
            # The common end of a workflow (or a non-plain step): one attribute, no dict.
            if self.is_workflow:
                span.set_attribute(semconv.WORKFLOW_STATUS, status)
            else:
                span.set_attribute(semconv.STEP_CPU_TIME, call.cpu)
            return
        attrs: dict[str, Any] = {}
        # Step spans leave workflow.status unset when ok (a span status of UNSET says the
        # same) to spare an attribute write on the hot path.
        if self.is_workflow or status != semconv.STATUS_OK:
            attrs[semconv.WORKFLOW_STATUS] = status
        if not self.is_workflow:
            attrs[semconv.STEP_CPU_TIME] = call.cpu
        if error_type is not None:
            attrs[semconv.ERROR_TYPE] = error_type
        if category is not None:
            attrs[semconv.ERROR_CATEGORY] = category
            type_name, message, stacktrace = exception_summary(exc)  # type: ignore[arg-type]
            span.add_event(semconv.EXCEPTION_EVENT, {
                semconv.EXCEPTION_TYPE: type_name, semconv.EXCEPTION_MESSAGE: message,
                semconv.EXCEPTION_STACKTRACE: stacktrace, semconv.EXCEPTION_ESCAPED: True,
            })  # fmt: skip
            if status == semconv.STATUS_ERROR:
                span.set_status(Status(StatusCode.ERROR, f"{type_name}: {message}"[:512]))
        elif status == semconv.STATUS_OK and self._capture_result is not None and exc is None:
            put_captured(attrs, semconv.CAPTURE_OUTPUT, self._capture_result(result))
        if call.paused >= _PAUSE_EVENT_THRESHOLD:
            attrs[semconv.WORKFLOW_PAUSE_DURATION] = call.paused
            span.add_event(semconv.PAUSED_EVENT, {semconv.WORKFLOW_PAUSE_DURATION: call.paused})
        span.set_attributes(attrs)

    def _record(
        self, call: Call, span: Any, error_type: str | None, category: str | None
    ) -> None:
        cells = call.cells
        if self.is_workflow:
            try:
                self._active.finished()  # type: ignore[union-attr]
            except Exception as internal:
                report_internal_error("decorator", internal)
        try:
            if self.is_workflow:
                cells.cell(call.status).observe(call.duration, span)  # type: ignore[union-attr]
            else:
                cells.cell(call.status).observe_with_cpu(  # type: ignore[union-attr]
                    call.duration, call.cpu, span
                )
                # Attempts that will be retried are not failures (yet): only final ones count.
                if category is not None and call.status == semconv.STATUS_ERROR:
                    REGISTRY.count_step_error(cells, error_type, category)  # type: ignore[arg-type]
        except Exception as internal:
            report_internal_error("decorator", internal)

    def finish(
        self, call: Call, exc: BaseException | None, result: Any = None, *,
        status: str | None = None, duration: float | None = None, end_time: int | None = None,
    ) -> None:  # fmt: skip
        """Settle, run the sync ``after``/``on_error`` hooks, leave and end: a sync close.

        The tracking API passes what it was told instead of what was measured: a recorded
        ``status``, ``duration`` (seconds) and ``end_time`` (ns since the epoch).
        """
        self.settle(call, exc)
        if status is not None:
            call.status = status
        if duration is not None:
            call.duration = duration
        if exc is not None and call.info is None and RUNTIME.error_hooks:
            call.info = self.failure_info(call, False)
        if call.info is not None:
            if exc is None:
                self.run_hooks_sync(call, "after", result)
            else:
                self.run_hooks_sync(call, "on_error", exc)
        self.leave_quietly(call)
        self.end(call, exc, result, end_time)

    async def finish_async(self, call: Call, exc: BaseException | None, result: Any = None
                           ) -> None:  # fmt: skip
        """:meth:`finish` for an async call: async hooks are awaited on its loop."""
        self.settle(call, exc)
        if exc is not None and call.info is None and RUNTIME.error_hooks:
            call.info = self.failure_info(call, True)
        if call.info is not None:
            if exc is None:
                pending = self.run_hooks(call, "after", result)
            else:
                pending = self.run_hooks(call, "on_error", exc)
            if pending:
                await self.await_hooks(call, pending)
        self.leave_quietly(call)
        self.end(call, exc, result)

    def failure_info(self, call: Call, is_async: bool) -> CallInfo | None:
        """The CallInfo of a failed call that had none (only ``on_error`` hooks are set)."""
        try:
            scope = call.scope or CURRENT_SCOPE.get()
            execution = scope.execution
            attrs = getattr(call.span, "attributes", None) or {}
            return CallInfo(
                kind=self.kind, name=self.name,
                workflow=execution.name if execution is not None else "",
                workflow_type=execution.workflow_type if execution is not None else "",
                span=call.span, args=call.args, kwargs=call.kwargs,
                execution_id=execution.execution_id if execution is not None else None,
                is_async=is_async, attempt=call.attempt,
                step_index=None if self.is_workflow else attrs.get(semconv.STEP_INDEX),
                parent=CURRENT_CALL.get(), func=self.func, signature=self.signature,
            )  # fmt: skip
        except Exception as internal:
            report_internal_error("decorator", internal)
            return None

    # -- helpers -------------------------------------------------------------------------
    def _bind_step(self, workflow: str) -> StatusCells:
        cells = REGISTRY.step_cells(workflow, self.name)
        if len(self._step_cells) < 1024:  # bounded even if workflows are unbounded
            self._step_cells[workflow] = cells
        return cells

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait after failed ``attempt`` (1-based)."""
        backoff = self.backoff
        if callable(backoff):
            delay: float = max(0.0, float(backoff(attempt)))
            return delay
        return float(backoff) * 2.0 ** (attempt - 1)

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        return attempt <= self.retries and isinstance(exc, self.retry_on)


def put_captured(attrs: dict[str, Any], key: str, captured: Captured) -> None:
    attrs[key] = captured.to_json()
    if captured.truncated:
        attrs[semconv.CAPTURE_TRUNCATED] = True
