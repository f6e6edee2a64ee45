"""otel-workflow: OpenTelemetry spans and metrics for Python workflows.

>>> import otel_workflow as ow
>>> @ow.workflow(type="order")
... def checkout(order: dict) -> None:
...     validate(order)
>>> @ow.step
... def validate(order: dict) -> None: ...

Decorators use only the OpenTelemetry API: with no SDK configured they cost next to
nothing.  :func:`configure` sets up (or attaches to) the SDK, ``/metrics`` and OTLP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_workflow._decorators import step, workflow
from otel_workflow._hooks import CallHook, CallInfo, register_hook, unregister_hook
from otel_workflow._runtime import disable, enable
from otel_workflow._scope import attributes
from otel_workflow.capture import CaptureLimits, capture

__all__ = [
    "AnalyticsEngine",
    "CallHook",
    "CallInfo",
    "CaptureLimits",
    "ExecutionHandle",
    "WorkflowTelemetry",
    "attributes",
    "capture",
    "configure",
    "continue_execution",
    "debugger",
    "diagnose",
    "disable",
    "enable",
    "error_report",
    "get_execution",
    "inject",
    "instrument",
    "register_error_rule",
    "register_hook",
    "resolve",
    "schedule_report",
    "step",
    "step_span",
    "track_workflow_start",
    "uninstrument",
    "unregister_error_rule",
    "unregister_hook",
    "watched",
    "workflow",
    "workflow_span",
]

if TYPE_CHECKING:
    # The lazily loaded names with their real signatures, for mypy, pyright and editors;
    # a test keeps these imports and _LAZY naming the same objects.
    from otel_workflow.analytics import AnalyticsEngine
    from otel_workflow.config import WorkflowTelemetry, configure
    from otel_workflow.debugger import debugger, watched
    from otel_workflow.diagnosis.api import diagnose, resolve
    from otel_workflow.diagnosis.report import error_report
    from otel_workflow.diagnosis.rules import register_error_rule, unregister_error_rule
    from otel_workflow.propagation import inject
    from otel_workflow.proxy import instrument, uninstrument
    from otel_workflow.reports import schedule_report
    from otel_workflow.tracking import (
        ExecutionHandle,
        continue_execution,
        get_execution,
        step_span,
        track_workflow_start,
        workflow_span,
    )

# Heavier parts load on first use so `import otel_workflow` stays API-only and cheap.
_LAZY = {
    "configure": ("otel_workflow.config", "configure"),
    "WorkflowTelemetry": ("otel_workflow.config", "WorkflowTelemetry"),
    "instrument": ("otel_workflow.proxy", "instrument"),
    "uninstrument": ("otel_workflow.proxy", "uninstrument"),
    "AnalyticsEngine": ("otel_workflow.analytics", "AnalyticsEngine"),
    "schedule_report": ("otel_workflow.reports", "schedule_report"),
    "debugger": ("otel_workflow.debugger", "debugger"),
    "watched": ("otel_workflow.debugger", "watched"),
    "workflow_span": ("otel_workflow.tracking", "workflow_span"),
    "step_span": ("otel_workflow.tracking", "step_span"),
    "track_workflow_start": ("otel_workflow.tracking", "track_workflow_start"),
    "get_execution": ("otel_workflow.tracking", "get_execution"),
    "ExecutionHandle": ("otel_workflow.tracking", "ExecutionHandle"),
    "inject": ("otel_workflow.propagation", "inject"),
    "continue_execution": ("otel_workflow.tracking", "continue_execution"),
    "diagnose": ("otel_workflow.diagnosis.api", "diagnose"),
    "resolve": ("otel_workflow.diagnosis.api", "resolve"),
    "error_report": ("otel_workflow.diagnosis.report", "error_report"),
    "register_error_rule": ("otel_workflow.diagnosis.rules", "register_error_rule"),
    "unregister_error_rule": ("otel_workflow.diagnosis.rules", "unregister_error_rule"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'otel_workflow' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
