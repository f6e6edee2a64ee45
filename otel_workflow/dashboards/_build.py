"""Turn the panel specs of :mod:`.panels` into Grafana dashboard JSON.

Needs ``grafana-foundation-sdk`` (the ``dashboards`` extra); everything else in
:mod:`otel_workflow.dashboards` imports without it.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import bargauge, heatmap, piechart, stat, table, timeseries
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    DashboardLink,
    DatasourceVariable,
    QueryVariable,
    Row,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery as PrometheusQuery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueGraphMode,
    DataSourceRef,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.heatmap import HeatmapColorMode
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from otel_workflow import semconv as sc
from otel_workflow.dashboards.panels import (
    VAR_CATEGORY,
    VAR_DATASOURCE,
    VAR_JOB,
    VAR_STEP,
    VAR_TRACE_DATASOURCE,
    VAR_WORKFLOW,
    DashboardSpec,
    PanelSpec,
    Query,
)

__all__ = ["TRACE_DATASOURCE_TYPES", "build_dashboard", "render_dashboard"]

# Builders are typed `Any` here: the SDK's fluent methods return `typing.Self` and its enums
# derive from `enum.StrEnum` (Python 3.11), which mypy's 3.10 target cannot see.

TRACE_DATASOURCE_TYPES = ("tempo", "jaeger")
"""Grafana plugin ids the trace datasource variable may list."""

_PROMETHEUS = DataSourceRef(type_val="prometheus", uid=f"${{{VAR_DATASOURCE}}}")
_ALL = ".*"  # "All" matches every value, including ones that appear after the page loaded

# Exemplar click-through: Explore on the selected trace datasource, looking the trace id up.
# Tempo and Jaeger both take a trace id as the query text.
_TRACE_DS = "${" + VAR_TRACE_DATASOURCE + "}"
_TRACE_LINK = (
    '/explore?schemaVersion=1&panes={"trace":{"datasource":"' + _TRACE_DS + '","queries":'
    '[{"refId":"A","datasource":{"uid":"' + _TRACE_DS + '"},'
    '"query":"${__data.fields.trace_id}"}],"range":{"from":"now-1h","to":"now"}}}'
)

_INTERVAL_ONLY_KEYS = ("auto", "auto_count", "auto_min")

_FORMATS = {
    "time_series": PromQueryFormat.TIME_SERIES,
    "table": PromQueryFormat.TABLE,
    "heatmap": PromQueryFormat.HEATMAP,
}


def _label_values(metric: str, label: str, selector: str = "") -> str:
    return f"label_values({metric}{selector}, {label})"


def _query_variable(name: str, label: str, query: str) -> Any:
    return (
        QueryVariable(name)
        .label(label)
        .query(query)
        .datasource(_PROMETHEUS)
        .multi(True)
        .include_all(True)
        .all_value(_ALL)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )


def _variable(name: str, trace_type: str) -> Any:
    job_selector = f'{{job=~"${VAR_JOB}"}}'
    workflow_selector = f'{{job=~"${VAR_JOB}", {sc.PROM_LABEL_WORKFLOW}=~"${VAR_WORKFLOW}"}}'
    if name == VAR_DATASOURCE:
        return DatasourceVariable(name).label("Prometheus").type("prometheus")
    if name == VAR_TRACE_DATASOURCE:
        return DatasourceVariable(name).label("Traces").type(trace_type)
    if name == VAR_JOB:
        # target_info: one series per scraped otel-workflow endpoint, labelled by job.
        return _query_variable(name, "Service (job)", _label_values("target_info", "job"))
    if name == VAR_WORKFLOW:
        return _query_variable(
            name,
            "Workflow",
            _label_values(sc.PROM_WORKFLOW_EXECUTIONS, sc.PROM_LABEL_WORKFLOW, job_selector),
        )
    if name == VAR_STEP:
        return _query_variable(
            name,
            "Step",
            _label_values(sc.PROM_STEP_EXECUTIONS, sc.PROM_LABEL_STEP, workflow_selector),
        )
    if name == VAR_CATEGORY:
        return _query_variable(
            name,
            "Error category",
            _label_values(sc.PROM_STEP_ERRORS, sc.PROM_LABEL_ERROR_CATEGORY, workflow_selector),
        )
    raise ValueError(f"unknown dashboard variable {name!r}")


def _target(query: Query, ref_id: str) -> Any:
    target = (
        PrometheusQuery()
        .ref_id(ref_id)
        .datasource(_PROMETHEUS)
        .expr(query.expr)
        .format(_FORMATS[query.format])
        .exemplar(query.exemplar)
    )
    if query.legend:
        target = target.legend_format(query.legend)
    return target.instant() if query.instant else target.range()


def _panel_builder(spec: PanelSpec) -> Any:
    if spec.kind == "timeseries":
        return timeseries.Panel().fill_opacity(10).line_width(1)
    if spec.kind == "stat":
        return stat.Panel().graph_mode(BigValueGraphMode("area"))
    if spec.kind == "heatmap":
        return (
            heatmap.Panel()
            .calculate(False)
            .color(
                heatmap.HeatmapColorOptions()
                .mode(HeatmapColorMode("scheme"))
                .scheme("Oranges")
                .steps(64)
                .exponent(0.5)
                .fill("dark-orange")
            )
            .y_axis(heatmap.YAxisConfig().unit(spec.unit))
            .exemplars_color("rgba(255,0,255,0.7)")
        )
    if spec.kind == "table":
        return table.Panel()
    if spec.kind == "bargauge":
        return (
            bargauge.Panel()
            .orientation(VizOrientation("horizontal"))
            .display_mode(BarGaugeDisplayMode("gradient"))
        )
    if spec.kind == "piechart":
        return piechart.Panel()
    raise ValueError(f"unknown panel kind {spec.kind!r}")


def _panel(spec: PanelSpec, panel_id: int) -> Any:
    panel = (
        _panel_builder(spec)
        .id(panel_id)
        .title(spec.title)
        .datasource(_PROMETHEUS)
        .unit(spec.unit)
        .span(spec.width)
        .height(spec.height)
    )
    if spec.description:
        panel = panel.description(spec.description)
    if spec.trace_links:
        panel = panel.data_links([DashboardLink("View trace").url(_TRACE_LINK).target_blank(True)])
    for index, query in enumerate(spec.queries):
        panel = panel.with_target(_target(query, chr(ord("A") + index)))
    return panel


def build_dashboard(spec: DashboardSpec, trace_type: str = "tempo") -> Any:
    """The foundation-SDK ``Dashboard`` builder for one dashboard spec."""
    if trace_type not in TRACE_DATASOURCE_TYPES:
        raise ValueError(f"trace_type must be one of {TRACE_DATASOURCE_TYPES}, got {trace_type!r}")
    dashboard = (
        Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(list(spec.tags))
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
    )
    for name in spec.variables:
        dashboard = dashboard.with_variable(_variable(name, trace_type))
    panel_id = 0
    for row in spec.rows:
        panel_id += 1
        row_builder = Row(row.title).id(panel_id)
        if row.repeat is not None:
            row_builder = row_builder.repeat(row.repeat)
        dashboard = dashboard.with_row(row_builder)
        for panel in row.panels:
            panel_id += 1
            dashboard = dashboard.with_panel(_panel(panel, panel_id))
    return dashboard


def render_dashboard(spec: DashboardSpec, trace_type: str = "tempo") -> str:
    """The dashboard as deterministic JSON text (sorted keys, trailing newline)."""
    model = build_dashboard(spec, trace_type).build()
    # Round-trip through plain JSON so the key order is sorted at every depth.
    data = json.loads(json.dumps(model, cls=JSONEncoder))
    for variable in data.get("templating", {}).get("list", []):
        if variable.get("type") != "interval":
            # The SDK writes the interval-variable defaults on every variable; Grafana's
            # dashboard schema (grafana-dashboards/schema/) has no such keys elsewhere.
            for key in _INTERVAL_ONLY_KEYS:
                variable.pop(key, None)
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
