"""Every shell command the README shows for otel-workflow runs as written."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from otel_workflow.demo.options import DEFAULT_METRICS_PORT
from tests.demo._run import REPO, run_piped

pytestmark = pytest.mark.integration

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SPAN = re.compile(r"`([^`\n]+(?:\n[^`\n]+)?)`")
_PREFIXES = ("otel-workflow ", ".venv/bin/otel-workflow ", "curl 127.0.0.1")


def readme_commands(text: str) -> list[str]:
    """Commands in sh blocks and inline code that start like an otel-workflow or curl call."""
    commands = []
    for lang, body in _FENCE.findall(text):
        if lang in ("sh", "bash", "console"):
            commands += [line.split("  #")[0].strip() for line in body.splitlines()]
    prose = _FENCE.sub("", text)
    commands += [" ".join(span.split()) for span in _SPAN.findall(prose)]
    return [c for c in commands if c.startswith(_PREFIXES) and "..." not in c]


def test_the_readme_shows_cli_and_curl_commands() -> None:
    """The extraction finds the README's stats, report and curl lines (so the checks below run)."""
    commands = readme_commands((REPO / "README.md").read_text(encoding="utf-8"))
    assert any(" stats " in c for c in commands) and any(" report " in c for c in commands)
    assert any(c.startswith("curl ") for c in commands)


def test_the_readme_curl_uses_the_demo_port() -> None:
    """Each README curl goes to 127.0.0.1 on the port make demo serves by default."""
    commands = readme_commands((REPO / "README.md").read_text(encoding="utf-8"))
    for command in (c for c in commands if c.startswith("curl ")):
        assert f"127.0.0.1:{DEFAULT_METRICS_PORT}/metrics" in command


def test_each_readme_cli_command_runs_against_a_demo_store(tmp_path: Path) -> None:
    """Each README otel-workflow command exits 0 in a directory holding the demo's default store."""
    demo = run_piped("--executions", "20", "--metrics-port", "0", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "otel-workflow.db").is_file()  # the default store, as the CLI's
    from otel_workflow.cli import build_parser

    subcommands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    failures = []
    for command in readme_commands((REPO / "README.md").read_text(encoding="utf-8")):
        if command.startswith("curl "):
            continue
        words = shlex.split(command)[1:]
        assert words and words[0] in subcommands, command
        if len(words) == 1:
            continue  # a bare reference to a command; that it exists is checked above
        if words[0] == "demo":  # a short, non-serving run of the same command line
            if "--prometheus" in words:
                continue  # tests/dashboards/test_demo_command.py runs it with Prometheus
            words += ["--executions", "3", "--metrics-port", "0", "--no-serve"]
        result = subprocess.run([sys.executable, "-m", "otel_workflow.cli", *words],
                                cwd=tmp_path, capture_output=True, text=True, timeout=300,
                                check=False)  # fmt: skip
        if result.returncode != 0:
            failures.append(f"{command}: exit {result.returncode}\n{result.stderr[-400:]}")
    assert not failures, "\n".join(failures)
