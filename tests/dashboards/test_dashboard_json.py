"""The committed dashboard JSON: generated, schema-valid, and wired to the right names."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from otel_workflow import semconv as sc
from otel_workflow.dashboards import DASHBOARDS
from tests.dashboards._paths import DASHBOARD_DIR, SCHEMA


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DASHBOARD_DIR / name).read_text(encoding="utf-8"))
    return data


def _targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for p in dashboard["panels"] for t in p.get("targets", [])]


def test_committed_json_matches_the_generator() -> None:
    """Every committed dashboard file equals what the generator writes now."""
    pytest.importorskip("grafana_foundation_sdk", reason="grafana-foundation-sdk not installed")
    from otel_workflow.dashboards import render_all

    rendered = render_all()
    committed = {p.name: p.read_text(encoding="utf-8") for p in DASHBOARD_DIR.glob("*.json")}
    assert rendered == committed, "run: python -m otel_workflow.dashboards"


def test_generator_output_is_deterministic() -> None:
    """Two renders give byte-identical JSON."""
    pytest.importorskip("grafana_foundation_sdk", reason="grafana-foundation-sdk not installed")
    from otel_workflow.dashboards import render_all

    assert render_all() == render_all()


@pytest.mark.parametrize("spec", DASHBOARDS, ids=lambda s: s.file_name)
def test_dashboard_validates_against_grafana_schema(spec: Any) -> None:
    """The dashboard is valid under the JSON Schema generated from @grafana/schema."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(_load(spec.file_name))
    ]
    assert errors == []


def test_schema_rejects_a_broken_dashboard() -> None:
    """The schema is strict enough to catch a misspelt panel field."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = _load(DASHBOARDS[0].file_name)
    broken["panels"][1]["gridPosition"] = broken["panels"][1].pop("gridPos")
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_uids_are_stable_and_unique() -> None:
    """Each dashboard has its fixed uid and the three uids differ."""
    uids = [_load(s.file_name)["uid"] for s in DASHBOARDS]
    assert uids == ["otel-workflow-overview", "otel-workflow-steps", "otel-workflow-errors"]


@pytest.mark.parametrize("spec", DASHBOARDS, ids=lambda s: s.file_name)
def test_template_variables(spec: Any) -> None:
    """Each dashboard carries its datasource and filter variables, queried by label_values."""
    variables = {v["name"]: v for v in _load(spec.file_name)["templating"]["list"]}
    assert list(variables) == list(spec.variables)
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["workflow"]["query"].startswith(f"label_values({sc.PROM_WORKFLOW_EXECUTIONS}")
    assert variables["job"]["query"] == "label_values(target_info, job)"
    if "trace_datasource" in variables:
        assert variables["trace_datasource"]["query"] in ("tempo", "jaeger")


@pytest.mark.parametrize("spec", DASHBOARDS, ids=lambda s: s.file_name)
def test_every_query_uses_the_datasource_variable(spec: Any) -> None:
    """Panels and targets point at ${datasource}, never at a fixed datasource uid."""
    dashboard = _load(spec.file_name)
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    for target in _targets(dashboard):
        assert target["datasource"]["uid"] == "${datasource}"


def test_queries_only_name_known_metrics() -> None:
    """Every metric name in a query is a scraped PROM_* name, never a recorded series."""
    known = {
        value
        for name, value in vars(sc).items()
        if name.startswith("PROM_")
        and not name.startswith(("PROM_LABEL", "PROM_RULE_"))
        and isinstance(value, str)
    }
    for spec in DASHBOARDS:
        for target in _targets(_load(spec.file_name)):
            metrics = _metric_names(target["expr"])
            assert metrics, target["expr"]
            for token in metrics:
                base = re.sub(r"_(bucket|sum|count)$", "", token)
                assert token in known or base in known, (token, target["expr"])


def _metric_names(expr: str) -> set[str]:
    # Drop label matchers, grouping clauses and range selectors; what is left that is not
    # a function call, a keyword or a number is a metric name.
    stripped = re.sub(r"\{[^}]*\}|\[[^\]]*\]|by \([^)]*\)", " ", expr)
    names = re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?!\w|\s*\()", stripped)
    return {n for n in names if n not in {"by", "or", "and", "unless", "without"}}


def test_duration_panels_carry_exemplars_and_trace_links() -> None:
    """Duration panels ask for exemplars and link them to the trace datasource."""
    titles = []
    for spec in DASHBOARDS:
        for panel in _load(spec.file_name)["panels"]:
            if any(t.get("exemplar") for t in panel.get("targets", [])):
                titles.append(panel["title"])
                links = panel["fieldConfig"]["defaults"]["links"]
                assert "${trace_datasource}" in links[0]["url"]
                assert "${__data.fields.trace_id}" in links[0]["url"]
    assert "Duration p50 / p95 / p99 by workflow" in titles
    assert "Duration distribution" in titles


def test_step_rows_repeat_per_step() -> None:
    """The step drill-down repeats its row for each selected step."""
    rows = [p for p in _load("step-drill-down.json")["panels"] if p["type"] == "row"]
    assert [r.get("repeat") for r in rows] == ["step"]


def test_dashboards_package_imports_without_the_sdk() -> None:
    """otel_workflow.dashboards and its panel specs import without grafana-foundation-sdk."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['grafana_foundation_sdk'] = None\n"
        "import otel_workflow.dashboards as d\n"
        "assert d.DASHBOARDS\n"
        "try:\n"
        "    d.render_all()\n"
        "except ModuleNotFoundError as e:\n"
        "    assert 'otel-workflow[dashboards]' in str(e), e\n"
        "else:\n"
        "    raise AssertionError('render_all worked without the SDK')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("spec", DASHBOARDS, ids=lambda s: s.file_name)
def test_every_query_filters_by_job(spec: Any) -> None:
    """Every selector of every panel query carries the job (service) variable."""
    for target in _targets(_load(spec.file_name)):
        selectors = re.findall(r"\{[^}]*\}", target["expr"])
        assert selectors, target["expr"]
        for selector in selectors:
            assert 'job=~"$job"' in selector, target["expr"]
