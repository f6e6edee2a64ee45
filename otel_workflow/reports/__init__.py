"""Reports over workflow telemetry: HTML and markdown with charts, email, schedules.

Everything here takes an :class:`~otel_workflow.analytics.AnalyticsEngine`; the engine
knows nothing of reports (they are a layer above it).

>>> from otel_workflow.analytics import AnalyticsEngine
>>> from otel_workflow import reports
>>> with AnalyticsEngine.from_store("otel-workflow.db") as eng:          # doctest: +SKIP
...     reports.render_report(eng, "report.html", since="24h")
...     reports.email_report(eng, reports.SmtpSettings(host="smtp.example.com"),
...                          to=["owner@example.com"])

Modules, one concern each: :mod:`.data` (what a report shows, queried from the engine),
:mod:`.charts` (matplotlib drawing, the ``report`` extra, imported only when charts are
drawn), :mod:`.figures` (which charts), :mod:`.tables`, :mod:`.html`, :mod:`.markdown`,
:mod:`.render` (writing files), :mod:`.units`, :mod:`.links` (trace viewer links),
:mod:`.email` (SMTP), :mod:`.schedule` (the scheduler), :mod:`.delivery` (email a report,
now or on a schedule).
"""

from __future__ import annotations

from otel_workflow.reports.data import ReportData, collect
from otel_workflow.reports.delivery import email_report, schedule_report
from otel_workflow.reports.email import SmtpDeliveryError, SmtpSettings, send_report
from otel_workflow.reports.links import check_trace_url
from otel_workflow.reports.render import REPORT_FORMATS, chart_files, render_report, write_report
from otel_workflow.reports.schedule import CronSchedule, IntervalSchedule, ReportScheduler

__all__ = [
    "REPORT_FORMATS",
    "CronSchedule",
    "IntervalSchedule",
    "ReportData",
    "ReportScheduler",
    "SmtpDeliveryError",
    "SmtpSettings",
    "chart_files",
    "check_trace_url",
    "collect",
    "email_report",
    "render_report",
    "schedule_report",
    "send_report",
    "write_report",
]
