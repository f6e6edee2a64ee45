"""Streamed CSV and JSON exports.

Rows are read lazily from the backend and written one at a time, so a million rows never
sit in memory at once.

Kinds (:data:`EXPORT_KINDS`): ``executions`` and ``steps`` are the raw rows of the store
(one per workflow execution / step attempt; store only), ``workflow_stats`` and
``step_stats`` are the engine's statistics (any backend).

**Units**: numbers are raw, with the unit in the column name: seconds in ``*_seconds``
columns (``duration_seconds``, ``cpu_time_seconds``; a statistic's ``avg_seconds``,
``p95_seconds``, ``total_cpu_time_seconds``, ...), rates as fractions (``error_rate``)
or per minute (``throughput_per_minute``).  ``otel-workflow stats --format csv|json`` uses the
same names (:func:`machine_name`).

**CSV**: a header row with the column names, then one row per record, columns always in
the order of :data:`EXECUTION_COLUMNS` / :data:`STEP_COLUMNS` (or the statistics' field
order); empty cell for a missing value; lines end in CRLF (RFC 4180).  Text cells that a
spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return — a ``user_id`` of ``=HYPERLINK(...)``, say) are written with a leading
single quote, as OWASP advises against CSV injection; numeric cells (durations, counts,
CPU times) stay numbers.  JSON is written unchanged.

**JSON** (version :data:`EXPORT_FORMAT_VERSION`)::

    {
      "format": "otel-workflow-export",
      "version": 2,
      "kind": "executions",
      "generated_at": "2026-01-31T08:00:00+00:00",
      "range": {"since": "...ISO..." | null, "until": "...ISO..." | null},
      "columns": ["trace_id", "span_id", ..., "duration_seconds", ...],
      "rows": [{"trace_id": "...", ...}, ...],
      "row_count": 1234
    }

Times in raw rows are ISO 8601 UTC strings (``start``, ``end``); ``duration_seconds`` and
``cpu_time_seconds`` are seconds (a step's duration excludes time paused in a debugger);
``attributes`` is a JSON object and ``events`` a JSON list in JSON, JSON text in CSV.
From store schema v2 a failed row also carries ``status_description``, ``exception_type``,
``exception_message`` and ``exception_stacktrace`` (empty for rows written by v1).
``row_count`` comes last because it is only known once the rows are written.

Version history: **2** put the unit in the name of every number in seconds (``duration``
became ``duration_seconds``, ``cpu_time`` ``cpu_time_seconds``, a statistic's ``avg``
``avg_seconds`` and so on); **1** was the first.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING, Any

from otel_workflow.analytics.models import StepStats, TimeWindow, WorkflowStats
from otel_workflow.store.columns import EXECUTIONS, STEPS, export_columns

if TYPE_CHECKING:
    from otel_workflow.analytics._backend import Backend
    from otel_workflow.analytics.engine import AnalyticsEngine

EXPORT_FORMAT_VERSION = 2
"""Version of the JSON document; a new one means a column was renamed or its meaning changed."""
EXPORT_KINDS = ("executions", "steps", "workflow_stats", "step_stats")

EXECUTION_COLUMNS = export_columns(EXECUTIONS)
"""Column order of ``executions`` exports (from the store's one column list)."""

STEP_COLUMNS = export_columns(STEPS)
"""Column order of ``steps`` exports (from the store's one column list)."""

# OWASP "CSV Injection": a cell a spreadsheet would read as a formula starts with one of
# these; it is written with a leading single quote so it is shown as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


SECONDS_FIELDS = frozenset(
    {"avg", "min", "max", "p50", "p95", "p99", "total_cpu_time", "avg_cpu_time", "max_cpu_time"}
)
"""Fields of the analytics results that hold seconds without saying so in their name."""


def machine_name(field: str) -> str:
    """The CSV/JSON name of a result field: ``avg`` -> ``avg_seconds``; others unchanged."""
    return f"{field}_seconds" if field in SECONDS_FIELDS else field


def _stats_rows(items: Iterable[Any]) -> Iterator[list[Any]]:
    for item in items:
        yield list(item.to_dict().values())


def rows_for(
    engine: AnalyticsEngine, backend: Backend, kind: str, window: TimeWindow, workflow: str | None
) -> tuple[list[str], Iterator[list[Any]]]:
    """Column names and a lazy row iterator for ``kind`` over ``window``."""
    if kind in ("executions", "steps"):
        columns, rows = backend.rows(kind, window, workflow)
        return list(columns), (list(r) for r in rows)
    if kind == "workflow_stats":
        names = [machine_name(f.name) for f in dataclasses.fields(WorkflowStats)]
        stats: list[Any] = engine.workflow_stats(workflow, None, window.since, window.until)
        return names, _stats_rows(stats)
    if kind == "step_stats":
        names = [machine_name(f.name) for f in dataclasses.fields(StepStats)]
        stats = engine.step_stats(workflow, None, window.since, window.until)
        return names, _stats_rows(stats)
    raise ValueError(f"unknown export kind {kind!r}: expected one of {', '.join(EXPORT_KINDS)}")


@contextmanager
def _open_text(dest: str | os.PathLike[str] | IO[str]) -> Iterator[IO[str]]:
    if isinstance(dest, (str, os.PathLike)):
        with open(dest, "w", encoding="utf-8", newline="") as handle:
            yield handle
    else:
        yield dest


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        # A genuinely numeric value stays a number (a negative duration is no formula).
        return value
    if isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True)
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def write_csv(
    dest: str | os.PathLike[str] | IO[str], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Write a header and the rows as CSV to a path or text file; returns the row count."""
    count = 0
    with _open_text(dest) as handle:
        # RFC 4180 line ends: the writer then also quotes a cell holding a bare CR, which
        # would otherwise split the row for every CSV reader.
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(v) for v in row])
            count += 1
    return count


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(
    dest: str | os.PathLike[str] | IO[str],
    kind: str,
    window: TimeWindow,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> int:
    """Write the versioned JSON document (see the module docstring); returns the row count."""
    head = {
        "format": "otel-workflow-export",
        "version": EXPORT_FORMAT_VERSION,
        "kind": kind,
        "generated_at": datetime.now(timezone.utc).isoformat(),
        "range": window.to_dict(),
        "columns": list(columns),
    }
    count = 0
    with _open_text(dest) as handle:
        # The document is assembled by hand around the row stream so that only one row
        # is ever serialised at a time.
        opening = json.dumps(head, sort_keys=False)[:-1]
        handle.write(opening + ', "rows": [')
        for row in rows:
            record = dict(zip(columns, row, strict=False))
            handle.write(
                ("\n" if count == 0 else ",\n") + json.dumps(record, default=_json_default)
            )
            count += 1
        handle.write(f'\n], "row_count": {count}}}\n')
    return count


__all__ = [
    "EXECUTION_COLUMNS",
    "EXPORT_FORMAT_VERSION",
    "EXPORT_KINDS",
    "SECONDS_FIELDS",
    "STEP_COLUMNS",
    "machine_name",
    "rows_for",
    "write_csv",
    "write_json",
]
