"""On a terminal the demo keeps /metrics up until Ctrl-C, then exits cleanly."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from tests.demo._run import (
    TerminalDemo,
    execution_rows,
    metrics_url,
    printed_commands,
    run_in_fresh_shell,
)

pytestmark = pytest.mark.integration

EXECUTIONS = 30


def test_on_a_terminal_metrics_stay_up_until_ctrl_c(tmp_path: Path) -> None:
    """On a TTY /metrics stays up after the workload; Ctrl-C exits 0 with the store flushed."""
    store = tmp_path / "demo.db"
    demo = TerminalDemo(["--executions", str(EXECUTIONS), "--store", str(store),
                         "--metrics-port", "0"])  # fmt: skip
    try:
        out = demo.wait_for("Press Ctrl-C")
        body = urllib.request.urlopen(metrics_url(out), timeout=10).read().decode()
        assert demo.proc.poll() is None  # still serving after the scrape
        assert "workflow_executions_total{" in body
        code = demo.interrupt()
    finally:
        demo.close()
    assert code == 0, demo.output
    assert "Traceback" not in demo.output
    assert execution_rows(store) == EXECUTIONS


def test_every_command_printed_on_a_terminal_runs_in_a_fresh_shell(tmp_path: Path) -> None:
    """Each command the serving demo prints (curl too) exits 0 in a shell without the venv."""
    store = tmp_path / "demo.db"
    demo = TerminalDemo(["--executions", "20", "--store", str(store), "--metrics-port", "0"])
    try:
        out = demo.wait_for("Press Ctrl-C")
        lines = [c for c in printed_commands(out) if "Ctrl-C" not in c]
        assert any(c.startswith("curl ") for c in lines), out
        failures = []
        for command in lines:
            result = run_in_fresh_shell(command)
            if result.returncode != 0:
                failures.append(f"{command}\n  exit {result.returncode}: {result.stderr[-500:]}")
        assert demo.interrupt() == 0
    finally:
        demo.close()
    assert not failures, "\n".join(failures)
