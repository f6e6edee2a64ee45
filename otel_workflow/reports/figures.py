"""The report's charts, built from :class:`~otel_workflow.reports.data.ReportData`.

Each chart is a :class:`Chart` with SVG text, or without it and a note saying why (no data
in the range); the HTML and markdown pages place them.  Drawing needs matplotlib (the
``report`` extra), imported only when charts are built.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from types import ModuleType

from otel_workflow.analytics.models import TrendPoint, WorkflowStats
from otel_workflow.reports.data import ReportData
from otel_workflow.reports.units import format_interval

_MAX_DURATION_ROWS = 15

_Points = list[tuple[datetime, float | None]]


@dataclasses.dataclass(frozen=True)
class Chart:
    """One chart: a file-name-safe ``key``, a title, and SVG text (or None with no data)."""

    key: str
    title: str
    svg: str | None
    note: str = ""


def chart_titles(data: ReportData) -> dict[str, str]:
    """Chart key -> title; the keys are also the markdown report's file names."""
    every = format_interval(data.interval)
    return {
        "throughput": f"Throughput (executions per minute, {every} buckets)",
        "error-rate": f"Error rate (% of executions, {every} buckets)",
        "durations": "Duration percentiles per workflow",
        "slowest-steps": "Slowest steps (p95)",
        "error-categories": "Failed steps by error category",
    }


def build_charts(data: ReportData) -> list[Chart]:
    """The report's charts (SVG), or placeholders saying why a chart is absent."""
    titles = chart_titles(data)
    if not data.workflows:
        return [Chart(key, title, None, "No executions in this range.") for key, title in
                titles.items()]  # fmt: skip
    from otel_workflow.reports import charts

    xlim = _trend_limits(data)
    throughput = _throughput_series(data.throughput)
    # One colour per workflow (and for the total) on every chart of the report.
    colours = charts.series_colours([*(w.workflow for w in data.workflows), *throughput])
    result = [
        _trend(charts, "throughput", titles["throughput"], throughput,
               "executions per minute", xlim, colours, percent=False),
        _trend(charts, "error-rate", titles["error-rate"],
               {charts.TOTAL: [(_middle(p), p.value) for p in data.error_rate]}, "error rate",
               xlim, colours, percent=True),
    ]  # fmt: skip
    timed = [w for w in data.workflows if w.p50 is not None]
    if len(timed) > _MAX_DURATION_ROWS:
        # A bar group per workflow stops being readable; the table still lists them all.
        timed = sorted(timed, key=lambda w: -(w.p95 or 0.0))[:_MAX_DURATION_ROWS]
        titles["durations"] += f" ({_MAX_DURATION_ROWS} slowest by p95)"
    rows = [
        (_workflow_label(w), {"p50": w.p50, "p95": w.p95, "p99": w.p99, "max": w.max})
        for w in timed
    ]
    result.append(_bars(charts, "durations", titles["durations"], rows))
    step_rows = [
        (f"{s.workflow} \u203a {s.step}", {"p50": s.p50, "p95": s.p95}) for s in data.slowest_steps
    ]
    result.append(_bars(charts, "slowest-steps", titles["slowest-steps"], step_rows))
    categories = [(name, {"failed steps": float(n)}) for name, n in data.errors_by_category()]
    if categories:
        svg = charts.horizontal_bar_chart(
            categories, title=titles["error-categories"], xlabel="failed steps",
            salt="error-categories",
        )  # fmt: skip
        result.append(Chart("error-categories", titles["error-categories"], svg))
    else:
        result.append(
            Chart("error-categories", titles["error-categories"], None, "No failed steps.")
        )
    return result


def _trend_limits(data: ReportData) -> tuple[datetime, datetime] | None:
    # The buckets drawn, edge to edge: the trend covers where the data is, not the whole
    # window, so a short run is not squeezed against one end of an empty axis.
    points = data.throughput or data.error_rate
    if points:
        return min(p.start for p in points), max(p.end for p in points)
    window = data.trend_window or data.window
    if window.since is not None and window.until is not None:
        return window.since, window.until
    return None


def _trend(
    charts: ModuleType, key: str, title: str, series: dict[str, _Points], ylabel: str,
    xlim: tuple[datetime, datetime] | None, colours: dict[str, str], *, percent: bool,
) -> Chart:  # fmt: skip
    if not any(value is not None for points in series.values() for _, value in points):
        # e.g. Prometheus before two scrapes have happened: nothing to draw yet.
        return Chart(key, title, None, "No data points in this range yet.")
    svg = charts.time_series_chart(
        series, title=title, ylabel=ylabel, percent=percent, xlim=xlim, salt=key,
        colours=colours,
    )  # fmt: skip
    return Chart(key, title, svg)


def _bars(
    charts: ModuleType, key: str, title: str, rows: list[tuple[str, dict[str, float | None]]]
) -> Chart:
    if not rows:
        return Chart(key, title, None, "No durations in this range.")
    svg = charts.horizontal_bar_chart(
        rows, title=title, xlabel="duration (log scale)", log=True, salt=key
    )
    return Chart(key, title, svg)


def _middle(point: TrendPoint) -> datetime:
    # A bucket's value is drawn at its middle, so the line spans the axis' buckets evenly.
    return point.start + (point.end - point.start) / 2


def _throughput_series(points: Sequence[TrendPoint]) -> dict[str, _Points]:
    series: dict[str, _Points] = defaultdict(list)
    totals: dict[datetime, float] = defaultdict(float)
    per_workflow = any(p.workflow is not None for p in points)
    for p in points:
        series[p.workflow if p.workflow is not None else "all"].append((_middle(p), p.value))
        totals[_middle(p)] += p.value or 0.0
    if per_workflow:  # throughput adds up, so the total line costs no extra query
        series["all"] = [(start, total) for start, total in sorted(totals.items())]
    return dict(series)


def _workflow_label(w: WorkflowStats) -> str:
    return (
        w.workflow
        if not w.workflow_type or w.workflow_type == w.workflow
        else (f"{w.workflow} ({w.workflow_type})")
    )


__all__ = ["Chart", "build_charts", "chart_titles"]
