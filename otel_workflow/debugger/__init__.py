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

from otel_workflow.debugger.breakpoints import Breakpoint, parse_hit_condition
from otel_workflow.debugger.control import DebugEvent, Frame, PausedExecution
from otel_workflow.debugger.core import Watch, WorkflowDebugger
from otel_workflow.debugger.expressions import (
    EvaluationError,
    ExpressionError,
    compile_expression,
)
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
]

_lock = threading.Lock()
_default: WorkflowDebugger | None = None


def debugger(store: str | None = None) -> WorkflowDebugger:
    """The process's debugger, its hook registered (created on first call).

    ``configure()`` may register one with its store; otherwise the first call creates one
    on ``store`` (or in memory when None).
    """
    global _default
    with _lock:
        if _default is None:
            _default = WorkflowDebugger(store).attach()
        return _default


def set_default(dbg: WorkflowDebugger | None) -> None:
    """Make ``dbg`` what :func:`debugger` returns (configure() and tests use this)."""
    global _default
    with _lock:
        _default = dbg


class _CallableModule(types.ModuleType):
    # ``import otel_workflow.debugger`` makes the package ``otel_workflow.debugger`` too,
    # shadowing the function ``ow.debugger``: calling the package calls the function.
    def __call__(self, store: str | None = None) -> WorkflowDebugger:
        return debugger(store)


sys.modules[__name__].__class__ = _CallableModule
