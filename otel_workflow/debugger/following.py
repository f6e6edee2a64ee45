"""What the debugger keeps about the executions it follows: watches, records, variables.

A :class:`Record` holds one execution's workflow input, each step's captured output (and
the step that wrote it: what snapshot comparisons name) and, while traced, its enter/exit
events.  :func:`variables_of` is a boundary's namespace for expressions (bound arguments,
result or error and the failing frames' locals, span attributes), captured: bounded and
scrubbed copies, never live objects.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from otel_workflow._hooks import CallInfo
from otel_workflow.capture import capture
from otel_workflow.debugger.expressions import Expression
from otel_workflow.debugger.snapshots import SNAPSHOT_LIMITS

MAX_TRACE_EVENTS = 10_000
"""Trace events kept per execution (enter + exit of 5,000 steps)."""


@dataclass
class Watch:
    """An expression evaluated after every step of matching executions (pdb ``display``)."""

    expression: str
    workflow: str | None = None
    id: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    _compiled: Expression | None = field(default=None, repr=False)
    kind: str = "expression"  # or "object": an ``ow.watched`` proxy's (this process only)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "expression": self.expression, "workflow": self.workflow}


@dataclass
class Record:
    """What the debugger keeps about one execution it is following."""

    workflow: str
    input: Any = None
    outputs: dict[str, Any] = field(default_factory=dict)
    writers: dict[str, str] = field(default_factory=dict)
    watch_values: dict[str, Any] = field(default_factory=dict)
    trace: list[dict[str, Any]] | None = None
    starts: dict[int, float] = field(default_factory=dict)
    seq: int = 0


def call_label(call: CallInfo) -> str:
    return call.name if call.step_index is None else f"{call.name}#{call.step_index}"


def variables_of(call: CallInfo, phase: str, extra: Any = None) -> dict[str, Any]:
    """Bound arguments, return value / exception and execution attributes, captured."""
    try:
        arguments = call.arguments()
    except Exception:
        arguments = {"args": call.args, "kwargs": call.kwargs}
    data = capture(arguments, SNAPSHOT_LIMITS).data
    variables: dict[str, Any] = dict(data) if isinstance(data, dict) else {"args": data}
    variables["args"] = data
    if phase == "after":
        variables["result"] = capture(extra, SNAPSHOT_LIMITS).data
    elif phase == "error" and isinstance(extra, BaseException):
        variables["error"] = {"type": type(extra).__name__, "message": str(extra)[:512]}
        frames = call.error_frames(extra, SNAPSHOT_LIMITS)
        if frames:
            variables["locals"] = frames[-1].locals
            variables["frames"] = [f.to_dict() for f in frames]
    span_attrs = getattr(call.span, "attributes", None)
    variables["attributes"] = capture(dict(span_attrs or {}), SNAPSHOT_LIMITS).data
    variables["workflow"] = call.workflow
    variables["step"] = call.name
    variables["attempt"] = call.attempt
    return variables


def note(record: Record, call: CallInfo, phase: str, extra: Any) -> None:
    """Keep the workflow input, step outputs (with their writers) and the trace event."""
    label = call_label(call)
    if phase == "before" and call.is_workflow and record.input is None:
        record.input = capture(arguments_of(call), SNAPSHOT_LIMITS).data
    if phase == "after" and not call.is_workflow:
        record.outputs[label] = capture(extra, SNAPSHOT_LIMITS).data
        record.writers[f"steps.{label}"] = call.name
    if record.trace is None or len(record.trace) >= MAX_TRACE_EVENTS:
        return
    record.seq += 1
    now = time.time()
    event: dict[str, Any] = {
        "execution_id": call.execution_id,
        "seq": record.seq,
        "ts": now,
        "event": {"before": "enter", "after": "exit", "error": "error"}[phase],
        "kind": call.kind,
        "name": call.name,
        "step_index": call.step_index,
        "attempt": call.attempt,
        "depth": len(call.stack()) - 1,
    }
    if phase == "before":
        record.starts[id(call)] = now
        event["arguments"] = capture(arguments_of(call), SNAPSHOT_LIMITS).data
    else:
        start = record.starts.pop(id(call), None)
        event["duration"] = None if start is None else now - start
        if phase == "after":
            event["result"] = capture(extra, SNAPSHOT_LIMITS).data
        else:
            event["error"] = {"type": type(extra).__name__, "message": str(extra)[:512]}
    record.trace.append(event)


def arguments_of(call: CallInfo) -> Any:
    """The call's bound arguments (positional/keyword when binding fails)."""
    try:
        return call.arguments()
    except Exception:
        return {"args": call.args, "kwargs": call.kwargs}
