"""The hook's interest: uninterested steps keep the fast path; changes turn steps on."""

from __future__ import annotations

import threading
from pathlib import Path

import otel_workflow as ow
from otel_workflow._hooks import CURRENT_CALL
from otel_workflow._polling import wait_until
from otel_workflow.debugger import WorkflowDebugger

SEEN: list[str | None] = []


@ow.step
def probe() -> None:
    call = CURRENT_CALL.get()
    SEEN.append(None if call is None else f"{call.kind}:{call.name}")


@ow.step
def other() -> None:
    pass


@ow.workflow
def flow() -> None:
    probe()
    other()


def _innermost_call_in_probe() -> str | None:
    SEEN.clear()
    flow()
    return SEEN[-1]


def test_no_breakpoint_leaves_steps_on_the_fast_path(dbg: WorkflowDebugger) -> None:
    """With nothing set, a step builds no CallInfo: the innermost call is the workflow's."""
    assert _innermost_call_in_probe() == "workflow:flow"


def test_breakpoint_elsewhere_hooks_only_that_step(dbg: WorkflowDebugger) -> None:
    """A breakpoint on another step hooks that step only; one on a glob hooks what it matches."""
    bp = dbg.set_breakpoint(step="other", condition="False")
    assert _innermost_call_in_probe() == "workflow:flow"
    assert dbg.interested("step", "other") and not dbg.interested("step", "probe")
    dbg.clear_breakpoint(bp.id)
    dbg.set_breakpoint(step="pro*", condition="False")
    assert _innermost_call_in_probe() == "step:probe"


def test_watches_and_pause_requests_hook_every_step(dbg: WorkflowDebugger) -> None:
    """A watch makes every step of interest; removing it returns steps to the fast path."""
    watch = dbg.watch("step")
    assert _innermost_call_in_probe() == "step:probe"
    dbg.unwatch(watch.id)
    assert _innermost_call_in_probe() == "workflow:flow"
    dbg.pause("some-execution")
    assert dbg.interested("step", "probe")


def test_breakpoint_from_another_process_turns_the_step_on(dbg: WorkflowDebugger,
                                                           tmp_path: Path) -> None:  # fmt: skip
    """A breakpoint written to the store by another debugger reaches this one's interest."""
    other_side = WorkflowDebugger(tmp_path / "store.db")
    try:
        other_side.set_breakpoint(step="probe")
        wait_until(lambda: dbg.interested("step", "probe"), timeout=5)
        thread = threading.Thread(target=flow, daemon=True)
        thread.start()
        paused = dbg.wait_for_pause(timeout=5)
        assert paused is not None and paused.step == "probe"
        dbg.resume(paused.execution_id)
        thread.join(5)
    finally:
        other_side.close()


def test_close_stops_the_poller_thread(tmp_path: Path) -> None:
    """close() stops the daemon thread that polls the store."""
    debugger = WorkflowDebugger(tmp_path / "own.db").attach()
    assert any(t.name == "otel-workflow-debugger-poll" for t in threading.enumerate())
    before = sum(t.name == "otel-workflow-debugger-poll" for t in threading.enumerate())
    debugger.close()
    after = sum(t.name == "otel-workflow-debugger-poll" for t in threading.enumerate())
    assert after == before - 1
