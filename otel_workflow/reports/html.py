"""The report as one self-contained HTML page (and the summary fragment emails carry).

Charts are inline SVG, the style sheet is inline, and there is no script and no external
resource, so the file opens offline, in a mail attachment or an archive years later.  The
only links are to a trace viewer, and only when a link template is configured.  Every
name that comes from telemetry is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from otel_workflow.reports.data import ReportData
from otel_workflow.reports.figures import Chart, build_charts
from otel_workflow.reports.tables import (
    Cell,
    Link,
    Table,
    drill_down_tables,
    errors_table,
    rate_text,
    slowest_steps_table,
    workflows_table,
)
from otel_workflow.reports.units import format_interval, format_percent, format_time

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1d2430;background:#fff}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #dde2ea;padding-bottom:.3rem}
.meta{color:#5b6577;font-size:.9rem}
.cards{display:flex;flex-wrap:wrap;gap:1rem;margin:1.2rem 0}
.card{border:1px solid #dde2ea;border-radius:8px;padding:.8rem 1.2rem;min-width:9rem}
.card b{display:block;font-size:1.6rem}.card span{color:#5b6577;font-size:.85rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.84rem;margin:.6rem 0}
th,td{padding:.35rem .4rem;border-bottom:1px solid #eceff4;text-align:right;white-space:nowrap}
th{background:#f5f7fa}th.text,td.text{text-align:left}
.cut{display:inline-block;max-width:12em;overflow:hidden;text-overflow:ellipsis;
vertical-align:bottom}
.id .cut{max-width:17ch;font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;
font-size:.8rem}
@media (max-width:1100px){table{font-size:.8rem}th,td{padding:.3rem .35rem}
.id .cut{max-width:12ch}.cut{max-width:10em}}
@media (max-width:960px){body{padding:0 .5rem}table{font-size:.72rem}th,td{padding:.25rem}
.id .cut{max-width:8ch}.cut{max-width:7em}}
.chart{margin:1rem 0}.chart svg{display:block;width:100%;height:auto}
.warning{border:2px solid #b3261e;background:#fdecea;color:#5f1410;border-radius:8px;
padding:.8rem 1.2rem;font-weight:600}
.empty{color:#5b6577;font-style:italic;border:1px dashed #c9d0db;border-radius:8px;padding:1rem}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def range_text(data: ReportData) -> str:
    """``From <start> to <end>.`` (times with their zone)."""
    return f"From {format_time(data.window.since)} to {format_time(data.window.until)}."


def dropped_text(data: ReportData) -> str | None:
    """The warning a report on a store that dropped rows carries, or None."""
    if not data.dropped_total:
        return None
    reasons = ", ".join(f"{n:,} {reason.replace('_', ' ')}" for reason, n in
                        sorted(data.dropped_rows.items()) if n)  # fmt: skip
    return (
        f"Warning: the store dropped {data.dropped_total:,} rows ({reasons}): every figure "
        "in this report undercounts by up to that many."
    )


def overall_rate_text(data: ReportData) -> str:
    """All executions over the report's window: ``20/s over 3 s``."""
    seconds = data.window_seconds
    per_second = data.per_second
    return rate_text(per_second * 60.0 if per_second is not None else None, seconds)


def trend_text(data: ReportData) -> str:
    """Which part of the range the trend charts cover, and their bucket size."""
    window = data.trend_window
    if window is None or window == data.window:
        return f"Trends in {format_interval(data.interval)} buckets."
    return (
        f"Trends cover {format_time(window.since)} to {format_time(window.until)}, where this "
        f"range has executions, in {format_interval(data.interval)} buckets."
    )


def render_html(data: ReportData, charts: Sequence[Chart] | None = None) -> str:
    """The report as one self-contained HTML document."""
    charts = build_charts(data) if charts is None else charts
    title = f"Workflow report, {format_time(data.window.since)} to {format_time(data.window.until)}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f'<h1>Workflow report</h1><p class="meta">{_e(range_text(data))}</p>',
        warning_html(data),
        summary_html(data, heading=False),
    ]
    if data.workflows:
        parts.append(f'<h2>Charts</h2><p class="meta">{_e(trend_text(data))}</p>')
        for chart in charts:
            if chart.svg is not None:
                parts.append(
                    f'<figure class="chart" id="chart-{_e(chart.key)}" '
                    f'aria-label="{_e(chart.title)}">{chart.svg}</figure>'
                )
            else:
                parts.append(f'<h3>{_e(chart.title)}</h3><p class="empty">{_e(chart.note)}</p>')
        for table in (slowest_steps_table(data), errors_table(data), *drill_down_tables(data)):
            parts.append(table_html(table))
    parts.append(
        f'<p class="meta">Generated by otel-workflow at {_e(format_time(data.generated_at))} '
        f"from the {_e(data.backend)} backend.</p></body></html>"
    )
    return "\n".join(parts)


def warning_html(data: ReportData) -> str:
    """The dropped-rows warning as a ``role="alert"`` box, or nothing."""
    text = dropped_text(data)
    return f'<p class="warning" role="alert">{_e(text)}</p>' if text else ""


def summary_html(data: ReportData, *, heading: bool = True) -> str:
    """Totals and the per-workflow table as an HTML fragment (also the email body)."""
    parts = []
    if heading:
        parts.append(f"<h2>Workflow report</h2><p>{_e(range_text(data))}</p>")
        parts.append(warning_html(data))
    if not data.workflows:
        parts.append('<p class="empty">No workflow executions in this range.</p>')
        return "\n".join(parts)
    cards = [
        ("executions", f"{data.total:,}"),
        ("failed", f"{data.failed:,}"),
        ("error rate", format_percent(data.error_rate_overall)),
        ("rate", overall_rate_text(data)),
        ("workflows", str(len(data.workflows))),
    ]
    parts.append('<div class="cards">' + "".join(
        f"<div class=\"card\"><b>{_e(value)}</b><span>{_e(label)}</span></div>"
        for label, value in cards
    ) + "</div>")  # fmt: skip
    parts.append(table_html(workflows_table(data)))
    return "\n".join(parts)


def _cell(cell: Cell) -> str:
    if isinstance(cell, Link):
        return f'<a href="{_e(cell.href)}" rel="noopener noreferrer">{_e(cell.text)}</a>'
    return _e(cell)


def _td(table: Table, i: int, cell: Cell) -> str:
    # No cell wraps (an id or a time broken across lines is misread); a long name or id is
    # cut with an ellipsis on screen, whole in the tooltip and when copied.
    if i >= table.text_columns:
        return f"<td>{_cell(cell)}</td>"
    text = cell.text if isinstance(cell, Link) else cell
    kind = "text id" if i in table.id_columns else "text"
    # (max-width does not apply to a table cell itself, hence the inner span)
    return f'<td class="{kind}"><span class="cut" title="{_e(text)}">{_cell(cell)}</span></td>'


def table_html(table: Table) -> str:
    """A heading and the table (or its ``empty`` note); nothing for an empty optional table."""
    heading = f'<h2 id="{_e(table.key)}">{_e(table.title)}</h2>'
    if not table.rows:
        return f"{heading}<p>{_e(table.empty)}</p>" if table.empty else ""
    header = "".join(
        f'<th class="text">{_e(h)}</th>' if i < table.text_columns else f"<th>{_e(h)}</th>"
        for i, h in enumerate(table.head)
    )
    body = "".join(
        "<tr>" + "".join(_td(table, i, cell) for i, cell in enumerate(row)) + "</tr>"
        for row in table.rows
    )  # fmt: skip
    note = f'<p class="meta">{_e(table.note)}</p>' if table.note else ""
    return (
        f'{heading}<div class="scroll"><table><thead><tr>{header}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>{note}"
    )


__all__ = [
    "dropped_text",
    "overall_rate_text",
    "range_text",
    "render_html",
    "summary_html",
    "table_html",
    "trend_text",
    "warning_html",
]
