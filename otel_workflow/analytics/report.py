"""Reports with charts: a self-contained HTML file, or markdown with its charts beside it.

>>> eng = AnalyticsEngine.from_store("otel-workflow.db")           # doctest: +SKIP
>>> eng.report("report.html", since="24h")                          # doctest: +SKIP
>>> render_report(eng, "report.md", since="7d", format="markdown")  # doctest: +SKIP

**HTML** is one file: charts are inline SVG (drawn by matplotlib, the ``report`` extra), the
style sheet is inline, and there is no script and no external resource, so the file opens
offline, in a mail attachment or an archive years later.

**Markdown** is ``report.md`` plus a folder ``report_files/`` beside it holding one SVG file
per chart, linked with relative paths (``![Throughput](report_files/throughput.svg)``).
Files rather than ``data:`` URIs because the common viewers (GitHub, GitLab, most wikis)
refuse ``data:`` images; keep the folder with the ``.md`` file when moving it.

Both show: totals; per-workflow statistics; throughput and error-rate trends; duration
percentiles per workflow; the slowest steps; failed steps by error category and type.  One
time window is resolved up front and used for every query, so all sections agree.  With no
data in the window the report says so instead of drawing empty charts.  Every name that
comes from telemetry (workflow, step, type, error) is escaped.
"""

from __future__ import annotations

import dataclasses
import html
import os
import urllib.parse
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from otel_workflow.analytics.models import (
    ErrorTypeStats,
    StepStats,
    TimeWindow,
    TrendPoint,
    WorkflowStats,
)
from otel_workflow.analytics.timerange import TimeSpec, resolve_window

if TYPE_CHECKING:
    from otel_workflow.analytics.engine import AnalyticsEngine

REPORT_FORMATS = ("html", "markdown")
"""Formats :func:`render_report` writes (``"md"`` is accepted for markdown)."""

_MAX_TREND_SERIES = 8  # beyond this many workflows the trend shows the total only
_SLOWEST_STEPS = 10
_MAX_DURATION_ROWS = 15
_TOP_ERRORS = 15
# Trend bucket sizes to choose from, so a window gets at most _MAX_BUCKETS points.
_NICE_INTERVALS = tuple(
    timedelta(seconds=s)
    for s in (10, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
)
_MAX_BUCKETS = 96
_OPEN_RANGE_INTERVAL = timedelta(hours=1)  # trend buckets when the window has no start


_Points = list[tuple[datetime, float | None]]


@dataclasses.dataclass(frozen=True)
class Chart:
    """One chart: a file-name-safe ``key``, a title, and SVG text (or None with no data)."""

    key: str
    title: str
    svg: str | None
    note: str = ""


@dataclasses.dataclass(frozen=True)
class ReportData:
    """Everything a report shows, gathered from the engine over one time window."""

    window: TimeWindow
    generated_at: datetime
    backend: str
    interval: timedelta
    workflows: list[WorkflowStats]
    slowest_steps: list[StepStats]
    errors: list[ErrorTypeStats]
    throughput: list[TrendPoint]
    error_rate: list[TrendPoint]

    @property
    def total(self) -> int:
        """Executions in the window."""
        return sum(w.count for w in self.workflows)

    @property
    def failed(self) -> int:
        """Failed executions in the window."""
        return sum(w.failed for w in self.workflows)

    @property
    def error_rate_overall(self) -> float | None:
        """Failed / all executions, or None with no executions."""
        return self.failed / self.total if self.total else None

    def errors_by_category(self) -> list[tuple[str, int]]:
        """Failed steps per error category, most first."""
        counts: dict[str, int] = defaultdict(int)
        for error in self.errors:
            counts[error.error_category or "unknown"] += error.count
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def pick_interval(window: TimeWindow) -> timedelta:
    """The smallest nice bucket size giving at most 96 buckets over the window."""
    if window.since is None or window.until is None:
        return _OPEN_RANGE_INTERVAL
    span = window.until - window.since
    for interval in _NICE_INTERVALS:
        if span / interval <= _MAX_BUCKETS:
            return interval
    return _NICE_INTERVALS[-1]


def collect(
    engine: AnalyticsEngine,
    since: TimeSpec = "24h",
    until: TimeSpec = None,
    *,
    now: datetime | None = None,
) -> ReportData:
    """Query the engine once per section, all over the same resolved window."""
    current = now or datetime.now(timezone.utc)
    resolved = resolve_window(since, until, now=current)
    # An open end becomes "now", fixed once, so every section covers the same range.
    window = TimeWindow(resolved.since, resolved.until or current)
    interval = pick_interval(window)
    since_, until_ = window.since, window.until
    workflows = engine.workflow_stats(since=since_, until=until_)
    slowest: list[StepStats] = []
    errors: list[ErrorTypeStats] = []
    throughput: list[TrendPoint] = []
    error_rate: list[TrendPoint] = []
    if workflows:
        slowest = engine.slowest_steps(_SLOWEST_STEPS, "p95", since=since_, until=until_)
        errors = engine.errors_by_type(since=since_, until=until_)
        per_workflow = 1 < len({w.workflow for w in workflows}) <= _MAX_TREND_SERIES
        throughput = engine.trends(
            "throughput", interval, since=since_, until=until_, per_workflow=per_workflow
        )
        error_rate = engine.trends("error_rate", interval, since=since_, until=until_)
    return ReportData(
        window=window, generated_at=current, backend=engine.backend_name, interval=interval,
        workflows=workflows, slowest_steps=slowest, errors=errors, throughput=throughput,
        error_rate=error_rate,
    )  # fmt: skip


# --- charts ---------------------------------------------------------------------------------
def build_charts(data: ReportData) -> list[Chart]:
    """The report's charts (SVG), or placeholders saying why a chart is absent."""
    from otel_workflow.analytics import charts

    every = _format_interval(data.interval)
    titles = {
        "throughput": f"Throughput (executions per minute, {every} buckets)",
        "error-rate": f"Error rate (% of executions, {every} buckets)",
        "durations": "Duration percentiles per workflow",
        "slowest-steps": "Slowest steps (p95)",
        "error-categories": "Failed steps by error category",
    }
    if not data.workflows:
        return [Chart(key, title, None, "No executions in this range.") for key, title in
                titles.items()]  # fmt: skip
    since, until = data.window.since, data.window.until
    xlim = (since, until) if since is not None and until is not None else None
    result = [
        _trend(charts, "throughput", titles["throughput"], _throughput_series(data.throughput),
               "per minute", xlim, percent=False),
        _trend(charts, "error-rate", titles["error-rate"],
               {"all": [(p.start, p.value) for p in data.error_rate]}, "%", xlim, percent=True),
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
    result.append(_bars("durations", titles["durations"], rows, "seconds (log scale)"))
    step_rows = [
        (f"{s.workflow} \u203a {s.step}", {"p50": s.p50, "p95": s.p95}) for s in data.slowest_steps
    ]
    result.append(_bars("slowest-steps", titles["slowest-steps"], step_rows, "seconds (log scale)"))
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


def _trend(
    charts: ModuleType, key: str, title: str, series: dict[str, _Points], ylabel: str,
    xlim: tuple[datetime, datetime] | None, *, percent: bool,
) -> Chart:  # fmt: skip
    if not any(value is not None for points in series.values() for _, value in points):
        # e.g. Prometheus before two scrapes have happened: nothing to draw yet.
        return Chart(key, title, None, "No data points in this range yet.")
    svg = charts.time_series_chart(
        series, title=title, ylabel=ylabel, percent=percent, xlim=xlim, salt=key
    )
    return Chart(key, title, svg)


def _bars(
    key: str, title: str, rows: list[tuple[str, dict[str, float | None]]], xlabel: str
) -> Chart:
    if not rows:
        return Chart(key, title, None, "No durations in this range.")
    from otel_workflow.analytics.charts import horizontal_bar_chart

    svg = horizontal_bar_chart(rows, title=title, xlabel=xlabel, log=True, salt=key)
    return Chart(key, title, svg)


def _throughput_series(points: Sequence[TrendPoint]) -> dict[str, _Points]:
    series: dict[str, _Points] = defaultdict(list)
    totals: dict[datetime, float] = defaultdict(float)
    per_workflow = any(p.workflow is not None for p in points)
    for p in points:
        series[p.workflow if p.workflow is not None else "all"].append((p.start, p.value))
        totals[p.start] += p.value or 0.0
    if per_workflow:  # throughput adds up, so the total line costs no extra query
        series["all"] = [(start, total) for start, total in sorted(totals.items())]
    return dict(series)


# --- HTML -----------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1d2430;background:#fff}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #dde2ea;padding-bottom:.3rem}
.meta{color:#5b6577;font-size:.9rem}
.cards{display:flex;flex-wrap:wrap;gap:1rem;margin:1.2rem 0}
.card{border:1px solid #dde2ea;border-radius:8px;padding:.8rem 1.2rem;min-width:9rem}
.card b{display:block;font-size:1.6rem}.card span{color:#5b6577;font-size:.85rem}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.6rem 0}
th,td{padding:.35rem .6rem;border-bottom:1px solid #eceff4;text-align:right}
th{background:#f5f7fa}th.text,td.text{text-align:left}
.chart{margin:1rem 0}.chart svg{max-width:100%;height:auto}
.empty{color:#5b6577;font-style:italic;border:1px dashed #c9d0db;border-radius:8px;padding:1rem}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def render_html(data: ReportData, charts: Sequence[Chart] | None = None) -> str:
    """The report as one self-contained HTML document."""
    charts = build_charts(data) if charts is None else charts
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(_title(data))}</title><style>{_CSS}</style></head><body>",
        f'<h1>Workflow report</h1><p class="meta">{_e(_range_text(data))}</p>',
        summary_html(data, heading=False),
    ]
    if data.workflows:
        parts.append("<h2>Charts</h2>")
        for chart in charts:
            if chart.svg is not None:
                parts.append(
                    f'<figure class="chart" id="chart-{_e(chart.key)}" '
                    f'aria-label="{_e(chart.title)}">{chart.svg}</figure>'
                )
            else:
                parts.append(f'<h3>{_e(chart.title)}</h3><p class="empty">{_e(chart.note)}</p>')
        parts.append(_slowest_steps_html(data.slowest_steps))
        parts.append(_errors_html(data.errors))
    parts.append(
        f'<p class="meta">Generated by otel-workflow at {_e(_iso(data.generated_at))} '
        f"from the {_e(data.backend)} backend.</p></body></html>"
    )
    return "\n".join(parts)


def summary_html(data: ReportData, *, heading: bool = True) -> str:
    """Totals and the per-workflow table as an HTML fragment (also the email body)."""
    parts = []
    if heading:
        parts.append(f"<h2>Workflow report</h2><p>{_e(_range_text(data))}</p>")
    if not data.workflows:
        parts.append('<p class="empty">No workflow executions in this range.</p>')
        return "\n".join(parts)
    rate = data.error_rate_overall
    minutes = data.window.minutes
    cards = [
        ("executions", f"{data.total:,}"),
        ("failed", f"{data.failed:,}"),
        ("error rate", _pct(rate)),
        ("per minute", f"{data.total / minutes:.3g}" if minutes else "-"),
        ("workflows", str(len(data.workflows))),
    ]
    parts.append('<div class="cards">' + "".join(
        f"<div class=\"card\"><b>{_e(value)}</b><span>{_e(label)}</span></div>"
        for label, value in cards
    ) + "</div>")  # fmt: skip
    head = ("Workflow", "Type", "Executions", "Failed", "Cancelled", "Error rate", "Avg", "p50",
            "p95", "p99", "Max", "Per minute")  # fmt: skip
    rows = [
        [w.workflow, w.workflow_type, f"{w.count:,}", f"{w.failed:,}", f"{w.cancelled:,}",
         _pct(w.error_rate), _secs(w.avg), _secs(w.p50), _secs(w.p95), _secs(w.p99),
         _secs(w.max), _num(w.throughput_per_minute)]
        for w in data.workflows
    ]  # fmt: skip
    parts.append("<h2>Workflows</h2>" + _table(head, rows, text_columns=2))
    return "\n".join(parts)


def _slowest_steps_html(steps: Sequence[StepStats]) -> str:
    if not steps:
        return ""
    head = ("Workflow", "Step", "Runs", "Failed", "p50", "p95", "p99", "Max", "Avg CPU")
    rows = [
        [s.workflow, s.step, f"{s.count:,}", f"{s.failed:,}", _secs(s.p50), _secs(s.p95),
         _secs(s.p99), _secs(s.max), _secs(s.avg_cpu_time)]
        for s in steps
    ]  # fmt: skip
    return "<h2>Slowest steps</h2>" + _table(head, rows, text_columns=2)


def _errors_html(errors: Sequence[ErrorTypeStats]) -> str:
    if not errors:
        return "<h2>Errors</h2><p>No failed steps in this range.</p>"
    head = ("Workflow", "Step", "Error type", "Category", "Failures")
    rows = [
        [e.workflow, e.step, e.error_type, e.error_category, f"{e.count:,}"]
        for e in errors[:_TOP_ERRORS]
    ]
    more = len(errors) - _TOP_ERRORS
    note = f'<p class="meta">{more} more error groups not shown.</p>' if more > 0 else ""
    return "<h2>Errors</h2>" + _table(head, rows, text_columns=4) + note


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], *, text_columns: int) -> str:
    header = "".join(
        f'<th class="text">{_e(h)}</th>' if i < text_columns else f"<th>{_e(h)}</th>"
        for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>" + "".join(
            f'<td class="text">{_e(cell)}</td>' if i < text_columns else f"<td>{_e(cell)}</td>"
            for i, cell in enumerate(row)
        ) + "</tr>"
        for row in rows
    )  # fmt: skip
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


# --- markdown -------------------------------------------------------------------------------
# Inline markdown syntax is backslash-escaped; &, < and > become entities so no renderer
# sees raw HTML.  Line-start syntax (#, -, 1.) cannot occur: values never start a line.
_MD_SPECIAL = str.maketrans(
    {**{c: "\\" + c for c in "\\`*_[]|~"}, "&": "&amp;", "<": "&lt;", ">": "&gt;"}
)


def _md(value: object) -> str:
    # Escape markdown syntax and keep a table cell on one line.
    return " ".join(str(value).split()).translate(_MD_SPECIAL)


def render_markdown(data: ReportData, files_dir: str, charts: Sequence[Chart] | None = None) -> str:
    """The report as markdown; charts are linked as ``{files_dir}/{chart.key}.svg``."""
    charts = build_charts(data) if charts is None else charts
    out = [f"# Workflow report\n\n{_md(_range_text(data))}\n"]
    if not data.workflows:
        out.append("*No workflow executions in this range.*\n")
    else:
        minutes = data.window.minutes
        out.append(
            f"**{data.total:,}** executions, **{data.failed:,}** failed "
            f"(error rate {_md(_pct(data.error_rate_overall))}), "
            f"{_md(f'{data.total / minutes:.3g}') if minutes else '-'} per minute, "
            f"{len(data.workflows)} workflows.\n"
        )
        out.append("## Workflows\n")
        out.append(_md_table(
            ("Workflow", "Type", "Executions", "Failed", "Cancelled", "Error rate", "Avg", "p50",
             "p95", "p99", "Max", "Per minute"),
            [[w.workflow, w.workflow_type, f"{w.count:,}", f"{w.failed:,}", f"{w.cancelled:,}",
              _pct(w.error_rate), _secs(w.avg), _secs(w.p50), _secs(w.p95), _secs(w.p99),
              _secs(w.max), _num(w.throughput_per_minute)] for w in data.workflows],
            text_columns=2,
        ))  # fmt: skip
        out.append("## Charts\n")
        quoted_dir = urllib.parse.quote(files_dir)
        for chart in charts:
            if chart.svg is not None:
                out.append(f"![{_md(chart.title)}]({quoted_dir}/{chart.key}.svg)\n")
            else:
                out.append(f"### {_md(chart.title)}\n\n*{_md(chart.note)}*\n")
        if data.slowest_steps:
            out.append("## Slowest steps\n")
            out.append(_md_table(
                ("Workflow", "Step", "Runs", "Failed", "p50", "p95", "p99", "Max", "Avg CPU"),
                [[s.workflow, s.step, f"{s.count:,}", f"{s.failed:,}", _secs(s.p50),
                  _secs(s.p95), _secs(s.p99), _secs(s.max), _secs(s.avg_cpu_time)]
                 for s in data.slowest_steps],
                text_columns=2,
            ))  # fmt: skip
        out.append("## Errors\n")
        if data.errors:
            out.append(_md_table(
                ("Workflow", "Step", "Error type", "Category", "Failures"),
                [[e.workflow, e.step, e.error_type, e.error_category, f"{e.count:,}"]
                 for e in data.errors[:_TOP_ERRORS]],
                text_columns=4,
            ))  # fmt: skip
        else:
            out.append("No failed steps in this range.\n")
    out.append(
        f"---\n\nGenerated by otel-workflow at {_md(_iso(data.generated_at))} "
        f"from the {_md(data.backend)} backend.\n"
    )
    return "\n".join(out)


def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]], *, text_columns: int) -> str:
    align = ["---" if i < text_columns else "---:" for i in range(len(head))]
    lines = [
        "| " + " | ".join(head) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows),
    ]
    return "\n".join(lines) + "\n"


# --- entry point ----------------------------------------------------------------------------
def normalize_format(format: str) -> str:
    """``"html"`` or ``"markdown"`` (``"md"`` accepted); anything else is a ValueError."""
    if not isinstance(format, str):
        raise TypeError(f"format must be a string, got {format!r}")
    value = "markdown" if format.lower() in ("md", "markdown") else format.lower()
    if value not in REPORT_FORMATS:
        raise ValueError(f"unknown report format {format!r}: expected 'html' or 'markdown'")
    return value


def write_report(data: ReportData, path: str | os.PathLike[str], format: str = "html") -> Path:
    """Write an already collected report to ``path``; returns it.

    Markdown also writes ``<stem>_files/<chart>.svg`` beside the ``.md`` file.
    """
    kind = normalize_format(format)
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"report path is a directory: {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    charts = build_charts(data)
    if kind == "html":
        target.write_text(render_html(data, charts), encoding="utf-8")
        return target
    files_dir = f"{target.stem}_files"
    drawn = [chart for chart in charts if chart.svg is not None]
    if drawn:
        (target.parent / files_dir).mkdir(exist_ok=True)
        for chart in drawn:
            assert chart.svg is not None
            (target.parent / files_dir / f"{chart.key}.svg").write_text(chart.svg, encoding="utf-8")
    target.write_text(render_markdown(data, files_dir, charts), encoding="utf-8")
    return target


def chart_files(path: str | os.PathLike[str]) -> list[Path]:
    """The chart files a markdown report at ``path`` links to (empty for HTML)."""
    target = Path(path)
    folder = target.parent / f"{target.stem}_files"
    return sorted(folder.glob("*.svg")) if target.suffix.lower() == ".md" else []


def render_report(
    engine: AnalyticsEngine,
    path: str | os.PathLike[str],
    since: TimeSpec = "24h",
    until: TimeSpec = None,
    format: str = "html",
) -> Path:
    """Write a report over ``since``..``until`` (default: the last 24 hours) to ``path``.

    ``format`` is ``"html"`` (one self-contained file) or ``"markdown"`` (the ``.md`` file
    plus ``<stem>_files/`` with the charts).  Returns the path written.
    """
    kind = normalize_format(format)
    return write_report(collect(engine, since, until), path, kind)


# --- formatting -----------------------------------------------------------------------------
def _iso(moment: datetime | None) -> str:
    if moment is None:
        return "the beginning"
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _range_text(data: ReportData) -> str:
    return f"From {_iso(data.window.since)} to {_iso(data.window.until)}."


def _title(data: ReportData) -> str:
    return f"Workflow report, {_iso(data.window.since)} to {_iso(data.window.until)}"


def _format_interval(interval: timedelta) -> str:
    seconds = int(interval.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _workflow_label(w: WorkflowStats) -> str:
    return (
        w.workflow
        if not w.workflow_type or w.workflow_type == w.workflow
        else (f"{w.workflow} ({w.workflow_type})")
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f} %"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1e-3:
        return f"{value * 1e6:.0f} \u00b5s"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


__all__ = [
    "REPORT_FORMATS",
    "Chart",
    "ReportData",
    "build_charts",
    "chart_files",
    "collect",
    "normalize_format",
    "pick_interval",
    "render_html",
    "render_markdown",
    "render_report",
    "summary_html",
    "write_report",
]
