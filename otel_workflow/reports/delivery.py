"""Email a report now, or on a schedule: the pieces joined (collect, render, send, repeat).

>>> with AnalyticsEngine.from_store("otel-workflow.db") as eng:          # doctest: +SKIP
...     email_report(eng, SmtpSettings(host="smtp.example.com", mode="starttls"),
...                  to=["owner@example.com"], since="24h")
>>> handle = schedule_report(cron="0 8 * * *", to=["owner@example.com"],
...                          smtp=SmtpSettings(host="smtp.example.com"),
...                          store="otel-workflow.db")                      # doctest: +SKIP

The engine comes from the caller (or, for :func:`schedule_report`, from a store path);
nothing here reaches below the engine's public API.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from otel_workflow.analytics.timerange import TimeSpec
from otel_workflow.reports.data import collect
from otel_workflow.reports.email import SmtpSettings, check_recipients, send_report
from otel_workflow.reports.html import summary_html
from otel_workflow.reports.links import check_trace_url
from otel_workflow.reports.render import chart_files, normalize_format, write_report
from otel_workflow.reports.schedule import Clock, ReportScheduler, parse_duration
from otel_workflow.reports.units import TIME_ZONE, TIME_ZONE_NAME

if TYPE_CHECKING:
    from otel_workflow.analytics.engine import AnalyticsEngine


def email_report(
    engine: AnalyticsEngine,
    settings: SmtpSettings,
    *,
    to: Sequence[str],
    since: TimeSpec = None,
    until: TimeSpec = None,
    format: str = "html",
    subject: str | None = None,
    trace_url: str | None = None,
) -> EmailMessage:
    """Build a report over ``since``..``until`` and email it; returns the message sent.

    The body is the report's summary (totals and the per-workflow table, no charts, since
    many mail clients strip SVG); the full report is attached (``report.html``, or
    ``report.md`` with its chart files for markdown).  ``trace_url`` is as for
    :func:`~otel_workflow.reports.render_report`.
    """
    kind = normalize_format(format)
    check_recipients(to)
    data = collect(engine, since, until, trace_url=trace_url)
    if subject is None:
        until_ = data.window.until
        stamp = (
            until_.astimezone(TIME_ZONE).strftime(f"%Y-%m-%d %H:%M {TIME_ZONE_NAME}")
            if until_ else ""
        )  # fmt: skip
        failed = f", {data.failed:,} failed" if data.failed else ""
        subject = f"Workflow report {stamp}: {data.total:,} executions{failed}"
    body = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        + summary_html(data)
        + "<p>The full report with charts is attached.</p></body></html>"
    )
    with tempfile.TemporaryDirectory(prefix="otel-workflow-report-") as tmp:
        name = "report.html" if kind == "html" else "report.md"
        path = write_report(data, Path(tmp) / name, kind)
        return send_report(
            settings, to=to, subject=subject, html_body=body,
            attachments=[path, *chart_files(path)],
        )  # fmt: skip


def schedule_report(
    *,
    to: Sequence[str],
    smtp: SmtpSettings,
    every: str | timedelta | None = None,
    cron: str | None = None,
    store: str | os.PathLike[str] | None = None,
    engine: AnalyticsEngine | None = None,
    state_path: str | os.PathLike[str] | None = None,
    since: str | timedelta | None = None,
    format: str = "html",
    subject: str | None = None,
    tz: tzinfo | None = None,
    clock: Clock | None = None,
    max_attempts: int = 5,
    backoff: str | timedelta = "1m",
    max_backoff: str | timedelta = "1h",
    start: bool = True,
    trace_url: str | None = None,
) -> ReportScheduler:
    """Email a report to ``to`` every ``every`` (``"1d"``) or at each ``cron`` match.

    The report is built from ``engine`` or from the SQLite ``store`` path, over ``since``
    (default: the time since the previous slot) up to the slot.  ``smtp`` is an
    :class:`~otel_workflow.reports.email.SmtpSettings`.  Returns the running scheduler
    (``start=False`` leaves it to :meth:`ReportScheduler.run_pending`).
    """
    check_trace_url(trace_url)  # a bad template fails now, not at the first slot
    if not isinstance(smtp, SmtpSettings):
        raise TypeError(f"smtp must be SmtpSettings, got {type(smtp).__name__}")
    if (engine is None) == (store is None):
        raise ValueError("give exactly one of store= or engine=")
    recipients = [to] if isinstance(to, str) else list(to)
    owned_engine = engine is None
    window = parse_duration(since, "since") if since is not None else None
    # The first slot of a schedule has no previous one: cover one interval, or a day for cron.
    fallback_window = parse_duration(every, "every") if every is not None else timedelta(days=1)
    if engine is None:
        # Below reports in the layers, so importing it here points down; it is imported
        # only when a store path is given, keeping `import otel_workflow.reports` light.
        from otel_workflow.analytics.engine import AnalyticsEngine

        assert store is not None
        engine = AnalyticsEngine.from_store(os.fspath(store))
    holder: list[ReportScheduler] = []

    def job(slot: datetime) -> None:
        if window is not None:
            slot_since = slot - window
        else:
            previous = holder[0].schedule.latest_at_or_before(slot - timedelta(seconds=1))
            slot_since = previous if previous is not None else slot - fallback_window
        email_report(
            engine, smtp, to=recipients, since=slot_since, until=slot, format=format,
            subject=subject, trace_url=trace_url,
        )  # fmt: skip

    try:
        scheduler = ReportScheduler(
            job, every=every, cron=cron, tz=tz, state_path=state_path, clock=clock,
            max_attempts=max_attempts, backoff=backoff, max_backoff=max_backoff,
            on_stop=engine.close if owned_engine else None,
        )  # fmt: skip
    except BaseException:
        if owned_engine:
            engine.close()
        raise
    holder.append(scheduler)
    return scheduler.start() if start else scheduler


__all__ = ["email_report", "schedule_report"]
