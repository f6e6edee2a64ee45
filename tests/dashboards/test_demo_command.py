"""``otel-workflow demo --prometheus``: a local Prometheus, the workload, and the report."""

from __future__ import annotations

import os
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
