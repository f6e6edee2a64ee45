"""Without a terminal the demo exits when done; a taken port and a seed behave as documented."""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from otel_workflow.demo.options import DEFAULT_METRICS_PORT
from tests.demo._run import (
    execution_rows,
    metrics_url,
    printed_commands,
    run_in_fresh_shell,
    run_piped,
    store_counts,
)

pytestmark = pytest.mark.integration


def test_without_a_terminal_the_demo_exits_when_the_workload_is_done(tmp_path: Path) -> None:
    """Stdin from /dev/null: exit 0 after the workload, no Ctrl-C prompt, /metrics closed."""
    store = tmp_path / "demo.db"
    result = run_piped("--executions", "20", "--store", str(store), "--metrics-port", "0")
    assert result.returncode == 0, result.stderr
    assert "Press Ctrl-C" not in result.stdout
    assert execution_rows(store) == 20
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(metrics_url(result.stdout), timeout=5)


def _hold(port: int) -> socket.socket | None:
    """Bind ``port`` on 127.0.0.1; None when something else already holds it (taken either way)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # As the demo's server does: a TIME_WAIT left by an earlier test's scrape of this port
    # must not make it look taken (a listening socket still keeps everyone else out).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        return None
    sock.listen(1)
    return sock


def _served_port(stdout: str) -> int:
    match = re.search(r"Serving Prometheus metrics at http://127\.0\.0\.1:(\d+)/metrics", stdout)
    assert match is not None, stdout
    return int(match.group(1))


def test_a_taken_default_port_falls_back_to_a_free_one(tmp_path: Path) -> None:
    """With 9464 taken (by the test or anyone) the demo serves elsewhere and says which URL."""
    for _attempt in range(3):
        held = _hold(DEFAULT_METRICS_PORT)
        try:
            result = run_piped("--executions", "5", "--store", str(tmp_path / "demo.db"))
        finally:
            if held is not None:
                held.close()
        if held is not None or "is taken" in result.stdout:
            break
        # 9464 was another process's, freed before the demo started: hold it ourselves.
    assert result.returncode == 0, result.stderr
    assert f"Port {DEFAULT_METRICS_PORT} is taken" in result.stdout
    assert _served_port(result.stdout) not in (DEFAULT_METRICS_PORT, 0)


def test_a_taken_explicit_port_falls_back_to_a_free_one(tmp_path: Path) -> None:
    """--metrics-port naming a held port still runs, on another port it prints."""
    held = _hold(0)
    assert held is not None
    port = held.getsockname()[1]
    try:
        result = run_piped("--executions", "5", "--store", str(tmp_path / "demo.db"),
                           "--metrics-port", str(port))  # fmt: skip
    finally:
        held.close()
    assert result.returncode == 0, result.stderr
    assert f"Port {port} is taken" in result.stdout
    assert _served_port(result.stdout) != port


def test_the_same_seed_gives_the_same_executions_and_failures(tmp_path: Path) -> None:
    """Two runs with one seed store equal per-workflow and per-step status counts."""
    counts = []
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        store = tmp_path / f"{name}.db"
        result = run_piped("--executions", "120", "--seed", seed, "--store", str(store),
                           "--metrics-port", "0")  # fmt: skip
        assert result.returncode == 0, result.stderr
        counts.append(store_counts(store))
    assert counts[0] == counts[1]
    assert any(status != "ok" for _wf, status, _n in counts[0]["executions"])
    assert counts[2] != counts[0]


def test_every_command_printed_without_a_terminal_runs_in_a_fresh_shell(tmp_path: Path) -> None:
    """Each printed command (but the serving one) exits 0 without the venv on PATH."""
    store = tmp_path / "demo.db"
    result = run_piped("--executions", "20", "--store", str(store), "--metrics-port", "0")
    assert result.returncode == 0, result.stderr
    lines = [c for c in printed_commands(result.stdout) if "Ctrl-C" not in c]
    assert any(" stats " in c for c in lines) and any(" report " in c for c in lines)
    failures = []
    for command in lines:
        run = run_in_fresh_shell(command)
        if run.returncode != 0:
            failures.append(f"{command}\n  exit {run.returncode}: {run.stderr[-500:]}")
    assert not failures, "\n".join(failures)
    assert (tmp_path / "otel-workflow-report.html").is_file()
