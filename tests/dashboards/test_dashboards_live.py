"""Every dashboard query returns data from a real Prometheus that scraped a real workload.

One module-wide set-up: the instrumented workload of ``tests.support.workload`` runs in a
subprocess serving ``/metrics`` (``ow.configure(metrics_port=0)``); a real ``prometheus``
process scrapes it every second with NO rules loaded: every panel reads raw series, so a
dashboard shows data as soon as it is imported (the rules only make the same queries cheap).
Each panel target of the committed JSON is then run with its template variables
substituted, both with "All" (``.*``) and with one concrete value per variable.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from otel_workflow._polling import wait_until
from otel_workflow.dashboards.panels import substitute
from tests.dashboards._paths import DASHBOARD_DIR, REPO
from tests.support.prometheus import PrometheusProcess, PrometheusStarter, prometheus_factory
from tests.support.workload import read_metrics_port, start_workload

pytestmark = pytest.mark.integration

# One concrete value per dashboard variable, all produced by the workload.
_CONCRETE = {"job": "otel-workflow", "workflow": "checkout", "step": "charge",
             "category": "timeout"}  # fmt: skip


def _targets() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                found.append((dashboard["title"], panel["title"], target))
    return found


_ALL_TARGETS = _targets()


def _substitute(expr: str, values: dict[str, str]) -> str:
    return substitute(expr, values)


def _has_value(result: list[dict[str, Any]]) -> bool:
    for series in result:
        samples = series.get("values") or [series.get("value")]
        if any(s is not None and s[1] not in ("NaN", "+Inf", "-Inf") for s in samples):
            return True
    return False


@pytest.fixture(scope="module")
def prometheus_with_data(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PrometheusProcess]:
    """A real Prometheus scraping the running workload, without the recording rules."""
    import otel_workflow

    if not hasattr(otel_workflow, "configure"):
        pytest.skip("otel_workflow.configure (the core SDK) is not available yet")
    with prometheus_factory(tmp_path_factory) as start:
        starter: PrometheusStarter = start
        workload = start_workload(cwd=str(REPO))
        try:
            port = read_metrics_port(workload)
            prom = starter([f"127.0.0.1:{port}"])
            # Rates need two scrapes with errors in them.
            prom.wait_for_scrape(scrapes=3)
            yield prom
        finally:
            assert workload.stdin is not None
            workload.stdin.close()
            workload.wait(30)


def _query_until_data(prom: PrometheusProcess, expr: str, instant: bool) -> list[Any]:
    last: list[list[Any]] = [[]]

    def with_data() -> list[Any] | None:
        if instant:
            last[0] = prom.query(expr)
        else:
            now = time.time()
            last[0] = prom.query_range(expr, now - 120, now, step=1)
        return last[0] if _has_value(last[0]) else None

    try:
        return wait_until(with_data, 60, interval=0.1)
    except TimeoutError:
        return last[0]  # the caller's assertion reports what the query returned


@pytest.mark.parametrize("variables", ["all", "concrete"])
@pytest.mark.parametrize(
    "target",
    [t[2] for t in _ALL_TARGETS],
    ids=[f"{d}/{p}/{t['refId']}" for d, p, t in _ALL_TARGETS],
)
def test_panel_query_returns_data(
    prometheus_with_data: PrometheusProcess, target: dict[str, Any], variables: str
) -> None:
    """The panel target, with its variables substituted, returns at least one real value."""
    values = dict.fromkeys(_CONCRETE, ".*") if variables == "all" else dict(_CONCRETE)
    expr = _substitute(target["expr"], values)
    result = _query_until_data(prometheus_with_data, expr, bool(target.get("instant")))
    assert _has_value(result), f"no data for {expr}: {result!r}"


def test_exemplar_queries_return_trace_ids(prometheus_with_data: PrometheusProcess) -> None:
    """Targets that ask for exemplars get exemplars carrying a trace id from Prometheus."""
    exemplar_targets = [t for _, _, t in _ALL_TARGETS if t.get("exemplar")]
    assert exemplar_targets
    for target in exemplar_targets:
        expr = _substitute(target["expr"], dict.fromkeys(_CONCRETE, ".*"))
        groups = prometheus_with_data.wait_for_exemplars(expr)
        labels = [e["labels"] for g in groups for e in g["exemplars"]]
        assert labels, f"no exemplars for {expr}"
        assert all(re.fullmatch(r"[0-9a-f]{32}", lab.get("trace_id", "")) for lab in labels)


@pytest.mark.parametrize("path", sorted(DASHBOARD_DIR.glob("*.json")), ids=lambda p: p.name)
def test_variable_queries_return_values(prometheus_with_data: PrometheusProcess, path: Any) -> None:
    """Each label_values() variable query lists the values the workload produced."""
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    checked = 0
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.*), (\w+)\)", variable["query"])
        assert match, variable["query"]
        selector = _substitute(match.group(1), dict.fromkeys(_CONCRETE, ".*"))
        result = prometheus_with_data.wait_for(
            f"count by ({match.group(2)}) ({selector})", bool, timeout=60
        )
        names = {r["metric"].get(match.group(2)) for r in result}
        assert _CONCRETE[variable["name"]] in names
        checked += 1
    assert checked >= 1
