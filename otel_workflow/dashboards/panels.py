"""What the three dashboards show: panels and their PromQL, as plain data.

Kept free of ``grafana-foundation-sdk`` so ``otel-workflow demo --prometheus`` and the tests
can read every query without the ``dashboards`` extra; :mod:`._build` turns these specs
into Grafana dashboard JSON.

Every panel queries the raw scraped series, so a dashboard shows data as soon as it is
imported, with or without the recording rules of ``collector-config/prometheus/rules/``
(those serve the alerts and make the same aggregations cheap to query ad hoc).  Exemplars
(trace ids) are attached to the scraped bucket series only, which the duration panels read.
Every selector carries ``job=~"$job"``: the ``job`` variable picks the service (Prometheus's
scrape job; ``target_info`` lists the jobs serving otel-workflow metrics).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from otel_workflow import semconv as sc

__all__ = [
    "DASHBOARDS",
    "GRAFANA_BUILTINS",
    "VAR_CATEGORY",
    "VAR_DATASOURCE",
    "VAR_JOB",
    "VAR_STEP",
    "VAR_TRACE_DATASOURCE",
    "VAR_WORKFLOW",
    "DashboardSpec",
    "PanelSpec",
    "Query",
    "RowSpec",
    "all_queries",
    "substitute",
]

VAR_DATASOURCE = "datasource"
VAR_TRACE_DATASOURCE = "trace_datasource"
VAR_JOB = "job"
VAR_WORKFLOW = "workflow"
VAR_STEP = "step"
VAR_CATEGORY = "category"

PanelKind = Literal["timeseries", "stat", "heatmap", "table", "bargauge", "piechart"]
QueryFormat = Literal["time_series", "table", "heatmap"]


@dataclass(frozen=True)
class Query:
    """One PromQL target of a panel."""

    expr: str
    legend: str = ""
    exemplar: bool = False
    instant: bool = False
    format: QueryFormat = "time_series"


@dataclass(frozen=True)
class PanelSpec:
    """One panel: a title, a visualisation and its queries."""

    title: str
    kind: PanelKind
    queries: tuple[Query, ...]
    description: str = ""
    unit: str = "short"
    width: int = 12
    height: int = 8
    trace_links: bool = False  # exemplar data link to the trace datasource


@dataclass(frozen=True)
class RowSpec:
    """A row of panels; ``repeat`` names a variable to repeat the row for."""

    title: str
    panels: tuple[PanelSpec, ...]
    repeat: str | None = None


@dataclass(frozen=True)
class DashboardSpec:
    """A whole dashboard; ``variables`` in the order they appear at its top."""

    uid: str
    file_name: str
    title: str
    description: str
    variables: tuple[str, ...]
    rows: tuple[RowSpec, ...]
    tags: tuple[str, ...] = field(default=("otel-workflow",))


# --- selectors ------------------------------------------------------------------------------
_W = sc.PROM_LABEL_WORKFLOW
_T = sc.PROM_LABEL_WORKFLOW_TYPE
_S = sc.PROM_LABEL_STEP
_ST = sc.PROM_LABEL_STATUS
_ET = sc.PROM_LABEL_ERROR_TYPE
_EC = sc.PROM_LABEL_ERROR_CATEGORY
_WS = f"{_W}, {_S}"

_JOB = f'job=~"${VAR_JOB}"'
_WF = f'{_JOB}, {_W}=~"${VAR_WORKFLOW}"'
_WF_STEP = f'{_WF}, {_S}=~"${VAR_STEP}"'
_WF_STEP_CAT = f'{_WF_STEP}, {_EC}=~"${VAR_CATEGORY}"'
_OK = f', {_ST}="{sc.STATUS_OK}"'
# Error ratios count final failures (status "error"), never `!="ok"`: a step attempt that
# failed and was tried again has status "retried" and is neither a success nor a failure.
_FAILED = f', {_ST}="{sc.STATUS_ERROR}"'
_RETRIED = f', {_ST}="{sc.STATUS_RETRIED}"'
_ENDED = f', {_ST}!="{sc.STATUS_RETRIED}"'
_PERCENTILES = (("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99"))


def _quantile(q: str, bucket: str, selector: str, by: str) -> str:
    return (
        f"histogram_quantile({q}, sum by ({by}, le) "
        f"(rate({bucket}_bucket{{{selector}}}[$__rate_interval])))"
    )


def _percentile_queries(bucket: str, selector: str, by: str, legend: str) -> tuple[Query, ...]:
    # Exemplars on one query only: each query would fetch the same exemplars again.
    return tuple(
        Query(_quantile(q, bucket, selector, by), f"{name} {legend}", exemplar=name == "p99")
        for name, q in _PERCENTILES
    )


_RATE = "[$__rate_interval]"


def _rate(metric: str, selector: str, by: str) -> str:
    return f"sum by ({by}) (rate({metric}{{{selector}}}{_RATE}))"


def _workflow_rate(extra: str = "") -> str:
    return _rate(sc.PROM_WORKFLOW_EXECUTIONS, _WF + extra, f"{_W}, {_T}, {_ST}")


def _error_ratio(by: str) -> str:
    # `or ... * 0`: a workflow without errors shows 0 % rather than no series.
    return (
        f"(sum by ({by}) (rate({sc.PROM_WORKFLOW_EXECUTIONS}{{{_WF}{_FAILED}}}{_RATE})) "
        f"or sum by ({by}) (rate({sc.PROM_WORKFLOW_EXECUTIONS}{{{_WF}}}{_RATE})) * 0) "
        f"/ sum by ({by}) (rate({sc.PROM_WORKFLOW_EXECUTIONS}{{{_WF}}}{_RATE}))"
    )


def _step_errors_rate(selector: str, by: str) -> str:
    return _rate(sc.PROM_STEP_ERRORS, selector, by)


def _step_ratio(part: str, whole: str, by: str) -> str:
    """A share of a step's attempts (``or ... * 0``: a step without any shows 0 %)."""
    step = sc.PROM_STEP_EXECUTIONS
    return (
        f"(sum by ({by}) (rate({step}{{{_WF_STEP}{part}}}{_RATE})) "
        f"or sum by ({by}) (rate({step}{{{_WF_STEP}}}{_RATE})) * 0) "
        f"/ sum by ({by}) (rate({step}{{{_WF_STEP}{whole}}}{_RATE}))"
    )


# --- Workflow overview --------------------------------------------------------------------
_OVERVIEW = DashboardSpec(
    uid="otel-workflow-overview",
    file_name="workflow-overview.json",
    title="Workflow overview",
    description="Executions, success and error rates, duration percentiles and the slowest "
    "and most failing steps of every workflow (otel-workflow).",
    variables=(VAR_DATASOURCE, VAR_TRACE_DATASOURCE, VAR_JOB, VAR_WORKFLOW),
    rows=(
        RowSpec(
            "Traffic",
            (
                PanelSpec(
                    "Executions / s",
                    "stat",
                    (Query(f"sum({_workflow_rate()})"),),
                    unit="ops",
                    width=6,
                    height=4,
                ),
                PanelSpec(
                    "Success rate",
                    "stat",
                    (Query(f"sum({_workflow_rate(_OK)}) / sum({_workflow_rate()})"),),
                    unit="percentunit",
                    width=6,
                    height=4,
                ),
                PanelSpec(
                    "Error rate",
                    "stat",
                    (Query(f"sum({_workflow_rate(_FAILED)}) / sum({_workflow_rate()})"),),
                    unit="percentunit",
                    width=6,
                    height=4,
                ),
                PanelSpec(
                    "Active executions",
                    "stat",
                    (Query(f"sum({sc.PROM_WORKFLOW_ACTIVE}{{{_WF}}})"),),
                    width=6,
                    height=4,
                ),
                PanelSpec(
                    "Executions / s by workflow and status",
                    "timeseries",
                    (
                        Query(
                            f"sum by ({_W}, {_ST}) ({_workflow_rate()})",
                            f"{{{{{_W}}}}} {{{{{_ST}}}}}",
                        ),
                    ),
                    unit="ops",
                ),
                PanelSpec(
                    "Error rate by workflow",
                    "timeseries",
                    (
                        Query(
                            _error_ratio(f"{_W}, {_T}"),
                            f"{{{{{_W}}}}}",
                        ),
                    ),
                    description="Share of executions that ended with status error (5m rate).",
                    unit="percentunit",
                ),
            ),
        ),
        RowSpec(
            "Duration",
            (
                PanelSpec(
                    "Duration p50 / p95 / p99 by workflow",
                    "timeseries",
                    _percentile_queries(sc.PROM_WORKFLOW_DURATION, _WF, _W, f"{{{{{_W}}}}}"),
                    description="Exemplar dots link to the trace of that execution.",
                    unit="s",
                    trace_links=True,
                ),
                PanelSpec(
                    "Active executions by workflow",
                    "timeseries",
                    (
                        Query(
                            f"sum by ({_W}, {_T}) ({sc.PROM_WORKFLOW_ACTIVE}{{{_WF}}})",
                            f"{{{{{_W}}}}}",
                        ),
                    ),
                ),
            ),
        ),
        RowSpec(
            "Steps",
            (
                PanelSpec(
                    "Slowest steps (p95)",
                    "bargauge",
                    (
                        Query(
                            f"topk(10, {_quantile('0.95', sc.PROM_STEP_DURATION, _WF, _WS)})",
                            f"{{{{{_W}}}}} / {{{{{_S}}}}}",
                            instant=True,
                        ),
                    ),
                    unit="s",
                ),
                PanelSpec(
                    "Most failing steps (errors / s)",
                    "bargauge",
                    (
                        Query(
                            f"topk(10, {_step_errors_rate(_WF, _WS)})",
                            f"{{{{{_W}}}}} / {{{{{_S}}}}}",
                            instant=True,
                        ),
                    ),
                    description="Final failures only: an attempt that was retried is not one.",
                    unit="ops",
                    width=6,
                ),
                PanelSpec(
                    "Most retried steps (retried attempts / s)",
                    "bargauge",
                    (
                        Query(
                            f"topk(10, {_rate(sc.PROM_STEP_EXECUTIONS, _WF + _RETRIED, _WS)})",
                            f"{{{{{_W}}}}} / {{{{{_S}}}}}",
                            instant=True,
                        ),
                    ),
                    description="Attempts that failed and were tried again "
                    '(workflow_status="retried"); a step that recovers on retry shows here, '
                    "not among the failing steps.",
                    unit="ops",
                    width=6,
                ),
            ),
        ),
        RowSpec(
            "Process and SDK health",
            (
                PanelSpec(
                    "Process memory",
                    "timeseries",
                    (Query(f"{sc.PROM_PROCESS_MEMORY}{{{_JOB}}}", "{{job}} {{instance}}"),),
                    unit="bytes",
                    width=8,
                ),
                PanelSpec(
                    "Process CPU (cores)",
                    "timeseries",
                    (
                        Query(
                            f"rate({sc.PROM_PROCESS_CPU}{{{_JOB}}}{_RATE})",
                            "{{job}} {{instance}}",
                        ),
                    ),
                    unit="short",
                    width=8,
                ),
                PanelSpec(
                    "SDK errors, dropped spans, label overflow",
                    "timeseries",
                    tuple(
                        # `or vector(0)`: these counters only appear once something went
                        # wrong; a flat zero reads better than "No data".
                        Query(f"sum(rate({name}{{{_JOB}}}{_RATE})) or vector(0)", legend)
                        for name, legend in (
                            (sc.PROM_SELF_ERRORS, "instrumentation errors"),
                            (sc.PROM_SELF_SPANS_DROPPED, "spans dropped"),
                            (sc.PROM_SELF_LABEL_OVERFLOW, "label overflow"),
                        )
                    ),
                    description="The SDK's own health; anything above zero also fires an alert.",
                    unit="ops",
                    width=8,
                ),
            ),
        ),
    ),
)

# --- Step drill-down ------------------------------------------------------------------------
_STEP_ROW = RowSpec(
    f"Step ${VAR_STEP}",
    (
        PanelSpec(
            "Duration distribution",
            "heatmap",
            (
                Query(
                    f"sum by (le) (increase({sc.PROM_STEP_DURATION}_bucket"
                    f"{{{_WF_STEP}}}[$__rate_interval]))",
                    "{{le}}",
                    exemplar=True,
                    format="heatmap",
                ),
            ),
            unit="s",
            trace_links=True,
        ),
        PanelSpec(
            "Duration p50 / p95 / p99",
            "timeseries",
            _percentile_queries(
                sc.PROM_STEP_DURATION, _WF_STEP, _WS, f"{{{{{_W}}}}} / {{{{{_S}}}}}"
            ),
            description="Exemplar dots link to the trace of that step.",
            unit="s",
            trace_links=True,
        ),
        PanelSpec(
            "Executions / s by status",
            "timeseries",
            (
                Query(
                    _rate(sc.PROM_STEP_EXECUTIONS, _WF_STEP, _ST),
                    f"{{{{{_ST}}}}}",
                ),
            ),
            unit="ops",
            width=8,
        ),
        PanelSpec(
            "Failed calls and retried attempts",
            "timeseries",
            (
                Query(_step_ratio(_FAILED, _ENDED, _WS), f"failed calls {{{{{_S}}}}}"),
                Query(_step_ratio(_RETRIED, "", _WS), f"retried attempts {{{{{_S}}}}}"),
            ),
            description="Failed calls: the share of calls whose last attempt failed. "
            "Retried attempts: the share of attempts that failed and were tried again.",
            unit="percentunit",
        ),
        PanelSpec(
            "Errors / s by category",
            "timeseries",
            (
                Query(
                    _step_errors_rate(_WF_STEP, _EC),
                    f"{{{{{_EC}}}}}",
                ),
            ),
            unit="ops",
            width=8,
        ),
        PanelSpec(
            "Errors / s by type",
            "timeseries",
            (
                Query(
                    _step_errors_rate(_WF_STEP, _ET),
                    f"{{{{{_ET}}}}}",
                ),
            ),
            unit="ops",
            width=8,
        ),
        PanelSpec(
            "CPU time per execution",
            "timeseries",
            (
                Query(
                    f"{_rate(sc.PROM_STEP_CPU_TIME + '_sum', _WF_STEP, _WS)} / "
                    f"{_rate(sc.PROM_STEP_CPU_TIME + '_count', _WF_STEP, _WS)}",
                    f"mean {{{{{_W}}}}} / {{{{{_S}}}}}",
                ),
                Query(
                    _quantile("0.95", sc.PROM_STEP_CPU_TIME, _WF_STEP, _WS),
                    f"p95 {{{{{_W}}}}} / {{{{{_S}}}}}",
                ),
            ),
            description="Thread CPU time the step body used; compare with its duration "
            "to tell CPU-bound from waiting steps.",
            unit="s",
        ),
        PanelSpec(
            "CPU seconds / s",
            "timeseries",
            (
                Query(
                    _rate(sc.PROM_STEP_CPU_TIME + "_sum", _WF_STEP, _WS),
                    f"{{{{{_W}}}}} / {{{{{_S}}}}}",
                ),
            ),
            description="CPU cores this step keeps busy across all executions.",
        ),
    ),
    repeat=VAR_STEP,
)

_STEPS = DashboardSpec(
    uid="otel-workflow-steps",
    file_name="step-drill-down.json",
    title="Step drill-down",
    description="Per step: duration heatmap and percentiles (with trace exemplars), "
    "errors by category and type, CPU time (otel-workflow).",
    variables=(VAR_DATASOURCE, VAR_TRACE_DATASOURCE, VAR_JOB, VAR_WORKFLOW, VAR_STEP),
    rows=(_STEP_ROW,),
)

# --- Errors -------------------------------------------------------------------------------
_ERRORS = DashboardSpec(
    uid="otel-workflow-errors",
    file_name="errors.json",
    title="Errors",
    description="Step errors by category and type over time, failing executions and the "
    "top failing steps (otel-workflow).",
    variables=(VAR_DATASOURCE, VAR_JOB, VAR_WORKFLOW, VAR_STEP, VAR_CATEGORY),
    rows=(
        RowSpec(
            "Over time",
            (
                PanelSpec(
                    "Step errors / s by category",
                    "timeseries",
                    (
                        Query(
                            _step_errors_rate(_WF_STEP_CAT, _EC),
                            f"{{{{{_EC}}}}}",
                        ),
                    ),
                    unit="ops",
                ),
                PanelSpec(
                    "Step errors / s by type",
                    "timeseries",
                    (
                        Query(
                            _step_errors_rate(_WF_STEP_CAT, _ET),
                            f"{{{{{_ET}}}}}",
                        ),
                    ),
                    unit="ops",
                ),
                PanelSpec(
                    "Failed executions / s by workflow",
                    "timeseries",
                    (
                        Query(
                            f"sum by ({_W}) ({_workflow_rate(_FAILED)})",
                            f"{{{{{_W}}}}}",
                        ),
                    ),
                    unit="ops",
                ),
                PanelSpec(
                    "Error rate by workflow",
                    "timeseries",
                    (
                        Query(
                            _error_ratio(f"{_W}, {_T}"),
                            f"{{{{{_W}}}}}",
                        ),
                    ),
                    unit="percentunit",
                ),
            ),
        ),
        RowSpec(
            "In the selected time range",
            (
                PanelSpec(
                    "Errors by category",
                    "piechart",
                    (
                        Query(
                            f"sum by ({_EC}) (increase({sc.PROM_STEP_ERRORS}"
                            f"{{{_WF_STEP_CAT}}}[$__range]))",
                            f"{{{{{_EC}}}}}",
                            instant=True,
                        ),
                    ),
                    width=8,
                ),
                PanelSpec(
                    "Top failing steps",
                    "table",
                    (
                        Query(
                            f"topk(20, sum by ({_W}, {_S}, {_EC}, {_ET}) "
                            f"(increase({sc.PROM_STEP_ERRORS}{{{_WF_STEP_CAT}}}[$__range])))",
                            instant=True,
                            format="table",
                        ),
                    ),
                    description="Errors per step, category and type over the time range.",
                    width=16,
                ),
            ),
        ),
    ),
)

DASHBOARDS: tuple[DashboardSpec, ...] = (_OVERVIEW, _STEPS, _ERRORS)
"""The dashboards, in the order they are written."""


def all_queries() -> list[tuple[DashboardSpec, PanelSpec, Query]]:
    """Every (dashboard, panel, query) triple, in dashboard order."""
    return [
        (dash, panel, query)
        for dash in DASHBOARDS
        for row in dash.rows
        for panel in row.panels
        for query in panel.queries
    ]


GRAFANA_BUILTINS: Mapping[str, str] = {
    "$__rate_interval": "1m",
    "$__range": "15m",
    "$__interval": "5s",
}
"""Values for Grafana's built-in variables when a query runs outside Grafana."""

_ALL_VALUES = (VAR_JOB, VAR_WORKFLOW, VAR_STEP, VAR_CATEGORY)


def substitute(
    expr: str,
    values: Mapping[str, str] | None = None,
    builtins: Mapping[str, str] = GRAFANA_BUILTINS,
) -> str:
    """``expr`` with dashboard variables replaced, as Grafana would before querying.

    ``values`` maps variable names to regex values; variables not in it get ``.*``
    (Grafana's "All" with the dashboards' ``allValue``).  Raises ValueError if a ``$``
    variable is left.

    >>> substitute('rate(x{workflow_name=~"$workflow"}[$__rate_interval])')
    'rate(x{workflow_name=~".*"}[1m])'
    """
    chosen = dict.fromkeys(_ALL_VALUES, ".*")
    chosen.update(values or {})
    for name, value in builtins.items():
        expr = expr.replace(name, value)
    for name, value in chosen.items():
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    if "$" in expr:
        raise ValueError(f"unsubstituted variable left in {expr!r}")
    return expr
