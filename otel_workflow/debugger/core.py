"""The WorkflowDebugger: breakpoints, the hook around every step, and the control API.

The hook answers the step machine's ``interested(kind, name)`` from the breakpoint index:
with no breakpoint, watch, trace or stepping, no step is of interest, so every step keeps
the decorators' fast path (no ``CallInfo``, no hook call); with a breakpoint on one step,
only that step is hooked.  Workflows are always of interest (one ``CallInfo`` per
execution: :attr:`WorkflowDebugger.last_execution_id` and replay need them).  Changes made
by other processes through the store are picked up by a daemon thread (one ``PRAGMA
data_version`` every 250 ms), never on the hot path.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from otel_workflow._guard import report_internal_error
from otel_workflow._hooks import (
    CallInfo,
    hook_interest_changed,
    register_hook,
    unregister_hook,
)
from otel_workflow.capture import capture
from otel_workflow.debugger.breakpoints import Breakpoint, Decision, HitCounter
from otel_workflow.debugger.control import (
    Controller,
    DebugEvent,
    PausedExecution,
    frames_of,
)
from otel_workflow.debugger.expressions import compile_expression
from otel_workflow.debugger.following import (
    Record,
    Watch,
    note,
    variables_of,
)
from otel_workflow.debugger.forks import Forks
from otel_workflow.debugger.mutations import mutation_event, wrap
from otel_workflow.debugger.replay import Replays
from otel_workflow.debugger.snapshots import SNAPSHOT_LIMITS, Change, Snapshot, compare
from otel_workflow.debugger.spans import SpanBreakpointProcessor, sdk_providers
from otel_workflow.debugger.store import ChangePoller, DebugStore

_logger = logging.getLogger("otel_workflow.debugger")


class WorkflowDebugger(Forks):
    """Breakpoints, pauses, stepping, watches, traces, snapshots and replay.

    >>> dbg = WorkflowDebugger(store="otel-workflow.db")     # doctest: +SKIP
    >>> bp = dbg.set_breakpoint(step="charge", condition="order['total'] > 100")
    >>> paused = dbg.wait_for_pause(timeout=5)                # doctest: +SKIP
    """

    def __init__(
        self, store: str | Path | DebugStore | None = None, *, pause_timeout: float = 600.0
    ) -> None:
        self.store = DebugStore(store) if isinstance(store, (str, Path)) else store
        self.control = Controller(pause_timeout)
        self.control.on_change = self._refresh_busy
        self._lock = threading.RLock()
        self._hits = HitCounter()
        self._breakpoints: dict[str, Breakpoint] = {}
        self._watches: dict[str, Watch] = {}
        self._trace_requests: dict[str, dict[str, Any]] = {}
        self._records: dict[str, Record] = {}
        self._traces: dict[str, list[dict[str, Any]]] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._workflows: dict[str, Any] = {}
        # The hot path's state: rebuilt on every change, read without the lock.
        self._index: dict[str, tuple[Breakpoint, ...]] = {}
        self._globs: tuple[Breakpoint, ...] = ()
        self._span_bps: tuple[Breakpoint, ...] = ()
        self._followed: frozenset[str] = frozenset()
        self._busy = False
        # What interested() answers from: exact step names, step globs, or every step.
        self._step_names: frozenset[str] = frozenset()
        self._step_globs: tuple[str, ...] = ()
        self._broad = False
        self._interest_lock = threading.Lock()
        self._poller: ChangePoller | None = None
        # Span breakpoints: the processor, the providers it is on, and the pauses that
        # wait for their enclosing call's next hook point.
        self._span_processor = SpanBreakpointProcessor(self)
        self._providers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._span_stops: dict[CallInfo, tuple[str, dict[str, Any]]] = {}
        self._attached = False
        self.last_execution_id: str | None = None
        self.replays = Replays()
        self._replaying = 0
        if self.store is not None:
            self.store.changed()
            self._reload()
        self._rebuild()

    # -- breakpoints ------------------------------------------------------------------
    def set_breakpoint(
        self,
        step: str | None = None,
        workflow: str | None = None,
        *,
        span: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        condition: str | None = None,
        hit_condition: str | None = None,
        ignore_count: int = 0,
        temporary: bool = False,
        action: str = "pause",
        message: str | None = None,
        hit_limit: int | None = None,
        rate_limit: float = 1.0,
        ttl: float | None = 24 * 3600.0,
    ) -> Breakpoint:
        """Add a breakpoint (validated now: a bad expression raises ExpressionError)."""
        bp = Breakpoint(
            step=step,
            workflow=workflow,
            span=span,
            attributes=dict(attributes or {}),
            condition=condition,
            hit_condition=hit_condition,
            ignore_count=ignore_count,
            temporary=temporary,
            action=action,
            message=message,
            hit_limit=hit_limit,
            rate_limit=rate_limit,
            ttl=ttl,
        ).validate()
        with self._lock:
            self._breakpoints[bp.id] = bp
        self._save(bp)
        return bp

    def list_breakpoints(self) -> list[Breakpoint]:
        self.refresh()
        with self._lock:
            return list(self._breakpoints.values())

    def get_breakpoint(self, bp_id: str) -> Breakpoint:
        with self._lock:
            try:
                return self._breakpoints[bp_id]
            except KeyError:
                raise LookupError(f"no breakpoint {bp_id!r}") from None

    def enable(self, bp_id: str) -> None:
        bp = self.get_breakpoint(bp_id)
        bp.enabled, bp.disabled_reason = True, None
        bp.created_at = time.time()  # a re-enabled snapshot breakpoint gets a fresh TTL
        self._save(bp)

    def disable(self, bp_id: str, reason: str | None = None) -> None:
        bp = self.get_breakpoint(bp_id)
        bp.enabled, bp.disabled_reason = False, reason
        self._save(bp)

    def clear_breakpoint(self, bp_id: str) -> None:
        with self._lock:
            if self._breakpoints.pop(bp_id, None) is None:
                raise LookupError(f"no breakpoint {bp_id!r}")
        if self.store is not None:
            self.store.delete("breakpoint", bp_id)
        self._rebuild()

    def clear_all(self) -> None:
        for bp in list(self._breakpoints.values()):
            self.clear_breakpoint(bp.id)

    def _save(self, bp: Breakpoint) -> None:
        bp._stored_ignore = bp.ignore_count
        if self.store is not None:
            self.store.put("breakpoint", bp.id, bp.to_dict())
        self._rebuild()

    # -- sharing through the store ---------------------------------------------------------
    def refresh(self) -> None:
        """Pick up changes other processes made to the store now (the hook does it itself)."""
        if self.store is not None:
            self.store._next_check = 0.0
            if self.store.changed():
                self._reload()
                self._rebuild()

    def _reload(self) -> None:
        assert self.store is not None
        with self._lock:
            fresh: dict[str, Breakpoint] = {}
            for spec in self.store.load("breakpoint"):
                try:
                    bp = Breakpoint.from_dict(spec)
                except (TypeError, ValueError) as exc:
                    _logger.warning(
                        "debugger: skipping stored breakpoint %s: %s", spec.get("id"), exc
                    )
                    continue
                old = self._breakpoints.get(bp.id)
                if old is not None and _same_spec(old.to_dict(), spec):
                    fresh[bp.id] = old  # unchanged: this process's counters carry on
                    continue
                bp._stored_ignore = bp.ignore_count
                if old is not None:  # changed elsewhere: keep this process's counters
                    bp.hit_count = max(bp.hit_count, old.hit_count)
                    bp._last_action, bp.condition_error = old._last_action, old.condition_error
                    if bp.ignore_count == old._stored_ignore:  # not changed elsewhere
                        bp.ignore_count = old.ignore_count
                fresh[bp.id] = bp
            self._breakpoints = fresh
            watches: dict[str, Watch] = {}
            for spec in self.store.load("watch"):
                old_watch = self._watches.get(spec["id"])
                watch = old_watch or Watch(spec["expression"], spec.get("workflow"), spec["id"])
                watch._compiled = watch._compiled or compile_expression(watch.expression)
                watches[watch.id] = watch
            # Object watches live with their proxies in this process, not in the store.
            watches.update({k: w for k, w in self._watches.items() if w.kind == "object"})
            self._watches = watches
            self._trace_requests = {s["id"]: s for s in self.store.load("trace")}

    def _rebuild(self) -> None:
        """Recompute the hot path's index and flags (after any change)."""
        with self._lock:
            index: dict[str, list[Breakpoint]] = {}
            globs, spans = [], []
            followed = set()
            step_names, step_globs = set(), []
            for bp in self._breakpoints.values():
                if not bp.enabled:
                    continue
                if bp.span is not None:
                    spans.append(bp)
                    continue
                keys = bp.keys()
                if not keys:
                    globs.append(bp)
                for key in keys:
                    index.setdefault(key, []).append(bp)
                if bp.step is not None:
                    (step_globs.append(bp.step) if not keys else step_names.add(bp.step))
                if bp.action == "snapshot":
                    followed.add(bp.workflow or "*")
            for watch in self._watches.values():
                followed.add(watch.workflow or "*")
            for req in self._trace_requests.values():
                followed.add(req.get("workflow") or "*")
            self._index = {k: tuple(v) for k, v in index.items()}
            self._globs, self._span_bps = tuple(globs), tuple(spans)
            self._followed = frozenset(followed)
            self._step_names, self._step_globs = frozenset(step_names), tuple(step_globs)
        if spans and self._attached:
            # Only now: with no span breakpoint, spans pay nothing for one.
            self._install_span_processor()
        self._refresh_busy(force=True)

    def _refresh_busy(self, force: bool = False) -> None:
        self._busy = bool(
            self._globs or self._followed or self._records or self.control.busy or self._replaying
            or self._span_bps
        )  # fmt: skip
        # Every step is of interest while anything needs every step's boundaries: stepping
        # or a pause request (the next step must stop), watches, traces and snapshot
        # breakpoints (they follow whole executions), span breakpoints (a pause lands at
        # the enclosing step's end), replays (steps are served from the recording).
        # Under a lock: two threads flipping it at once must leave the newest answer.
        with self._interest_lock:
            broad = bool(self._followed or self.control.busy or self._replaying or self._span_bps)
            if force or broad != self._broad:
                self._broad = broad
                hook_interest_changed()

    def interested(self, kind: str, name: str) -> bool:
        """Whether calls of this workflow or step need the hook (the step machine caches it)."""
        if kind == "workflow" or self._broad or name in self._step_names:
            return True
        return any(fnmatch.fnmatchcase(name, glob) for glob in self._step_globs)

    # -- the hook (registered by configure() or attach()) ------------------------------------
    def before(self, call: CallInfo) -> Awaitable[None] | None:
        if call.parent is None and call.kind == "workflow":
            self.last_execution_id = call.execution_id
            self._workflows[call.name] = call.func
        bps = self._index.get(call.name)
        if bps is None and not self._busy:
            return None
        try:
            return self._boundary(call, "before", None, bps)
        except Exception as exc:
            report_internal_error("debugger", exc)
            return None

    def after(self, call: CallInfo, result: Any) -> Awaitable[None] | None:
        if not self._busy:
            return None
        try:
            return self._boundary(call, "after", result, None)
        except Exception as exc:
            report_internal_error("debugger", exc)
            return None

    def on_error(self, call: CallInfo, exc: BaseException) -> Awaitable[None] | None:
        if not self._busy:
            return None
        try:
            return self._boundary(call, "error", exc, None)
        except Exception as internal:
            report_internal_error("debugger", internal)
            return None

    def _boundary(
        self, call: CallInfo, phase: str, extra: Any, bps: tuple[Breakpoint, ...] | None
    ) -> Awaitable[None] | None:
        eid = call.execution_id
        if self._replaying and phase == "before":
            if call.is_workflow:
                self.replays.bind(call)
            else:
                self.replays.substitute(call)
        record = self._record_for(call, phase)
        if record is not None:
            note(record, call, phase, extra)
        namespace: dict[str, Any] | None = None

        def ns() -> dict[str, Any]:
            nonlocal namespace
            if namespace is None:
                namespace = variables_of(call, phase, extra)
            return namespace

        reason, bp_id = None, None
        if phase == "before":
            candidates = list(bps or ())
            candidates += [
                bp for bp in self._globs if bp.matches_call(call.kind, call.name, call.workflow)
            ]
            for bp in candidates:
                if not bp.matches_call(call.kind, call.name, call.workflow):
                    continue
                decision = self._hits.hit(bp, ns)
                if self._act(bp, decision, call, ns) and reason is None:
                    reason, bp_id = "breakpoint", bp.id
        elif self._span_stops:
            with self._lock:
                span_stop = self._span_stops.pop(call, None)
            if span_stop is not None:
                reason, bp_id = "span breakpoint", span_stop[0]
                ns()["span"] = span_stop[1]
        step_reason = self.control.step_reason(call, phase) if eid is not None else None
        reason = reason or step_reason
        if record is not None and phase != "before" and record.watch_values is not None:
            self._check_watches(record, call, ns)
        if call.is_workflow and phase != "before" and eid is not None:
            self._finish_execution(eid, call, phase)
        if reason is None or eid is None:
            return None
        self._records.setdefault(eid, Record(call.workflow))
        self._refresh_busy()
        info = PausedExecution(
            execution_id=eid,
            workflow=call.workflow,
            step=call.name,
            kind=call.kind,
            phase=phase,
            reason=reason,
            stack=frames_of(call),
            variables=ns(),
            breakpoint_id=bp_id,
        )
        return self.control.stop(call, info)

    def _act(
        self, bp: Breakpoint, decision: Decision, call: CallInfo,
        ns: Callable[[], dict[str, Any]], span: Any = None,
    ) -> bool:  # fmt: skip
        """Carry out one decision; True when it asks for a pause."""
        if decision.condition_error is not None:
            _logger.warning(
                "debugger: condition of breakpoint %s failed (stopping, as bdb does): %s",
                bp.id,
                decision.condition_error,
            )
            self.control.emit(
                "condition_error",
                call.execution_id,
                {"breakpoint": bp.id, "error": decision.condition_error},
            )
        pause = False
        if decision.stop:
            if bp.action == "pause":
                pause = True
            elif bp.action == "snapshot":
                self._take_snapshot(call, ns(), bp.id, span)
            else:
                assert bp._template is not None
                line = bp._template.render(ns())
                _logger.info("debugger log %s: %s", bp.id, line)
                target = span if span is not None else call.span
                if target is not None:
                    target.add_event(
                        "workflow.debugger.log", {"message": line, "breakpoint.id": bp.id}
                    )
                self.control.emit("log", call.execution_id, {"breakpoint": bp.id, "message": line})
        if decision.delete:
            self.clear_breakpoint(bp.id)
        elif decision.disable is not None:
            _logger.warning("debugger: breakpoint %s disabled: %s", bp.id, decision.disable)
            self.disable(bp.id, decision.disable)
            self.control.emit(
                "disabled", call.execution_id, {"breakpoint": bp.id, "reason": decision.disable}
            )
        return pause

    # -- following executions: state, traces, watches ----------------------------------------
    def _record_for(self, call: CallInfo, phase: str) -> Record | None:
        eid = call.execution_id
        if eid is None:
            return None
        record = self._records.get(eid)
        if (
            record is None
            and phase == "before"
            and self._followed
            and ("*" in self._followed or call.workflow in self._followed or self._traced(call))
        ):
            record = self._records[eid] = Record(call.workflow)
            if self._traced(call):
                record.trace = []
            self._refresh_busy()
        return record

    def _traced(self, call: CallInfo) -> bool:
        for req in self._trace_requests.values():
            if req.get("execution_id") in (None, call.execution_id) and req.get("workflow") in (
                None,
                call.workflow,
            ):
                return True
        return False

    def _check_watches(
        self, record: Record, call: CallInfo, ns: Callable[[], dict[str, Any]]
    ) -> None:
        for watch in list(self._watches.values()):
            if watch.workflow not in (None, call.workflow) or watch._compiled is None:
                continue
            try:
                value = watch._compiled.evaluate(ns())
            except Exception:
                continue  # not defined at this step
            value = capture(value, SNAPSHOT_LIMITS).data
            missing = watch.id not in record.watch_values
            old = record.watch_values.get(watch.id)
            record.watch_values[watch.id] = value
            if missing or old == value:
                continue
            event = {
                "watch_id": watch.id,
                "expression": watch.expression,
                "execution_id": call.execution_id,
                "step": call.name,
                "step_index": call.step_index,
                "old": old,
                "new": value,
                "ts": time.time(),
            }
            watch.events.append(event)
            if self.store is not None:
                self.store.add_watch_event(event)
            self.control.emit("watch", call.execution_id, event)

    def _finish_execution(self, eid: str, call: CallInfo, phase: str) -> None:
        record = self._records.pop(eid, None)
        if record is not None and record.trace:
            if self.store is not None:
                self.store.add_trace_events(record.trace)
            else:
                self._traces[eid] = record.trace
        self._refresh_busy()
        self.control.emit(
            "finished",
            eid,
            {"workflow": call.workflow, "status": "ok" if phase == "after" else "error"},
        )

    # -- the control API (thread-safe) ----------------------------------------------------
    def wait_for_pause(
        self, timeout: float | None = 5.0, execution_id: str | None = None
    ) -> PausedExecution | None:
        """The next pause (of one execution, if given), or None after ``timeout`` seconds."""
        return self.control.wait_for_pause(timeout, execution_id)

    def paused_executions(self) -> list[PausedExecution]:
        return self.control.paused()

    def resume(self, execution_id: str) -> bool:
        return self.control.resume(execution_id)

    def step_into(self, execution_id: str) -> bool:
        return self.control.resume(execution_id, "into")

    def step_over(self, execution_id: str) -> bool:
        return self.control.resume(execution_id, "over")

    def step_out(self, execution_id: str) -> bool:
        return self.control.resume(execution_id, "out")

    def pause(self, execution_id: str) -> None:
        """Stop a running execution at its next step boundary."""
        self.control.request_pause(execution_id)

    def add_listener(self, callback: Callable[[DebugEvent], None]) -> Callable[[], None]:
        return self.control.add_listener(callback)

    # -- watches ------------------------------------------------------------------------
    def watch(self, expression: str, workflow: str | None = None) -> Watch:
        """Report each change of ``expression``'s value after a step of matching executions."""
        compiled = compile_expression(expression)
        import uuid

        watch = Watch(expression, workflow, uuid.uuid4().hex[:12], _compiled=compiled)
        with self._lock:
            self._watches[watch.id] = watch
        if self.store is not None:
            self.store.put("watch", watch.id, watch.to_dict())
        self._rebuild()
        return watch

    def watched(self, obj: Any, name: str | None = None, workflow: str | None = None) -> Any:
        """A proxy of ``obj`` (dict, list or object) reporting each in-place mutation, with
        the step that made it, to a new watch (``watch_of(proxy).events``)."""
        if name is not None and not isinstance(name, str):
            raise TypeError(f"watched name must be a str, got {type(name).__name__}")
        import uuid

        label = name or type(obj).__name__
        watch = Watch(label, workflow, uuid.uuid4().hex[:12], kind="object")
        with self._lock:
            self._watches[watch.id] = watch
        self._rebuild()  # every step of interest: mutations name the step that made them
        return wrap(obj, watch, self._mutated, label)

    def _mutated(self, watch: Watch, path: str, op: str, key: Any, old: Any, new: Any) -> None:
        """A watched object changed in place (called by the proxy, in the user's thread)."""
        if watch.id not in self._watches:
            return  # unwatched: the proxy keeps working, silently
        try:
            event = mutation_event(watch, path, op, key, old, new)
            if event is None:
                return
            watch.events.append(event)
            if self.store is not None:
                self.store.add_watch_event(event)
            self.control.emit("watch", event["execution_id"], event)
        except Exception as exc:
            report_internal_error("debugger.watched", exc)

    def unwatch(self, watch_id: str) -> None:
        with self._lock:
            self._watches.pop(watch_id, None)
        if self.store is not None:
            self.store.delete("watch", watch_id)
        self._rebuild()

    def watch_events(self, watch_id: str) -> list[dict[str, Any]]:
        if self.store is not None:
            return self.store.watch_events(watch_id)
        watch = self._watches.get(watch_id)
        return list(watch.events) if watch else []

    # -- traces ---------------------------------------------------------------------------
    def start_trace(self, execution_id: str | None = None, *, workflow: str | None = None) -> str:
        """Record enter/exit of every step of matching executions; returns the trace id."""
        if execution_id is None and workflow is None:
            raise ValueError("start_trace needs an execution id or workflow=")
        trace_id = execution_id or f"workflow:{workflow}"
        spec = {"id": trace_id, "execution_id": execution_id, "workflow": workflow}
        with self._lock:
            self._trace_requests[trace_id] = spec
        if self.store is not None:
            self.store.put("trace", trace_id, spec)
        self._rebuild()
        return trace_id

    def stop_trace(self, trace_id: str) -> None:
        with self._lock:
            self._trace_requests.pop(trace_id, None)
        if self.store is not None:
            self.store.delete("trace", trace_id)
        self._rebuild()

    def get_trace(self, execution_id: str) -> list[dict[str, Any]]:
        """Enter/exit events of one execution in order (also after it finished)."""
        record = self._records.get(execution_id)
        live = list(record.trace or []) if record is not None else []
        stored = (
            self.store.trace(execution_id)
            if self.store is not None
            else self._traces.get(execution_id, [])
        )
        return sorted(stored + live, key=lambda e: e["seq"])

    # -- snapshots ------------------------------------------------------------------------
    def _take_snapshot(
        self, call: CallInfo, variables: dict[str, Any], bp_id: str | None, span: Any = None
    ) -> Snapshot:
        eid = call.execution_id or ""
        record = self._records.get(eid) or Record(call.workflow)
        state = {"input": record.input, "steps": dict(record.outputs), "variables": variables}
        writers = dict(record.writers)
        writers["variables"] = call.name
        snap = Snapshot(eid, call.workflow, call.name, call.step_index, state, writers, bp_id)
        self._snapshots[snap.id] = snap
        bp = self._breakpoints.get(bp_id or "")
        if self.store is not None:
            expires = None if bp is None or bp.ttl is None else snap.ts + bp.ttl
            self.store.add_snapshot(snap.to_dict(), expires)
        target = span if span is not None else call.span
        if target is not None:
            payload = capture(state, SNAPSHOT_LIMITS).to_json()
            target.add_event(
                "workflow.debugger.snapshot", {"snapshot.id": snap.id, "snapshot.state": payload}
            )
        self.control.emit("snapshot", eid, {"snapshot": snap.id, "step": call.name})
        return snap

    def snapshot(self, execution_id: str) -> Snapshot:
        """Snapshot a paused execution's state now."""
        for pause in self.control._paused.get(execution_id, ()):
            return self._take_snapshot(pause.call, pause.info.variables, None)
        raise LookupError(f"execution {execution_id!r} is not paused")

    def snapshots(self, execution_id: str | None = None) -> list[Snapshot]:
        if self.store is not None:
            return [Snapshot.from_dict(d) for d in self.store.snapshots(execution_id)]
        return [s for s in self._snapshots.values() if execution_id in (None, s.execution_id)]

    def get_snapshot(self, snapshot_id: str) -> Snapshot:
        snap = self._snapshots.get(snapshot_id)
        if snap is None and self.store is not None:
            data = self.store.snapshot(snapshot_id)
            snap = Snapshot.from_dict(data) if data else None
        if snap is None:
            raise LookupError(f"no snapshot {snapshot_id!r}")
        return snap

    @staticmethod
    def compare(a: Snapshot, b: Snapshot) -> list[Change]:
        """Structured diff: added / removed / changed paths, each with the step that wrote it."""
        return compare(a, b)

    # -- executions -----------------------------------------------------------------------
    def executions(
        self, workflow: str | None = None, status: str | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Recent executions from the store (newest first)."""
        if self.store is None:
            raise LookupError("executions() needs a store: WorkflowDebugger(store=path)")
        return self.store.executions(workflow, status, limit)

    # -- lifecycle -------------------------------------------------------------------------
    def attach(self) -> WorkflowDebugger:
        """Register this debugger's hook with the step machine and, with a store, start the
        daemon thread that picks up other processes' changes."""
        register_hook(self)
        self._span_processor.active = True
        self._attached = True
        if self._span_bps:
            self._install_span_processor()
        if self.store is not None and self._poller is None:
            self._poller = ChangePoller(self.store, self._store_changed)
        return self

    def detach(self) -> None:
        """Unregister the hook, stop the change poller, resume every paused execution."""
        unregister_hook(self)
        self._attached = False
        self._span_processor.active = False
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.stop()
        self.control.resume_all()

    def adopt(self, other: WorkflowDebugger) -> None:
        """Take over ``other``'s breakpoints, expression watches and trace requests."""
        for bp in other.list_breakpoints():
            with self._lock:
                self._breakpoints[bp.id] = bp
            self._save(bp)
        for watch in list(other._watches.values()):
            with self._lock:
                self._watches[watch.id] = watch
            if self.store is not None and watch.kind == "expression":
                self.store.put("watch", watch.id, watch.to_dict())
        for spec in list(other._trace_requests.values()):
            self._trace_requests[spec["id"]] = spec
            if self.store is not None:
                self.store.put("trace", spec["id"], spec)
        self._rebuild()

    def _install_span_processor(self) -> None:
        for provider in sdk_providers():
            self.add_to_provider(provider)

    def add_to_provider(self, provider: Any) -> None:
        """Add the span-breakpoint processor to an SDK ``TracerProvider`` (once per provider).

        An attached debugger does it, when the first span breakpoint is set, for
        configure()'s provider, the one the decorators use and the global one; call this for
        another provider whose spans should carry breakpoints.
        """
        if not hasattr(provider, "add_span_processor"):
            raise TypeError(
                f"provider must be an SDK TracerProvider, got {type(provider).__name__}"
            )
        with self._lock:
            if provider in self._providers:
                return
            self._providers.add(provider)
        provider.add_span_processor(self._span_processor)

    def _store_changed(self) -> None:
        self._reload()
        self._rebuild()

    def close(self) -> None:
        """:meth:`detach` and close the store connection (idempotent)."""
        self.detach()
        if self.store is not None:
            self.store.close()


_COUNTERS = ("hit_count", "ignore_count")


def _same_spec(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Equal but for the per-process counters (hit count, ignore count left)."""
    keys = (set(a) | set(b)) - set(_COUNTERS)
    return all(a.get(k) == b.get(k) for k in keys)
