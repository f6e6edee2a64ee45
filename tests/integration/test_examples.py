"""The shipped examples run as documented."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.integration._subprocess import ROOT, child_env


@pytest.mark.integration
def test_continue_over_http_example_continues_one_execution() -> None:
    """examples/continue_over_http.py: the service continues the caller's execution."""
    proc = subprocess.run(
        [sys.executable, "examples/continue_over_http.py"], cwd=ROOT, env=child_env({}),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"the service continued execution [0-9a-f]{16}\n", proc.stdout)
    assert "new execution" not in proc.stderr
