"""Write a report over a time range to a file: HTML, or markdown with its charts beside it.

>>> from otel_workflow.analytics import AnalyticsEngine
>>> from otel_workflow.reports import render_report
>>> with AnalyticsEngine.from_store("otel-workflow.db") as eng:          # doctest: +SKIP
...     render_report(eng, "report.html", since="24h")
...     render_report(eng, "report.md", since="7d", format="markdown",
...                   trace_url="http://127.0.0.1:16686/trace/{trace_id}")

**HTML** is one file (see :mod:`.html`); **markdown** is ``report.md`` plus a folder
``report_files/`` beside it holding one SVG file per chart (see :mod:`.markdown`).

Both show: totals; per-workflow statistics; throughput and error-rate trends; duration
percentiles per workflow; the slowest steps; failed steps by error category and type; and,
on the store, the slowest and the latest failed executions, outliers and users, with their
execution and trace ids.  One time window is resolved up front and used for every query,
so all sections agree.  With no data in the window the report says so instead of drawing
empty charts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from otel_workflow.analytics.timerange import TimeSpec
from otel_workflow.reports.data import ReportData, collect
from otel_workflow.reports.figures import build_charts
from otel_workflow.reports.html import render_html
from otel_workflow.reports.markdown import render_markdown

if TYPE_CHECKING:
    from otel_workflow.analytics.engine import AnalyticsEngine

REPORT_FORMATS = ("html", "markdown")
"""Formats :func:`render_report` writes (``"md"`` is accepted for markdown)."""


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
    since: TimeSpec = None,
    until: TimeSpec = None,
    format: str = "html",
    *,
    trace_url: str | None = None,
) -> Path:
    """Write a report over ``since``..``until`` (default: the data's last 24 hours, see
    :meth:`~otel_workflow.analytics.AnalyticsEngine.rate_window`) to ``path``.

    ``format`` is ``"html"`` (one self-contained file) or ``"markdown"`` (the ``.md`` file
    plus ``<stem>_files/`` with the charts).  ``trace_url`` turns trace ids into links:
    a URL template with ``{trace_id}``, ``{span_id}`` or ``{execution_id}``
    (e.g. ``"http://127.0.0.1:16686/trace/{trace_id}"`` for Jaeger).  Returns the path written.
    """
    kind = normalize_format(format)
    return write_report(collect(engine, since, until, trace_url=trace_url), path, kind)


__all__ = ["REPORT_FORMATS", "chart_files", "normalize_format", "render_report", "write_report"]
