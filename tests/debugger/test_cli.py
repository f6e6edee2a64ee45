"""The terminal front end: breakpoints from another process, executions, trace, debug prompt."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from otel_workflow.cli import main
from otel_workflow.debugger import WorkflowDebugger
from otel_workflow.debugger.store import DebugStore


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


def _debug(tmp_path: Path, *options: str, stdin: str, source: str = _SCRIPT
           ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    script = tmp_path / "app.py"
    script.write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "otel_workflow.cli", "debug", "--store", str(tmp_path / "s.db"),
         *options, str(script)],
        input=stdin, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _stored(tmp_path: Path, kind: str) -> list[dict[str, object]]:
    store = DebugStore(tmp_path / "s.db")
    try:
        return store.load(kind)
    finally:
        store.close()


def test_break_breakpoint_is_removed_when_the_session_ends(tmp_path: Path) -> None:
    """A --break breakpoint stops the run, then is gone from the store after ``continue``."""
    proc = _debug(tmp_path, "--break", "charge", stdin="c\n")
    assert proc.returncode == 0, proc.stderr
    assert "breakpoint: before step 'charge'" in proc.stdout
    assert _stored(tmp_path, "breakpoint") == []
    assert WorkflowDebugger(tmp_path / "s.db").list_breakpoints() == []


def test_prompt_breakpoints_and_watches_are_removed_on_quit(tmp_path: Path) -> None:
    """``b STEP`` and ``watch EXPR`` from the prompt are stored, and removed at ``quit``."""
    proc = _debug(tmp_path, "--break", "charge", stdin="b pay\nwatch total\nbreakpoints\nq\n")
    assert proc.returncode == 0, proc.stderr
    listed = proc.stdout.split("Breakpoints (store:")[1]
    assert "step charge" in listed and "step pay" in listed  # both were in the store
    assert re.search(r"watch [0-9a-f]+", proc.stdout)
    assert _stored(tmp_path, "breakpoint") == []
    assert _stored(tmp_path, "watch") == []


def test_breakpoints_are_removed_when_the_script_raises(tmp_path: Path) -> None:
    """A script that raises after the pause exits 1 and leaves no breakpoint behind."""
    source = _SCRIPT.replace('print("result", pay(21))', 'pay(21)\nraise RuntimeError("boom")')
    proc = _debug(tmp_path, "--break", "charge", stdin="c\n", source=source)
    assert proc.returncode == 1
    assert "script raised RuntimeError: boom" in proc.stderr
    assert _stored(tmp_path, "breakpoint") == []


def test_ctrl_c_at_the_prompt_removes_breakpoints(tmp_path: Path) -> None:
    """SIGINT while the prompt waits exits 130 and the session's breakpoint is gone."""
    script = tmp_path / "app.py"
    script.write_text(_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "otel_workflow.cli", "debug", "--store", str(tmp_path / "s.db"),
         "--break", "charge", str(script)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the pause's summary, printed before the prompt
        assert "breakpoint: before step 'charge'" in line
        assert len(_stored(tmp_path, "breakpoint")) == 1
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert _stored(tmp_path, "breakpoint") == []


def test_keep_breakpoints_leaves_them_in_the_store(tmp_path: Path) -> None:
    """With --keep-breakpoints the --break breakpoint is still stored after the session."""
    proc = _debug(tmp_path, "--break", "charge", "--keep-breakpoints", stdin="c\n")
    assert proc.returncode == 0, proc.stderr
    (spec,) = _stored(tmp_path, "breakpoint")
    assert spec["step"] == "charge" and spec["enabled"] is True


_DURATION = r"\d+(\.\d+)? (ns|µs|ms|s|min|h)"


def test_debugged_run_is_listed_by_executions_and_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run under ``debug`` is in --store: ``executions`` lists it, ``trace`` its steps."""
    proc = _debug(tmp_path, "--break", "charge", stdin="c\n")
    assert proc.returncode == 0, proc.stderr
    eid = re.search(r"\[([0-9a-f]+)\] breakpoint", proc.stdout).group(1)  # type: ignore[union-attr]
    store = str(tmp_path / "s.db")
    assert main(["executions", "--store", store]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["execution", "workflow", "status", "error", "started", "duration"]
    (row,) = [line for line in lines if line.startswith(eid)]
    assert row.split()[1:3] == ["pay", "ok"] and re.search(_DURATION + "$", row)
    assert main(["trace", eid, "--store", store]) == 0
    out = capsys.readouterr().out
    assert f"Steps of {eid}: workflow pay, ok" in out
    (step,) = [line for line in out.splitlines() if " charge " in line]
    assert step.split()[:4] == ["0", "charge", "1", "ok"] and re.search(_DURATION + "$", step)


def test_the_scripts_own_configure_records_into_the_debug_store(tmp_path: Path) -> None:
    """A script calling ow.configure(store=other) under ``debug`` gets debug's handle, with
    the usual warning, and its execution is recorded in --store, not in the other file."""
    other = tmp_path / "other.db"
    source = (
        _SCRIPT.replace(
            "import otel_workflow as ow\n",
            f"import otel_workflow as ow\nhandle = ow.configure(store={str(other)!r})\n",
        )
        + "handle.shutdown()\n"
    )
    proc = _debug(tmp_path, stdin="", source=source)
    assert proc.returncode == 0, proc.stderr
    assert "configure() was already called; ignoring store" in proc.stderr
    assert "result 42" in proc.stdout
    (row,) = WorkflowDebugger(tmp_path / "s.db").executions()
    assert row["workflow"] == "pay" and row["status"] == "ok"
    assert not other.exists()


def test_empty_store_commands_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """executions / breakpoints list name the store when there is nothing; trace exits 1."""
    store = str(tmp_path / "s.db")
    assert main(["executions", "--store", store]) == 0
    assert capsys.readouterr().out == f"No executions (store: {store}, no such file)\n"
    assert not os.path.exists(store)  # reading never creates the file
    assert main(["breakpoints", "set", "--store", store, "--step", "x"]) == 0
    assert main(["breakpoints", "clear", _stored(tmp_path, "breakpoint")[0]["id"],  # type: ignore[arg-type]
                 "--store", store]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["breakpoints", "list", "--store", store]) == 0
    assert main(["executions", "--store", store, "--status", "failed"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"No breakpoints (store: {store})",
        f"No executions with status 'failed' (store: {store})",
    ]
    assert main(["trace", "abc", "--store", store]) == 1
    assert f"No trace or recorded steps for abc (store: {store})" in capsys.readouterr().err


def test_executions_table_fits_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With $COLUMNS=60 no line of ``executions`` or ``breakpoints list`` is wider than 60."""
    assert _debug(tmp_path, "--keep-breakpoints", "--break", "charge",
                  stdin="c\n").returncode == 0  # fmt: skip
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.chdir(tmp_path)  # a short store path keeps the titles short
    assert main(["executions", "--store", "s.db"]) == 0
    assert main(["breakpoints", "list", "--store", "s.db"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[1:3] == ["pay", "ok"] for line in lines)
    assert any(line.split()[1:3] == ["pause", "step"] for line in lines)
    assert max(len(line) for line in lines) <= 60


def test_debug_help_describes_every_option() -> None:
    """``debug --help`` has a help text for each option."""
    proc = subprocess.run([sys.executable, "-m", "otel_workflow.cli", "debug", "--help"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for option, words in (("--store PATH", "the SQLite store"), ("--break STEP", "pause before"),
                          ("--keep-breakpoints", "leave the breakpoints")):  # fmt: skip
        assert f"{option} {words}" in text, option
