"""The tracking API: workflows that are not one Python call.

A workflow that starts when a message arrives and completes when another one does, steps
imported from a log with their own timings, or an execution that hops processes get the
same spans, metrics, store rows, hooks (so breakpoints and diagnosis apply) as a decorated
function: every form below drives the one step machine the decorators use.

>>> import otel_workflow as ow
>>> with ow.workflow_span("checkout", type="order", user_id="u1") as ex:
...     with ex.step("charge"):
...         pass
>>> ex = ow.track_workflow_start("checkout", type="order")
>>> ex.track_step_execution("validate", status="ok", duration=0.012)
>>> ex.track_workflow_complete()

Outcomes, documented once:

- A handle completes once: a second ``track_workflow_complete``/``_failure``/``cancel``, or
  a step tracked after completion, raises :class:`ExecutionClosedError`.
- A recorded step whose end precedes its start, or a negative duration, raises
  ``ValueError`` before anything is recorded.
- A handle never completed is ended as *cancelled* (counted, with a warning naming it)
  when the process exits: never silently lost.
- Handles are thread-safe; :func:`get_execution` finds a live one by execution id.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace

from otel_workflow import semconv
from otel_workflow._drivers import Instrumented
from otel_workflow._instrumented import Call
from otel_workflow._runtime import RUNTIME
from otel_workflow._scope import CURRENT_SCOPE, Scope, normalize_attributes
from otel_workflow.propagation import continued_scope, inject_execution, warn_once

__all__ = [
    "ExecutionClosedError",
    "ExecutionHandle",
    "RecordedFailure",
    "StepSpan",
    "WorkflowSpan",
    "continue_execution",
    "get_execution",
    "step_span",
    "track_workflow_start",
    "workflow_span",
]

_logger = logging.getLogger("otel_workflow")

_STATUSES = (semconv.STATUS_OK, semconv.STATUS_ERROR, semconv.STATUS_CANCELLED,
             semconv.STATUS_RETRIED)  # fmt: skip


class ExecutionClosedError(RuntimeError):
    """The execution was already completed, failed or cancelled."""


class RecordedFailure(Exception):
    """Stands for a failure recorded without an exception object (``status="error"``)."""


# -- one step machine per name, as a decorator would have -------------------------------------
_MACHINES: dict[tuple[str, str, str], Instrumented] = {}
_MACHINES_LIMIT = 4096
_machines_lock = threading.Lock()


def _machine(kind: str, name: str, workflow_type: str = "") -> Instrumented:
    key = (kind, name, workflow_type)
    machine = _MACHINES.get(key)
    if machine is None:
        machine = Instrumented(kind=kind, name=name, func=None, workflow_type=workflow_type)
        with _machines_lock:
            if len(_MACHINES) < _MACHINES_LIMIT:  # bounded even if names are not
                machine = _MACHINES.setdefault(key, machine)
    return machine


def _check_name(what: str, name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"{what}: name must be a non-empty string, got {name!r}")
    return name


def _scope_with(attributes: dict[str, Any]) -> Scope | None:
    if not attributes:
        return None
    current = CURRENT_SCOPE.get()
    return Scope(current.execution, {**current.attributes, **normalize_attributes(attributes)})


def _exception_for(status: str, error: BaseException | None) -> BaseException | None:
    if status not in _STATUSES:
        raise ValueError(f"status must be one of {', '.join(_STATUSES)}, got {status!r}")
    if error is not None:
        if not isinstance(error, BaseException):
            raise TypeError(f"error must be an exception, got {type(error).__name__}")
        return error
    if status == semconv.STATUS_CANCELLED:
        return asyncio.CancelledError()
    if status in (semconv.STATUS_ERROR, semconv.STATUS_RETRIED):
        return RecordedFailure(f"step recorded as {status}")
    return None


def _to_ns(value: float | datetime, what: str) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1e9)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value * 1e9)
    raise TypeError(f"{what} must be seconds since the epoch (time.time()) or a datetime, "
                    f"got {value!r}")  # fmt: skip


# -- context managers ---------------------------------------------------------------------------
class StepSpan:
    """``with ow.step_span("charge"):`` (or ``async with``): a step, as ``@ow.step`` records."""

    __slots__ = ("_call", "_handle", "_machine")

    def __init__(self, name: str, handle: ExecutionHandle | None = None) -> None:
        self._machine = _machine(semconv.SPAN_KIND_STEP, _check_name("step_span", name))
        self._handle = handle
        self._call: Call | None = None

    def _begin(self, is_async: bool) -> Call | None:
        if not RUNTIME.active and not RUNTIME.wake():
            return None
        where: dict[str, Any] = {}
        if self._handle is not None:
            where = self._handle._where()
        return self._machine.begin_guarded((), {}, 1, True, is_async, **where)

    def __enter__(self) -> trace.Span:
        call = self._call = self._begin(False)
        if call is None:
            return trace.INVALID_SPAN
        if call.info is not None:
            self._machine.run_hooks_sync(call, "before")
        return call.span or trace.INVALID_SPAN  # type: ignore[no-any-return]

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        call, self._call = self._call, None
        if call is not None:
            self._machine.finish(call, exc)

    async def __aenter__(self) -> trace.Span:
        call = self._call = self._begin(True)
        if call is None:
            return trace.INVALID_SPAN
        if call.info is not None:
            pending = self._machine.run_hooks(call, "before")
            if pending:
                await self._machine.await_hooks(call, pending)
        return call.span or trace.INVALID_SPAN  # type: ignore[no-any-return]

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:  # fmt: skip
        call, self._call = self._call, None
        if call is not None:
            await self._machine.finish_async(call, exc)


def step_span(name: str) -> StepSpan:
    """A step of the current execution as a context manager (sync or async)."""
    return StepSpan(name)


class WorkflowSpan:
    """``with ow.workflow_span(...) as ex:``: an execution, as ``@ow.workflow`` records."""

    __slots__ = ("_handle",)

    def __init__(self, name: str, *, type: str = "", user_id: str | None = None,
                 attributes: dict[str, Any] | None = None) -> None:  # fmt: skip
        self._handle = ExecutionHandle(name, type, user_id, attributes, attach=True)

    def __enter__(self) -> ExecutionHandle:
        handle = self._handle
        handle._start(False)
        call = handle._call
        if call is not None and call.info is not None:
            handle._machine.run_hooks_sync(call, "before")
        return handle

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        call = self._handle._close()
        if call is not None:
            self._handle._machine.finish(call, exc)

    async def __aenter__(self) -> ExecutionHandle:
        handle = self._handle
        handle._start(True)
        call = handle._call
        if call is not None and call.info is not None:
            pending = handle._machine.run_hooks(call, "before")
            if pending:
                await handle._machine.await_hooks(call, pending)
        return handle

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:  # fmt: skip
        call = self._handle._close()
        if call is not None:
            await self._handle._machine.finish_async(call, exc)


def workflow_span(name: str, *, type: str = "", user_id: str | None = None,
                  attributes: dict[str, Any] | None = None) -> WorkflowSpan:  # fmt: skip
    """An execution as a context manager (sync or async); ``as ex`` gives its handle."""
    return WorkflowSpan(name, type=type, user_id=user_id, attributes=attributes)


# -- explicit handles -------------------------------------------------------------------------
_LIVE: dict[str, ExecutionHandle] = {}
_live_lock = threading.Lock()
_exit_hook_registered = False


def _register_live(handle: ExecutionHandle) -> None:
    global _exit_hook_registered
    with _live_lock:
        _LIVE[handle.execution_id] = handle
        if not _exit_hook_registered:
            # Registered on first use, so it runs before the exporters' exit hooks
            # (atexit runs last-registered first) and the cancellation still leaves.
            atexit.register(cancel_unfinished)
            _exit_hook_registered = True


def cancel_unfinished() -> None:
    """End every tracked execution never completed as *cancelled*, with a warning each.

    Run at exit, and by ``configure()``'s ``shutdown()`` before it flushes the store, so
    such executions are counted and stored, never silently lost.
    """
    with _live_lock:
        handles = list(_LIVE.values())
    for handle in handles:
        _logger.warning("otel-workflow: execution %s of workflow %r was never completed; "
                        "recording it as cancelled", handle.execution_id, handle.name)  # fmt: skip
        try:
            handle.cancel()
        except ExecutionClosedError:
            pass


def get_execution(execution_id: str) -> ExecutionHandle | None:
    """The live handle of a tracked execution in this process (``None`` when unknown)."""
    with _live_lock:
        return _LIVE.get(execution_id)


class ExecutionHandle:
    """A running execution: track its steps, then complete, fail or cancel it once."""

    def __init__(self, name: str, workflow_type: str = "", user_id: str | None = None,
                 attributes: dict[str, Any] | None = None, *, attach: bool = False
                 ) -> None:  # fmt: skip
        self.name = _check_name("workflow", name)
        if not isinstance(workflow_type, str):
            raise TypeError(f"workflow type must be a string, got {workflow_type!r}")
        if attributes is not None and not isinstance(attributes, dict):
            raise TypeError(f"attributes must be a dict, got {type(attributes).__name__}")
        self._attributes = dict(attributes or {})
        if user_id is not None:
            self._attributes["user_id"] = user_id
        normalize_attributes(self._attributes)  # a bad key is a TypeError now, not later
        self._machine = _machine(semconv.SPAN_KIND_WORKFLOW, self.name, workflow_type)
        self._attach = attach
        self._lock = threading.RLock()
        self._call: Call | None = None
        self._start_ns: int | None = None
        self._closed = False
        self.execution_id = ""
        self.status: str | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def _start(self, is_async: bool, start_ns: int | None = None) -> None:
        call = None
        self._start_ns = start_ns
        if RUNTIME.active or RUNTIME.wake():
            call = self._machine.begin_guarded((), {}, 1, self._attach, is_async,
                                               scope=_scope_with(self._attributes),
                                               start_time=start_ns)  # fmt: skip
        self._call = call
        if call is not None and call.scope is not None and call.scope.execution is not None:
            self.execution_id = call.scope.execution.execution_id
        if not self._attach and self.execution_id:
            _register_live(self)

    def _where(self) -> dict[str, Any]:
        """Where this execution's steps start: its scope and its span's context."""
        call = self._call
        if call is None or call.scope is None:
            return {}
        if CURRENT_SCOPE.get().execution is call.scope.execution:
            return {}  # inside the execution already: the current scope has ow.attributes
        return {"scope": call.scope, "context": call.context}

    def _close(self, status: str | None = None) -> Call | None:
        with self._lock:
            if self._closed:
                raise ExecutionClosedError(
                    f"execution {self.execution_id or '(uninstrumented)'} of {self.name!r} "
                    f"already ended ({self.status})"
                )
            self._closed = True
            self.status = status
        with _live_lock:
            _LIVE.pop(self.execution_id, None)
        return self._call

    def _open_call(self) -> Call | None:
        with self._lock:
            if self._closed:
                raise ExecutionClosedError(
                    f"execution {self.execution_id} of {self.name!r} already ended "
                    f"({self.status}): no more steps"
                )
            return self._call

    def _finish(self, status: str, exc: BaseException | None, result: Any = None,
                end: float | datetime | None = None) -> None:  # fmt: skip
        end_ns = None if end is None else _to_ns(end, "end")
        started = self._start_ns
        if end_ns is not None and started is not None and end_ns < started:
            raise ValueError(f"execution {self.name!r}: end ({end!r}) is before its start")
        call = self._close(status)
        if call is None:
            return
        duration = None
        if started is not None:
            # Given timings: the span and the histogram use them, as for recorded steps.
            end_ns = time.time_ns() if end_ns is None else end_ns
            duration = (end_ns - started) / 1e9
        self._machine.finish(call, exc, result, duration=duration, end_time=end_ns)

    def track_workflow_complete(self, result: Any = None, *,
                                end: float | datetime | None = None) -> None:  # fmt: skip
        """The execution succeeded (``end``: when, for an execution imported from a log)."""
        self._finish(semconv.STATUS_OK, None, result, end)

    def track_workflow_failure(self, error: BaseException, *,
                               end: float | datetime | None = None) -> None:  # fmt: skip
        """The execution failed with ``error`` (recorded with its category, as a decorator)."""
        if not isinstance(error, BaseException):
            raise TypeError(f"track_workflow_failure takes an exception, got {error!r}")
        self._finish(semconv.STATUS_ERROR, error, None, end)

    def cancel(self) -> None:
        """The execution was abandoned: recorded as cancelled."""
        self._finish(semconv.STATUS_CANCELLED, asyncio.CancelledError())

    # -- steps -----------------------------------------------------------------------------
    def step(self, name: str) -> StepSpan:
        """A step of this execution as a context manager, from any thread or task."""
        self._open_call()
        return StepSpan(name, self)

    def track_step_execution(
        self, name: str, *, status: str = semconv.STATUS_OK, duration: float = 0.0,
        error: BaseException | None = None, attempt: int = 1,
    ) -> None:  # fmt: skip
        """A step measured elsewhere that just ended, ``duration`` seconds long."""
        if not isinstance(duration, (int, float)) or isinstance(duration, bool) or duration < 0:
            raise ValueError(f"duration must be seconds >= 0, got {duration!r}")
        end = time.time()
        self.record_step_timing(name, start=end - duration, end=end, error=error,
                                attempt=attempt, status=status)  # fmt: skip

    def record_step_timing(
        self, name: str, *, start: float | datetime, end: float | datetime,
        error: BaseException | None = None, attempt: int = 1, status: str | None = None,
    ) -> None:  # fmt: skip
        """A step with the timings it had (``time.time()`` seconds or datetimes, past ok)."""
        start_ns, end_ns = _to_ns(start, "start"), _to_ns(end, "end")
        if end_ns < start_ns:
            raise ValueError(f"step {name!r}: end ({end!r}) is before start ({start!r})")
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
            raise ValueError(f"attempt must be an int >= 1, got {attempt!r}")
        if status is None:
            status = semconv.STATUS_OK if error is None else semconv.STATUS_ERROR
        exc = _exception_for(status, error)
        machine = _machine(semconv.SPAN_KIND_STEP, _check_name("step", name))
        self._open_call()
        if not RUNTIME.active and not RUNTIME.wake():
            return
        call = machine.begin_guarded((), {}, attempt, False, False, None, start_time=start_ns,
                                     **self._where())  # fmt: skip
        if call is None:
            return
        if call.info is not None:
            machine.run_hooks_sync(call, "before")
        # after/on_error hooks run too: a recorded failure reaches the diagnosis.
        machine.finish(call, exc, None, status=status, duration=(end_ns - start_ns) / 1e9,
                       end_time=end_ns)  # fmt: skip

    # -- across processes -----------------------------------------------------------------
    def inject(self, carrier: dict[str, str] | None = None) -> dict[str, str]:
        """A carrier (W3C ``traceparent`` + ``baggage``) that continues this execution."""
        call = self._open_call()
        scope = call.scope if call is not None else None
        context = call.context if call is not None else None
        return inject_execution(carrier, scope, context)

    def __repr__(self) -> str:
        return (f"ExecutionHandle({self.name!r}, execution_id={self.execution_id!r}, "
                f"status={self.status!r})")  # fmt: skip


def track_workflow_start(
    name: str, *, type: str = "", user_id: str | None = None,
    attributes: dict[str, Any] | None = None, start: float | datetime | None = None,
) -> ExecutionHandle:  # fmt: skip
    """Start an execution that ends later, elsewhere: complete, fail or cancel its handle.

    ``start`` (``time.time()`` seconds or a datetime, past ok) is when it started, for an
    execution imported from a log; then give ``end=`` when completing it too.
    """
    start_ns = None if start is None else _to_ns(start, "start")
    handle = ExecutionHandle(name, type, user_id, attributes, attach=False)
    handle._start(False, start_ns)
    call = handle._call
    if call is not None and call.info is not None:
        handle._machine.run_hooks_sync(call, "before")
    return handle


@contextmanager
def continue_execution(carrier: Any, *, workflow: str = "continued") -> Iterator[str]:
    """Run the block as part of the execution ``carrier`` came from; yields its id.

    Decorated steps (and ``ow.step_span``) inside the block join that execution.  A carrier
    that is missing or malformed never raises: the block runs as a new execution named
    ``workflow`` and a warning says so once.
    """
    continued = continued_scope(carrier)
    if isinstance(continued, str):
        warn_once(continued)
        with workflow_span(workflow) as handle:
            yield handle.execution_id
        return
    ctx, scope = continued
    token = context_api.attach(ctx)
    scope_token = CURRENT_SCOPE.set(scope)
    try:
        yield scope.execution.execution_id  # type: ignore[union-attr]
    finally:
        CURRENT_SCOPE.reset(scope_token)
        context_api.detach(token)
