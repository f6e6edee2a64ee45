"""Run a scenario of :mod:`tests.integration._children` in a new Python process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.integration._children import RESULT_PREFIX

ROOT = Path(__file__).resolve().parents[2]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This environment minus every ``OTEL_*`` variable, plus ``extra``; the repo importable."""
    # The child must see only the variables the test means, not the runner's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_child(
    scenario: str, env: dict[str, str] | None = None, timeout: float = 180.0, **args: Any
) -> dict[str, Any]:
    """Run ``scenario`` with JSON ``args``; return its ``RESULT`` (plus ``_stderr``).

    ``timeout`` is the generous outer bound on the whole process; a scenario that hangs
    fails the test with ``subprocess.TimeoutExpired``.
    """
    proc = subprocess.run(
        [sys.executable, "-m", "tests.integration._children", scenario, json.dumps(args)],
        cwd=ROOT, env=child_env(env or {}), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"scenario {scenario} failed (exit {proc.returncode}):\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")  # fmt: skip
    result: dict[str, Any] = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    result["_stderr"] = proc.stderr
    return result
