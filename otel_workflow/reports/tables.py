"""The report's tables, built once from the data and written out by the HTML and markdown
pages (so both show the same columns, units and rows).

Cells are plain text, or a :class:`Link` when a trace link template is configured.  Every
column holding a time names its zone in the header; durations and rates use
:mod:`otel_workflow.reports.units`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from otel_workflow._units import format_rate
from otel_workflow.analytics.models import ExecutionRecord, Outlier, WorkflowStats
from otel_workflow.reports.data import DRILL_DOWN_ROWS, ReportData
from otel_workflow.reports.links import trace_link
from otel_workflow.reports.units import (
    TIME_ZONE_NAME,
    format_duration,
    format_percent,
    format_table_time,
)

_TOP_ERRORS = 15


@dataclasses.dataclass(frozen=True)
class Link:
    """A cell that links to ``href`` (a trace viewer page)."""

    text: str
    href: str


Cell = str | Link


@dataclasses.dataclass(frozen=True)
class Table:
    """One table: ``key`` (an anchor), a heading, a header row and rows of cells.

    The first ``text_columns`` columns are left-aligned text, the rest numbers.  ``note``
    follows the table (e.g. how many rows were left out); a table with no rows shows
    ``empty`` instead, or is left out when ``empty`` is blank.  ``id_columns`` hold long
    identifiers (trace ids) that a page may show shortened, the whole id still copyable.
    """

    key: str
    title: str
    head: tuple[str, ...]
    rows: list[list[Cell]]
    text_columns: int
    note: str = ""
    empty: str = ""
    id_columns: tuple[int, ...] = ()


def _more(shown: int, total: int, what: str) -> str:
    return f"{total - shown:,} more {what} not shown." if total > shown else ""


def rate_text(per_minute: float | None, window_seconds: float | None) -> str:
    """A throughput with the window it is over: ``20/s over 3 s`` (the CLI's formatter)."""
    if per_minute is None:
        return "-"
    return format_rate(per_minute / 60.0, over=window_seconds)


def workflows_table(data: ReportData) -> Table:
    """Per-workflow statistics.

    When every workflow's rate is over the same window (the usual case: one rate window per
    report), the window is said once, in the Rate header, which keeps the table narrow.
    """
    windows = {w.rate_window_seconds for w in data.workflows}
    (shared,) = windows if len(windows) == 1 and None not in windows else (None,)
    rate_head = f"Rate (over {format_duration(shared)})" if shared else "Rate"
    suffix = f" over {format_duration(shared)}" if shared else ""

    def rate(w: WorkflowStats) -> str:
        text = rate_text(w.throughput_per_minute, w.rate_window_seconds)
        return text[: -len(suffix)] if suffix and text.endswith(suffix) else text

    head = ("Workflow", "Type", "Executions", "Failed", "Cancelled", "Error rate", "Avg", "p50",
            "p95", "p99", "Max", rate_head)  # fmt: skip
    rows: list[list[Cell]] = [
        [w.workflow, w.workflow_type, f"{w.count:,}", f"{w.failed:,}", f"{w.cancelled:,}",
         format_percent(w.error_rate), format_duration(w.avg), format_duration(w.p50),
         format_duration(w.p95), format_duration(w.p99), format_duration(w.max), rate(w)]
        for w in data.workflows
    ]  # fmt: skip
    return Table("workflows", "Workflows", head, rows, 2)


def slowest_steps_table(data: ReportData) -> Table:
    """The steps with the highest p95 (retried attempts apart from final failures)."""
    head = ("Workflow", "Step", "Runs", "Failed", "Retries", "p50", "p95", "p99", "Max",
            "Avg CPU")  # fmt: skip
    rows: list[list[Cell]] = [
        [s.workflow, s.step, f"{s.count:,}", f"{s.failed:,}", f"{s.retried:,}",
         format_duration(s.p50),
         format_duration(s.p95), format_duration(s.p99), format_duration(s.max),
         format_duration(s.avg_cpu_time)]
        for s in data.slowest_steps
    ]  # fmt: skip
    return Table("slowest-steps", "Slowest steps", head, rows, 2)


def errors_table(data: ReportData) -> Table:
    """Failed steps by workflow, step, error type and category."""
    head = ("Workflow", "Step", "Error type", "Category", "Failures")
    rows: list[list[Cell]] = [
        [e.workflow, e.step, e.error_type, e.error_category, f"{e.count:,}"]
        for e in data.errors[:_TOP_ERRORS]
    ]
    note = _more(min(len(data.errors), _TOP_ERRORS), len(data.errors), "error groups")
    return Table("errors", "Errors", head, rows, 4, note, "No failed steps in this range.")


def _ids(data: ReportData, record: ExecutionRecord | Outlier) -> list[Cell]:
    execution = record.execution_id or "-"
    if data.trace_url is None:
        return [execution, record.trace_id]
    href = trace_link(data.trace_url, record)
    return [execution, Link(record.trace_id, href)]


def _execution_rows(data: ReportData, records: Sequence[ExecutionRecord]) -> list[list[Cell]]:
    return [
        [r.workflow, *_ids(data, r), r.user_id or "-", r.error_type or r.status,
         format_table_time(r.start), format_duration(r.duration)]
        for r in records
    ]  # fmt: skip


_EXECUTION_HEAD = ("Workflow", "Execution id", "Trace id", "User", "Status / error",
                   f"Start ({TIME_ZONE_NAME})", "Duration")  # fmt: skip
_ID_COLUMNS = (1, 2)  # execution id, trace id


def drill_down_tables(data: ReportData) -> list[Table]:
    """Slowest and failed executions, outliers and users; sections a backend lacks are left out."""
    tables: list[Table] = []
    if data.slowest_executions is not None:
        tables.append(Table(
            "slowest-executions", "Slowest executions", _EXECUTION_HEAD,
            _execution_rows(data, data.slowest_executions), 5, id_columns=_ID_COLUMNS,
        ))  # fmt: skip
    if data.failed_executions is not None:
        tables.append(Table(
            "failed-executions", "Latest failed executions", _EXECUTION_HEAD,
            _execution_rows(data, data.failed_executions), 5,
            empty="No failed executions in this range.", id_columns=_ID_COLUMNS,
        ))  # fmt: skip
    if data.outliers is not None:
        shown = data.outliers[:DRILL_DOWN_ROWS]
        rows: list[list[Cell]] = [
            [o.workflow, *_ids(data, o), o.user_id or "-", o.error_type or o.status,
             format_table_time(o.start), format_duration(o.duration),
             format_duration(o.threshold)]
            for o in shown
        ]  # fmt: skip
        more = "Only the slowest are shown." if len(data.outliers) > len(shown) else ""
        tables.append(Table(
            "outliers", "Outliers (slower than their workflow's p99)",
            (*_EXECUTION_HEAD, "Workflow p99"), rows, 5, more,
            "No execution is slower than its workflow's p99.", _ID_COLUMNS,
        ))  # fmt: skip
    if data.users:  # only when executions carry user ids
        shown_users = data.users[: 2 * DRILL_DOWN_ROWS]
        user_rows: list[list[Cell]] = [
            [u.user_id, f"{u.executions:,}", f"{u.failed:,}", format_percent(u.error_rate),
             format_duration(u.avg), format_duration(u.p95), format_table_time(u.first_seen),
             format_table_time(u.last_seen)]
            for u in shown_users
        ]  # fmt: skip
        note = "Only the users with the most executions are shown." if len(data.users) > len(
            shown_users) else ""  # fmt: skip
        tables.append(Table(
            "users", "Users", ("User", "Executions", "Failed", "Error rate", "Avg", "p95",
                               f"First seen ({TIME_ZONE_NAME})", f"Last seen ({TIME_ZONE_NAME})"),
            user_rows, 1, note,
        ))  # fmt: skip
    return tables


__all__ = [
    "Cell",
    "Link",
    "Table",
    "drill_down_tables",
    "errors_table",
    "rate_text",
    "slowest_steps_table",
    "workflows_table",
]
