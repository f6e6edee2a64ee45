"""The control state: paused executions, stepping on the span tree, listeners.

One thread-safe, event-driven API for every front end (the terminal now; a Debug Adapter
Protocol server or a web page later): :meth:`Controller.wait_for_pause`, ``resume`` with a
stepping mode, ``request_pause``, and listeners that receive ``stopped`` / ``resumed`` /
``finished`` (and ``log`` / ``snapshot`` / ``watch`` / ``condition_error``) events.

A paused *sync* step blocks only its own thread on a :class:`threading.Event`; a paused
*async* step hands the hook path an awaitable (a future on its own loop), so other
coroutines on that loop keep running.  Every pause has a finite timeout after which the
execution resumes by itself and records that it did (a span event and a ``resumed``
event with ``reason="timeout"``), so a forgotten breakpoint never hangs a worker.

Stepping follows the span tree of instrumented calls (``CallInfo.parent``):

- **into**: stop at the next call that starts anywhere below the current one; once the
  current call has ended, at the execution's next hook point;
- **over**: stop at the next call with the same parent; once the current call's parent has
  ended, at the execution's next hook point;
- **out**: stop when the current call's parent ends (its ``after``/``on_error``).

Calls are matched by execution id, so this works across the threads and tasks an
execution fans out to.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from otel_workflow._guard import report_internal_error
from otel_workflow._hooks import CallInfo
from otel_workflow.debugger.expressions import compile_expression

DEFAULT_PAUSE_TIMEOUT = 600.0
"""Seconds a pause lasts before the execution resumes by itself."""


@dataclass(frozen=True)
class Frame:
    """One workflow or step frame of a paused execution's stack (outermost first)."""

    kind: str
    name: str
    workflow: str
    step_index: int | None
    attempt: int


@dataclass
class PausedExecution:
    """An execution stopped at a step boundary; its data are captured copies."""

    execution_id: str
    workflow: str
    step: str
    kind: str
    phase: str  # "before" (about to run), "after" (returned), "error" (raised)
    reason: str  # "breakpoint", "step", "pause", "span breakpoint"
    stack: list[Frame]
    variables: dict[str, Any]
    breakpoint_id: str | None = None
    paused_at: float = field(default_factory=time.time)
    timed_out: bool = False
    resumed: bool = False

    def inspect(self, expression: str) -> Any:
        """Evaluate a restricted expression over :attr:`variables`.

        >>> paused.inspect("order['items'][0]['sku']")  # doctest: +SKIP
        'A-1'
        """
        return compile_expression(expression).evaluate(self.variables)

    def summary(self) -> str:
        where = f"{self.kind} {self.step!r}" + (f" in {self.workflow!r}" if self.workflow else "")
        return f"[{self.execution_id}] {self.reason}: {self.phase} {where}"


@dataclass(frozen=True)
class DebugEvent:
    """What listeners receive."""

    kind: str  # stopped | resumed | finished | log | snapshot | watch | condition_error | ...
    execution_id: str | None
    data: dict[str, Any]


class _Pause:
    __slots__ = ("call", "event", "future", "info", "loop", "mode")

    def __init__(self, call: CallInfo, info: PausedExecution) -> None:
        self.call = call
        self.info = info
        self.event = threading.Event()
        self.future: asyncio.Future[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.mode: str | None = None

    def wake(self) -> None:
        self.event.set()
        if self.future is not None and self.loop is not None:
            self.loop.call_soon_threadsafe(_settle, self.future)


@dataclass
class _Stepping:
    mode: str  # into | over | out
    anchor: CallInfo
    anchor_ended: bool = False
    parent_ended: bool = False


class Controller:
    """Paused executions, stepping requests and listeners (thread-safe)."""

    def __init__(self, pause_timeout: float = DEFAULT_PAUSE_TIMEOUT) -> None:
        if not isinstance(pause_timeout, (int, float)) or not 0 < pause_timeout < float("inf"):
            raise ValueError(f"pause_timeout must be a finite number > 0, got {pause_timeout!r}")
        self.pause_timeout = float(pause_timeout)
        self._cond = threading.Condition()
        self._paused: dict[str, list[_Pause]] = {}
        self._pending: deque[PausedExecution] = deque()
        self._stepping: dict[str, _Stepping] = {}
        self._pause_requests: set[str] = set()
        self._listeners: list[Callable[[DebugEvent], None]] = []
        self.on_change: Callable[[], None] = lambda: None

    # -- what the hook asks -------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while any execution is paused, stepping or asked to pause."""
        return bool(self._stepping or self._pause_requests or self._paused)

    def step_reason(self, call: CallInfo, phase: str) -> str | None:
        """Why ``call`` must stop at this hook point because of stepping or pause(eid)."""
        eid = call.execution_id
        if eid is None:
            return None
        with self._cond:
            if eid in self._pause_requests:
                self._pause_requests.discard(eid)
                self.on_change()
                return "pause"
            st = self._stepping.get(eid)
            if st is None:
                return None
            stop = self._stepping_stops(st, call, phase)
            if stop:
                del self._stepping[eid]
                self.on_change()
            return "step" if stop else None

    @staticmethod
    def _stepping_stops(st: _Stepping, call: CallInfo, phase: str) -> bool:
        anchor = st.anchor
        if phase != "before":
            if call is anchor:
                st.anchor_ended = True
                return False
            if call is anchor.parent:
                st.parent_ended = True
                return st.mode == "out" or st.anchor_ended
            return st.anchor_ended and st.mode != "out"
        if st.mode == "into":
            return st.anchor_ended or _is_below(call, anchor)
        if st.mode == "over":
            return st.anchor_ended or st.parent_ended or call.parent is anchor.parent
        return False

    # -- pausing ------------------------------------------------------------------------
    def stop(self, call: CallInfo, info: PausedExecution) -> Awaitable[None] | None:
        """Pause ``call``: block this thread (sync) or return an awaitable (async)."""
        pause = _Pause(call, info)
        if call.is_async:
            try:
                pause.loop = asyncio.get_running_loop()
            except RuntimeError:
                pause.loop = None
            if pause.loop is not None:
                pause.future = pause.loop.create_future()
        with self._cond:
            self._paused.setdefault(info.execution_id, []).append(pause)
            self._pending.append(info)
            self._cond.notify_all()
        self.on_change()
        self.emit("stopped", info.execution_id, {"paused": info})
        if pause.future is not None:
            return self._wait_async(pause)
        timed_out = not pause.event.wait(self.pause_timeout)
        self._finish_pause(pause, timed_out)
        return None

    async def _wait_async(self, pause: _Pause) -> None:
        assert pause.future is not None
        try:
            await asyncio.wait_for(asyncio.shield(pause.future), self.pause_timeout)
            timed_out = False
        except asyncio.TimeoutError:
            timed_out = True
        self._finish_pause(pause, timed_out)

    def _finish_pause(self, pause: _Pause, timed_out: bool) -> None:
        info = pause.info
        with self._cond:
            pauses = self._paused.get(info.execution_id, [])
            if pause in pauses:
                pauses.remove(pause)
            if not pauses:
                self._paused.pop(info.execution_id, None)
            info.resumed = True
            info.timed_out = timed_out
            mode = pause.mode
            if mode in ("into", "over", "out"):
                st = _Stepping(mode, pause.call, anchor_ended=info.phase != "before")
                self._stepping[info.execution_id] = st
        self.on_change()
        if timed_out:
            span = pause.call.span
            if span is not None:
                span.add_event("workflow.debugger.pause_timeout",
                               {"workflow.debugger.pause_timeout": self.pause_timeout})  # fmt: skip
        reason = "timeout" if timed_out else (mode or "continue")
        self.emit("resumed", info.execution_id, {"reason": reason, "paused": info})

    # -- the control API ------------------------------------------------------------------
    def wait_for_pause(
        self, timeout: float | None = None, execution_id: str | None = None
    ) -> PausedExecution | None:
        """The next stop not yet returned here (optionally of one execution), or None."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                for info in list(self._pending):
                    if info.resumed:
                        self._pending.remove(info)
                    elif execution_id is None or info.execution_id == execution_id:
                        self._pending.remove(info)
                        return info
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def paused(self) -> list[PausedExecution]:
        with self._cond:
            return [p.info for pauses in self._paused.values() for p in pauses]

    def resume(self, execution_id: str, mode: str | None = None) -> bool:
        """Resume every pause of ``execution_id``; ``mode`` into/over/out steps after it."""
        with self._cond:
            pauses = list(self._paused.get(execution_id, ()))
            for pause in pauses:
                pause.mode = mode
        for pause in pauses:
            pause.wake()
        return bool(pauses)

    def request_pause(self, execution_id: str) -> None:
        """Stop ``execution_id`` at its next step boundary."""
        with self._cond:
            self._pause_requests.add(execution_id)
        self.on_change()

    def resume_all(self) -> None:
        with self._cond:
            eids = list(self._paused)
            self._stepping.clear()
            self._pause_requests.clear()
        for eid in eids:
            self.resume(eid)

    # -- listeners ----------------------------------------------------------------------
    def add_listener(self, callback: Callable[[DebugEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every debug event; returns its remover."""
        if not callable(callback):
            raise TypeError("listener must be callable")
        with self._cond:
            self._listeners.append(callback)

        def remove() -> None:
            with self._cond:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return remove

    def emit(self, kind: str, execution_id: str | None, data: dict[str, Any]) -> None:
        with self._cond:
            listeners = tuple(self._listeners)
        if not listeners:
            return
        event = DebugEvent(kind, execution_id, data)
        for listener in listeners:
            try:
                listener(event)
            except Exception as exc:  # a front end's bug must not stop the execution
                report_internal_error("debugger.listener", exc)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _is_below(call: CallInfo, anchor: CallInfo) -> bool:
    parent = call.parent
    while parent is not None:
        if parent is anchor:
            return True
        parent = parent.parent
    return False


def frames_of(call: CallInfo) -> list[Frame]:
    return [Frame(c.kind, c.name, c.workflow, c.step_index, c.attempt) for c in call.stack()]
