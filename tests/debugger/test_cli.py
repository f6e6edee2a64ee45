"""The terminal front end: breakpoints from another process, executions, trace, debug prompt."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from otel_workflow.cli import main
from otel_workflow.debugger import WorkflowDebugger


def test_breakpoints_commands_change_the_store(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """set/list/disable/clear work on the store a running program reads."""
    store = str(tmp_path / "s.db")
    assert main(["breakpoints", "set", "--store", store, "--step", "charge",
                 "--condition", "total > 3"]) == 0  # fmt: skip
    (bp,) = WorkflowDebugger(store).list_breakpoints()
    assert bp.condition == "total > 3"
    assert main(["breakpoints", "disable", bp.id, "--store", store]) == 0
    assert not WorkflowDebugger(store).list_breakpoints()[0].enabled
    main(["breakpoints", "list", "--store", store])
    assert bp.id in capsys.readouterr().out
    assert main(["breakpoints", "clear", bp.id, "--store", store]) == 0
    assert WorkflowDebugger(store).list_breakpoints() == []


def test_bad_condition_from_the_cli_is_an_error_exit(tmp_path: Path) -> None:
    """A refused expression exits 1 with the evaluator's message and stores nothing."""
    store = str(tmp_path / "s.db")
    assert main(["breakpoints", "set", "--store", store, "--step", "x",
                 "--condition", "().__class__"]) == 1  # fmt: skip
    assert WorkflowDebugger(store).list_breakpoints() == []


_SCRIPT = textwrap.dedent(
    """
    import otel_workflow as ow

    @ow.step
    def charge(total):
        return total * 2

    @ow.workflow
    def pay(total):
        return charge(total)

    print("result", pay(21))
    """
)


def test_debug_command_prompts_at_a_pause(tmp_path: Path) -> None:
    """``otel-workflow debug`` stops at --break, answers print/bt, and continues to the end."""
    script = tmp_path / "app.py"
    script.write_text(_SCRIPT)
    proc = subprocess.run(
        [sys.executable, "-m", "otel_workflow.cli", "debug", "--store", str(tmp_path / "s.db"),
         "--break", "charge", str(script)],
        input="p total + 1\nbt\nc\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "breakpoint: before step 'charge'" in proc.stdout
    assert "22" in proc.stdout and "workflow pay" in proc.stdout
    assert "result 42" in proc.stdout
