"""One execution across two processes: one trace, one execution id, all its steps."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration._subprocess import ROOT, child_env


@pytest.mark.integration
def test_second_half_in_a_child_process_is_the_same_execution(tmp_path: Path) -> None:
    """Steps run by the child carry the parent's trace, execution id, user and numbering."""
    store = tmp_path / "continued.db"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.integration._continue_child", "first", str(store)],
        cwd=ROOT, env=child_env({}), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(store) as db:
        executions = db.execute(
            "SELECT execution_id, trace_id, status, user_id FROM executions").fetchall()
        steps = db.execute("SELECT step, step_index, execution_id, trace_id, workflow, user_id "
                           "FROM steps ORDER BY step_index").fetchall()  # fmt: skip
    ((execution_id, trace_id, status, user_id),) = executions
    assert (status, user_id) == ("ok", "u-42")
    assert [s[0] for s in steps] == ["receive", "reserve", "pack", "ship"]
    indices = [s[1] for s in steps]
    assert indices == sorted(set(indices))  # numbered on, never reused
    assert {(s[2], s[3], s[4], s[5]) for s in steps} == {
        (execution_id, trace_id, "order", "u-42")}
