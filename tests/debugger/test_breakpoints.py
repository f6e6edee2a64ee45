"""bdb's hit semantics, DAP hit conditions, limits, and breakpoints shared through the store."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import otel_workflow as ow
from otel_workflow._polling import wait_until
from otel_workflow.debugger import WorkflowDebugger, parse_hit_condition
from otel_workflow.debugger.expressions import ExpressionError


@ow.step
def charge(total: int) -> int:
    return total


@ow.workflow
def pay(totals: list[int]) -> list[int]:
    return [charge(t) for t in totals]


def _stops(dbg: WorkflowDebugger) -> list[int]:
    """Log every stop's total via a listener and count them."""
    seen: list[int] = []
    dbg.add_listener(
        lambda e: e.kind == "stopped" and (seen.append(e.data["paused"].variables["total"]),
                                           dbg.resume(e.execution_id))
    )  # fmt: skip
    return seen


@pytest.mark.parametrize(
    ("text", "hits"),
    [("3", [3]), ("==3", [3]), (">3", [4, 5, 6]), (">=5", [5, 6]), ("<3", [1, 2]),
     ("<=2", [1, 2]), ("%2", [2, 4, 6])],
)  # fmt: skip
def test_dap_hit_conditions(text: str, hits: list[int]) -> None:
    """Each DAP hit condition form selects the hit counts it names."""
    test = parse_hit_condition(text)
    assert [n for n in range(1, 7) if test(n)] == hits


@pytest.mark.parametrize("text", ["", "=3", "3.5", ">>3", "%0", "abc"])
def test_malformed_hit_condition_is_refused(text: str) -> None:
    """A hit condition outside the DAP syntax is a ValueError when set."""
    with pytest.raises(ValueError, match="hit_condition"):
        parse_hit_condition(text)


def test_ignore_count_is_spent_only_by_true_conditions(dbg: WorkflowDebugger) -> None:
    """Hits count first; the ignore count is consumed only where the condition holds."""
    seen = _stops(dbg)
    bp = dbg.set_breakpoint(step="charge", condition="total > 10", ignore_count=1)
    pay([5, 20, 7, 30, 40])
    assert bp.hit_count == 5
    assert seen == [30, 40]


def test_hit_condition_applies_to_the_hit_count(dbg: WorkflowDebugger) -> None:
    """hit_condition '>=3' stops from the third hit on."""
    seen = _stops(dbg)
    dbg.set_breakpoint(step="charge", hit_condition=">=3")
    pay([1, 2, 3, 4])
    assert seen == [3, 4]


def test_temporary_breakpoint_is_removed_at_its_first_stop(dbg: WorkflowDebugger) -> None:
    """A temporary breakpoint stops once and is gone, from the store too."""
    seen = _stops(dbg)
    bp = dbg.set_breakpoint(step="charge", temporary=True, condition="total > 1")
    pay([1, 2, 3])
    assert seen == [2]
    assert bp.id not in {b.id for b in dbg.list_breakpoints()}
    assert dbg.store is not None and dbg.store.load("breakpoint") == []


def test_failing_condition_stops_is_reported_once_and_keeps_temporary(
    dbg: WorkflowDebugger,
) -> None:
    """A condition raising at run time stops (as bdb does), reported once, user code unharmed."""
    seen = _stops(dbg)
    errors: list[str] = []
    dbg.add_listener(lambda e: e.kind == "condition_error" and errors.append(e.data["error"]))
    bp = dbg.set_breakpoint(step="charge", condition="total['x'] > 1", temporary=True)
    assert pay([1, 2]) == [1, 2]
    assert seen == [1, 2]
    assert len(errors) == 1 and "total['x']" in errors[0]
    assert bp.id in {b.id for b in dbg.list_breakpoints()}


def test_hit_limit_disables_the_breakpoint(dbg: WorkflowDebugger) -> None:
    """At its hit limit a breakpoint disables itself and says why."""
    seen = _stops(dbg)
    bp = dbg.set_breakpoint(step="charge", hit_limit=2)
    pay([1, 2, 3, 4])
    assert seen == [1, 2]
    assert not bp.enabled and "hit limit" in (bp.disabled_reason or "")


def test_disable_and_enable(dbg: WorkflowDebugger) -> None:
    """A disabled breakpoint neither stops nor counts; enabling brings it back."""
    seen = _stops(dbg)
    bp = dbg.set_breakpoint(step="charge")
    dbg.disable(bp.id)
    pay([1])
    dbg.enable(bp.id)
    pay([2])
    assert seen == [2] and bp.hit_count == 1


def test_bad_expression_is_refused_when_set(dbg: WorkflowDebugger) -> None:
    """set_breakpoint refuses a condition the evaluator does not allow; nothing is stored."""
    with pytest.raises(ExpressionError):
        dbg.set_breakpoint(step="charge", condition="password == 'x'")
    with pytest.raises(ValueError, match="action"):
        dbg.set_breakpoint(step="charge", action="explode")
    assert dbg.list_breakpoints() == []


def test_breakpoints_persist_for_a_new_debugger(tmp_path: Path) -> None:
    """A breakpoint set by one debugger is loaded by another on the same store file."""
    first = WorkflowDebugger(tmp_path / "s.db")
    bp = first.set_breakpoint(step="charge", condition="total > 3", hit_condition="%2")
    second = WorkflowDebugger(tmp_path / "s.db")
    (loaded,) = second.list_breakpoints()
    assert (loaded.id, loaded.condition, loaded.hit_condition) == (bp.id, "total > 3", "%2")


_CHILD = textwrap.dedent(
    """
    import sys, time
    import otel_workflow as ow
    from otel_workflow.debugger import WorkflowDebugger

    @ow.step
    def charge(total):
        return total

    dbg = WorkflowDebugger(sys.argv[1], pause_timeout=30).attach()
    dbg.add_listener(lambda e: e.kind == "stopped" and (
        print("stopped", e.data["paused"].variables["total"], flush=True),
        dbg.resume(e.execution_id)))

    @ow.workflow
    def pay(t):
        return charge(t)

    n = 0
    for line in sys.stdin:
        n += 1
        pay(n)
        print("ran", n, flush=True)
    """
)


def test_two_processes_share_breakpoints_without_restart(tmp_path: Path) -> None:
    """A breakpoint set in this process reaches a running child process on the same store."""
    store = tmp_path / "shared.db"
    dbg = WorkflowDebugger(store)
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script), str(store)], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "ran 1"
        dbg.set_breakpoint(step="charge")

        def stopped() -> str | None:
            child.stdin.write("go\n")  # type: ignore[union-attr]
            child.stdin.flush()  # type: ignore[union-attr]
            line = child.stdout.readline().strip()  # type: ignore[union-attr]
            return line if line.startswith("stopped") else None

        assert wait_until(stopped, 10, interval=0.05).startswith("stopped")
    finally:
        child.stdin.close()
        child.wait(10)


def test_hit_counts_stay_per_process_across_reloads(dbg: WorkflowDebugger, tmp_path: Path) -> None:
    """A change from another debugger on the store reloads the specs, but this process's hit
    count and consumed ignore count carry on (bdb keeps them per process)."""
    seen = _stops(dbg)
    bp = dbg.set_breakpoint(step="charge", ignore_count=1)
    pay([1])  # the ignored hit
    other = WorkflowDebugger(tmp_path / "store.db")
    try:
        other.set_breakpoint(step="elsewhere")
        dbg.refresh()
        assert {b.step for b in dbg.list_breakpoints()} == {"charge", "elsewhere"}
        pay([2])
        assert seen == [2]
        assert dbg.get_breakpoint(bp.id).hit_count == 2
        assert other.get_breakpoint(bp.id).hit_count == 0  # counts are not shared
    finally:
        other.close()
