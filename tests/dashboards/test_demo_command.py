"""``otel-workflow demo --prometheus``: a local Prometheus, the workload, and the report."""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from otel_workflow.dashboards.panels import all_queries
from tests.dashboards._paths import REPO
from tests.support.prometheus import require_prometheus


def _demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_workflow.cli", "demo", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


@pytest.mark.integration
def test_demo_prints_percentiles_and_a_graph_link_per_dashboard_query() -> None:
    """The demo reports p50/p95/p99 per workflow and one graph link per dashboard query."""
    require_prometheus()
    result = _demo("--prometheus", "--executions", "60", "--no-serve")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    percentiles = out.split("Workflow duration percentiles", 1)[1].split("==", 1)[0]
    assert "p50" in percentiles and "p99" in percentiles
    assert "checkout" in percentiles and " ms" in percentiles
    links = [line.strip() for line in out.splitlines() if "/graph?g0.expr=" in line]
    assert len(links) == len(all_queries())
    assert all(link.startswith("http://127.0.0.1:") for link in links)
    assert "no data" not in out


def test_demo_without_prometheus_binary_says_what_is_missing(tmp_path: Path) -> None:
    """Without a prometheus binary on PATH the demo exits 1 naming the package to install."""
    env = dict(os.environ, PATH=str(tmp_path))
    result = _demo("--prometheus", "--executions", "1", "--no-serve", env=env)
    assert result.returncode == 1
    assert "prometheus" in result.stderr and "apt-get install prometheus" in result.stderr


def test_demo_rejects_a_non_positive_execution_count() -> None:
    """--executions 0 is a usage error naming the problem."""
    result = _demo("--executions", "0")
    assert result.returncode == 2
    assert "positive integer" in result.stderr


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {o for action in parser._actions for o in action.option_strings}


def test_demo_subcommand_takes_every_option_of_the_demo_module() -> None:
    """`otel-workflow demo` accepts each option of `python -m otel_workflow.demo`, plus its own."""
    from otel_workflow.cli import _build
    from otel_workflow.demo import build_parser

    module_options = _option_strings(build_parser())
    subcommand = _option_strings(_build()[1]["demo"])
    assert {"--metrics-port", "--store", "--executions", "--seed", "--serve"} <= module_options
    assert module_options <= subcommand
    assert "--prometheus" in subcommand


def test_demo_help_is_plain_text() -> None:
    """`otel-workflow demo --help` shows no reST markup and names the shared options."""
    result = _demo("--help")
    assert result.returncode == 0, result.stderr
    for markup in ("``", ":mod:", ":func:", "::"):
        assert markup not in result.stdout
    for option in ("--metrics-port", "--store", "--executions", "--seed", "--serve"):
        assert option in result.stdout


def test_demo_subcommand_passes_its_options_to_the_demo(tmp_path: Path) -> None:
    """--store, --executions and --metrics-port given to `otel-workflow demo` reach the demo."""
    store = tmp_path / "sub.db"
    result = _demo("--executions", "7", "--store", str(store), "--metrics-port", "0",
                   "--no-serve")  # fmt: skip
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*) FROM executions").fetchone() == (7,)
