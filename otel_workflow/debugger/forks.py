"""Replay and fork as methods of the debugger: :meth:`Forks.replay`, ``replay_async``,
``restore``.  The mechanics (plans, substitution, divergence) are in :mod:`.replay`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from otel_workflow.debugger.replay import (
    Recording,
    recording_from_store,
    run_replay,
    run_replay_async,
)
from otel_workflow.debugger.snapshots import Snapshot
from otel_workflow.debugger.store import DebugStore


class Forks:
    """The replay part of :class:`~otel_workflow.debugger.WorkflowDebugger`."""

    store: DebugStore | None
    last_execution_id: str | None
    _workflows: dict[str, Any]
    _lock: threading.RLock
    _replaying: int

    def _refresh_busy(self, force: bool = False) -> None:
        raise NotImplementedError

    def replay(
        self,
        execution_id: str,
        from_step: str | None = None,
        *,
        overrides: Mapping[str, Any] | None = None,
        step_overrides: Mapping[str, Mapping[str, Any]] | None = None,
        func: Callable[..., Any] | None = None,
    ) -> Any:
        """Fork ``execution_id``: steps before ``from_step`` return their recorded outputs,
        the rest run live with breakpoints active.  ``overrides`` replace workflow
        arguments, ``step_overrides[step]`` a named step's arguments.  Returns the result;
        the fork's id is :attr:`last_execution_id`.  Raises ReplayDivergence / ReplayError.
        """
        if self.store is None:
            raise LookupError("replay() needs a store: WorkflowDebugger(store=path)")
        recording = recording_from_store(self.store.execution_steps(execution_id), execution_id)
        return self._fork(recording, from_step, overrides, step_overrides, func)

    async def replay_async(
        self,
        execution_id: str,
        from_step: str | None = None,
        *,
        overrides: Mapping[str, Any] | None = None,
        step_overrides: Mapping[str, Mapping[str, Any]] | None = None,
        func: Callable[..., Any] | None = None,
    ) -> Any:
        """:meth:`replay` for an async workflow (awaited on the caller's loop)."""
        if self.store is None:
            raise LookupError("replay() needs a store: WorkflowDebugger(store=path)")
        recording = recording_from_store(self.store.execution_steps(execution_id), execution_id)
        target = self._replay_target(recording, func)
        self._replay_started(+1)
        try:
            result, fork_id = await run_replay_async(
                recording, target, from_step=from_step, overrides=overrides,
                step_overrides=step_overrides,
            )  # fmt: skip
        finally:
            self._replay_started(-1)
        self.last_execution_id = fork_id
        return result

    def _replay_target(self, recording: Recording, func: Any) -> Callable[..., Any]:
        target = func or _decorated(self._workflows.get(recording.workflow))
        if target is None:
            raise LookupError(
                f"workflow {recording.workflow!r} has not run in this process; "
                "pass func= (the decorated workflow function)"
            )
        return target  # type: ignore[no-any-return]

    def _replay_started(self, delta: int) -> None:
        with self._lock:
            self._replaying += delta
        self._refresh_busy()

    def restore(self, snap: Snapshot, *, func: Callable[..., Any] | None = None) -> Any:
        """Fork the snapshot's execution from its step, with the snapshot's state."""
        steps = snap.state.get("steps") or {}
        ordered = sorted(steps.items(), key=lambda kv: int(kv[0].rpartition("#")[2] or 0))
        recorded = [(label.rpartition("#")[0] or label, value) for label, value in ordered]
        recorded.append((snap.step, None))
        recording = Recording(
            snap.execution_id, snap.workflow, snap.state.get("input") or {}, recorded
        )
        return self._fork(recording, snap.step, None, None, func)

    def _fork(
        self,
        recording: Recording,
        from_step: str | None,
        overrides: Any,
        step_overrides: Any,
        func: Callable[..., Any] | None,
    ) -> Any:
        target = self._replay_target(recording, func)
        self._replay_started(+1)
        try:
            result, fork_id = run_replay(
                recording,
                target,
                from_step=from_step,
                overrides=overrides,
                step_overrides=step_overrides,
            )
        finally:
            self._replay_started(-1)
        self.last_execution_id = fork_id
        return result


def _decorated(func: Any) -> Callable[..., Any] | None:
    """The module-level decorated wrapper of an undecorated workflow function."""
    if func is None:
        return None
    import sys

    module = sys.modules.get(getattr(func, "__module__", "") or "")
    wrapper = getattr(module, getattr(func, "__name__", ""), None)
    return wrapper if getattr(wrapper, "__wrapped__", None) is func else None
