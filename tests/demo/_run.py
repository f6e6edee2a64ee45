"""Run the demo as a person would: a real child process, on a pipe or on a pseudo-terminal."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from otel_workflow._polling import wait_until

REPO = Path(__file__).resolve().parents[2]
PROMPT = "  $ "
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\r")


def demo_env(**extra: str) -> dict[str, str]:
    """The environment minus ``OTEL_*`` variables (the child sees only what a test sets)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(extra)
    return env


def demo_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "otel_workflow.demo", *args]


def run_piped(*args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess[str]:
    """The demo with stdin from /dev/null and stdout to a pipe, as in CI."""
    return subprocess.run(demo_argv(*args), cwd=cwd, env=demo_env(**env), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


class TerminalDemo:
    """The demo on a pseudo-terminal (stdin and stdout are TTYs); output read by a thread."""

    def __init__(self, args: Sequence[str], cwd: Path = REPO) -> None:
        master, slave = os.openpty()
        self._master = master
        self._chunks: list[str] = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(demo_argv(*args), cwd=cwd, env=demo_env(COLUMNS="200"),
                                     stdin=slave, stdout=slave, stderr=slave)  # fmt: skip
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO: the child closed its end of the terminal
                break
            if not data:
                break
            with self._lock:
                self._chunks.append(data.decode(errors="replace"))

    @property
    def output(self) -> str:
        """Everything printed so far, terminal control sequences removed."""
        with self._lock:
            return _ANSI.sub("", "".join(self._chunks))

    def wait_for(self, text: str, timeout: float = 240.0) -> str:
        def seen() -> str | None:
            out = self.output
            if text in out:
                return out
            if self.proc.poll() is not None:
                raise AssertionError(f"demo exited {self.proc.returncode} before {text!r}:\n{out}")
            return None

        return wait_until(seen, timeout)

    def interrupt(self, timeout: float = 60.0) -> int:
        """Ctrl-C (SIGINT), then the exit code."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._reader.join(timeout=10)
        os.close(self._master)


def metrics_url(output: str) -> str:
    match = re.search(r"Serving Prometheus metrics at (http://\S+/metrics)", output)
    assert match is not None, output
    return match.group(1)


def printed_commands(output: str) -> list[str]:
    """The command lines the demo printed (each starts with the ``  $ `` prompt)."""
    return [line[len(PROMPT):] for line in output.splitlines() if line.startswith(PROMPT)]


def fresh_shell_env() -> dict[str, str]:
    """A shell as a newcomer has it: no venv on PATH, no VIRTUAL_ENV, no OTEL_* variables."""
    venv_bin = Path(sys.executable).parent.resolve()
    env = demo_env()
    env.pop("VIRTUAL_ENV", None)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and _resolved(p) != venv_bin]
    env["PATH"] = os.pathsep.join(path)
    return env


def _resolved(path: str) -> Path:
    try:
        return Path(path).resolve()
    except OSError:
        return Path(path)


def run_in_fresh_shell(command: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=fresh_shell_env(),
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def store_counts(store: Path) -> dict[str, Any]:
    """Per-workflow and per-step status counts of a store file, read with sqlite3."""
    with sqlite3.connect(store) as db:
        workflows = db.execute("SELECT workflow, status, COUNT(*) FROM executions "
                               "GROUP BY 1, 2 ORDER BY 1, 2").fetchall()  # fmt: skip
        steps = db.execute("SELECT workflow, step, attempt, status, COUNT(*) FROM steps "
                           "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4").fetchall()  # fmt: skip
    return {"executions": workflows, "steps": steps}


def execution_rows(store: Path) -> int:
    with sqlite3.connect(store) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM executions").fetchone()
    return int(count)
