"""Replay and fork: re-run an execution with the steps before ``from_step`` served from the
recording, and the rest live (breakpoints active), as DBOS's ``fork_workflow`` does.

The recording is the span store's captured values (``workflow.input`` / ``workflow.output``,
so the workflow needs ``capture=True`` or capture turned on in ``configure()``), or a
snapshot's state (:meth:`WorkflowDebugger.restore`).  Steps are matched by name and
position: a step the code now calls in a different place than recorded stops the replay
at once: that step raises :class:`ReplayDivergence` (step index, expected, got) without
running its body (``CallInfo.substitute_exception``), so the error propagates through the
workflow as any step failure would; if the workflow catches it and calls more steps, each
raises it again, so nothing after a divergence runs live, and ``replay()`` raises it.
Async workflows replay with ``await dbg.replay_async(...)``.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_workflow._hooks import CallInfo

REPLAY_OF = "workflow.debugger.replay_of"
"""Span attribute of a fork's workflow span: the original execution id."""


class ReplayError(LookupError):
    """The execution cannot be replayed (not found, or recorded without capture)."""


class ReplayDivergence(RuntimeError):
    """The code called steps in a different order than the recording."""

    def __init__(self, index: int, expected: str | None, got: str) -> None:
        self.index, self.expected, self.got = index, expected, got
        super().__init__(
            f"replay diverged at step {index}: recorded {expected!r}, the code now calls {got!r}"
        )


@dataclass
class Recording:
    """The workflow's input and each step's recorded output, in call order."""

    execution_id: str
    workflow: str
    input: dict[str, Any]
    steps: list[tuple[str, Any]]
    trace_id: str | None = None
    span_id: str | None = None


@dataclass
class _Plan:
    recording: Recording
    from_index: int
    step_overrides: Mapping[str, Mapping[str, Any]]
    position: int = 0
    execution_id: str | None = None
    divergence: ReplayDivergence | None = None
    live: list[str] = field(default_factory=list)


_PLAN: contextvars.ContextVar[_Plan | None] = contextvars.ContextVar("ow_replay", default=None)


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def recording_from_store(rows: list[dict[str, Any]], execution_id: str) -> Recording:
    """A :class:`Recording` from ``DebugStore.execution_steps`` rows."""
    if not rows or "workflow" not in rows[0]:
        raise ReplayError(f"no recorded execution {execution_id!r} in the store")
    head, steps = rows[0], rows[1:]
    if "workflow.input" not in head["attributes"]:
        raise ReplayError(
            f"execution {execution_id!r} was recorded without captured values; turn capture on "
            "(@ow.workflow(capture=True) / @ow.step(capture=True), or capture in configure()) "
            "and run it again"
        )
    recorded: list[tuple[str, Any]] = []
    for row in steps:
        if row["attempt"] not in (None, 1) and recorded and recorded[-1][0] == row["step"]:
            recorded.pop()  # a retry replaces the failed attempt
        recorded.append((row["step"], _decode(row["attributes"].get("workflow.output"))))
    return Recording(
        execution_id,
        head["workflow"],
        _decode(head["attributes"]["workflow.input"]),
        recorded,
        head.get("trace_id"),
        head.get("span_id"),
    )


class Replays:
    """The debugger's side of replays: binds a plan to the fork's calls."""

    def bind(self, call: CallInfo) -> None:
        plan = _PLAN.get()
        if plan is None or plan.execution_id is not None:
            return
        plan.execution_id = call.execution_id
        span = call.span
        if span is not None:
            span.set_attribute(REPLAY_OF, plan.recording.execution_id)
            if plan.recording.trace_id and plan.recording.span_id:
                from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

                ctx = SpanContext(
                    int(plan.recording.trace_id, 16),
                    int(plan.recording.span_id, 16),
                    is_remote=True,
                    trace_flags=TraceFlags(1),
                )
                span.add_link(
                    NonRecordingSpan(ctx).get_span_context(),
                    {REPLAY_OF: plan.recording.execution_id},
                )

    def substitute(self, call: CallInfo) -> None:
        plan = _PLAN.get()
        if plan is None or call.execution_id != plan.execution_id or call.parent is None:
            return
        if not call.parent.is_workflow:
            return  # nested steps run (or are skipped) with their parent
        index = plan.position
        plan.position += 1
        steps = plan.recording.steps
        if plan.divergence is not None:
            call.substitute_exception(plan.divergence)
            return
        expected = steps[index][0] if index < len(steps) else None
        if index < plan.from_index and expected != call.name:
            plan.divergence = ReplayDivergence(index, expected, call.name)
            call.substitute_exception(plan.divergence)
            return
        if index < plan.from_index:
            call.substitute_result(steps[index][1])
            return
        plan.live.append(call.name)
        overrides = plan.step_overrides.get(call.name)
        if overrides:
            arguments = {**call.arguments(), **overrides}
            call.substitute_arguments((), arguments)


def run_replay(
    recording: Recording,
    func: Callable[..., Any],
    *,
    from_step: str | None,
    overrides: Mapping[str, Any] | None,
    step_overrides: Mapping[str, Mapping[str, Any]] | None,
) -> tuple[Any, str | None]:
    """Run the fork; returns (result, the fork's execution id)."""
    plan, arguments = _plan(recording, from_step, overrides, step_overrides)
    token = _PLAN.set(plan)
    try:
        try:
            result = func(**arguments)
        except Exception:
            if plan.divergence is not None:
                raise plan.divergence from None
            raise
    finally:
        _PLAN.reset(token)
    if plan.divergence is not None:
        raise plan.divergence
    return result, plan.execution_id


async def run_replay_async(
    recording: Recording,
    func: Callable[..., Any],
    *,
    from_step: str | None,
    overrides: Mapping[str, Any] | None,
    step_overrides: Mapping[str, Mapping[str, Any]] | None,
) -> tuple[Any, str | None]:
    """:func:`run_replay` for an async workflow, awaited in the caller's task."""
    plan, arguments = _plan(recording, from_step, overrides, step_overrides)
    token = _PLAN.set(plan)
    try:
        try:
            result = await func(**arguments)
        except Exception:
            if plan.divergence is not None:
                raise plan.divergence from None
            raise
    finally:
        _PLAN.reset(token)
    if plan.divergence is not None:
        raise plan.divergence
    return result, plan.execution_id


def _plan(
    recording: Recording,
    from_step: str | None,
    overrides: Mapping[str, Any] | None,
    step_overrides: Mapping[str, Mapping[str, Any]] | None,
) -> tuple[_Plan, dict[str, Any]]:
    names = [name for name, _ in recording.steps]
    if from_step is None:
        from_index = len(names)
    elif from_step in names:
        from_index = names.index(from_step)
    else:
        raise ValueError(
            f"from_step {from_step!r} is not a recorded step of "
            f"{recording.execution_id!r} (recorded: {names})"
        )
    plan = _Plan(recording, from_index, dict(step_overrides or {}))
    return plan, {**recording.input, **(overrides or {})}
