"""The workflow debugger: breakpoints, pause and stepping, variables, watches, traces,
snapshots and replay, at the level of workflows, steps and spans.

>>> import otel_workflow as ow
>>> dbg = ow.debugger()                        # doctest: +SKIP
>>> dbg.set_breakpoint(step="charge", condition="order['total'] > 100")  # doctest: +SKIP

See docs/debugger.md.
"""

from __future__ import annotations

import sys
import threading
import types
from typing import TypeVar

from otel_workflow.debugger.breakpoints import Breakpoint, parse_hit_condition
from otel_workflow.debugger.control import DebugEvent, Frame, PausedExecution
from otel_workflow.debugger.core import WorkflowDebugger
from otel_workflow.debugger.expressions import (
    EvaluationError,
    ExpressionError,
    compile_expression,
)
from otel_workflow.debugger.following import Watch
from otel_workflow.debugger.mutations import watch_of
from otel_workflow.debugger.snapshots import Change, Snapshot

__all__ = [
    "Breakpoint",
    "Change",
    "DebugEvent",
    "EvaluationError",
    "ExpressionError",
    "Frame",
    "PausedExecution",
    "Snapshot",
    "Watch",
    "WorkflowDebugger",
    "compile_expression",
    "debugger",
    "parse_hit_condition",
    "watch_of",
    "watched",
]

T = TypeVar("T")
_lock = threading.Lock()
_default: WorkflowDebugger | None = None
_origin: object = None  # the configure() handle the default debugger was built for
_IN_MEMORY = object()  # ...or built in memory before any configure() with a store


def debugger(store: str | None = None) -> WorkflowDebugger:
    """The process's debugger, its hook registered (created on first call).

    Built lazily, so ``configure()`` costs nothing when no debugger is used: on the first
    call, on ``store`` if given, else on the store ``ow.configure(store=...)`` opened, else
    in memory.  After a ``configure()`` with another store (or the first one, when the
    default was built in memory), the next call builds a debugger on that store, carrying
    the old one's breakpoints, watches and traces over, and closes the old one.
    """
    global _default, _origin
    from otel_workflow._runtime import RUNTIME

    handle = RUNTIME.telemetry  # what configure() set up, if anything
    configured = getattr(handle, "store_path", None)
    with _lock:
        # A configure() with a store other than the one the default was built on.
        stale = _origin is not None and configured is not None and _origin is not handle
        old = None
        if stale and store is None and _default is not None:
            old, _default = _default, None
        if _default is None:
            path = store if store is not None else configured
            _default = WorkflowDebugger(path).attach()
            if store is not None:
                _origin = None  # explicitly placed: never moved
            else:
                _origin = handle if configured is not None else _IN_MEMORY
        if old is not None:
            _default.adopt(old)
            old.close()
        return _default


def watched(obj: T, name: str | None = None, *, workflow: str | None = None) -> T:
    """``obj`` behind a proxy that reports its in-place mutations, with the step that made
    them, to a watch of the process's debugger (``watch_of(proxy).events``).

    >>> order = ow.watched({"status": "new"}, name="order")   # doctest: +SKIP
    """
    return debugger().watched(obj, name, workflow)  # type: ignore[no-any-return]


def set_default(dbg: WorkflowDebugger | None) -> None:
    """Make ``dbg`` what :func:`debugger` returns (configure() and tests use this)."""
    global _default, _origin
    with _lock:
        _default, _origin = dbg, None


class _CallableModule(types.ModuleType):
    # ``import otel_workflow.debugger`` makes the package ``otel_workflow.debugger`` too,
    # shadowing the function ``ow.debugger``: calling the package calls the function.
    def __call__(self, store: str | None = None) -> WorkflowDebugger:
        return debugger(store)


sys.modules[__name__].__class__ = _CallableModule
