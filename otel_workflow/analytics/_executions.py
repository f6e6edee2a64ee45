"""Pick executions (the slowest, the latest failed) out of a backend's raw row stream.

The row stream is read once and never held: a bounded heap keeps the ``limit`` best rows,
so memory stays O(limit) whatever the store holds.  A backend that can answer the question
with an index (``ORDER BY duration DESC LIMIT n``) may do so later behind the same engine
method; the result would be the same.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from otel_workflow import semconv
from otel_workflow.analytics.models import ExecutionRecord

EXECUTION_ORDERS = ("slowest", "latest")
"""How :meth:`AnalyticsEngine.executions` can rank executions."""

# "Failed" as in the statistics: anything that neither succeeded nor was cancelled.
_NOT_FAILED = (semconv.STATUS_OK, semconv.STATUS_CANCELLED)


def _record(index: dict[str, int], row: Sequence[Any]) -> ExecutionRecord:
    def get(name: str) -> Any:
        return row[index[name]]

    start = get("start")
    return ExecutionRecord(
        workflow=str(get("workflow")),
        workflow_type=str(get("workflow_type") or ""),
        execution_id=get("execution_id"),
        trace_id=str(get("trace_id")),
        span_id=str(get("span_id")),
        start=datetime.fromisoformat(start) if isinstance(start, str) else start,
        duration=float(get("duration") or 0.0),
        status=str(get("status")),
        user_id=get("user_id"),
        error_type=get("error_type"),
        error_category=get("error_category"),
    )


def top_executions(
    columns: Sequence[str],
    rows: Iterator[Sequence[Any]],
    *,
    order: str,
    failed_only: bool,
    limit: int,
) -> list[ExecutionRecord]:
    """The ``limit`` first executions by ``order`` (slowest: longest first; latest: newest)."""
    index = {name: i for i, name in enumerate(columns)}
    status, duration, start = index["status"], index["duration"], index["start"]
    kept = (row for row in rows if not failed_only or row[status] not in _NOT_FAILED)
    if order == "slowest":
        best = heapq.nlargest(limit, kept, key=lambda row: float(row[duration] or 0.0))
    else:
        # UTC isoformat() strings sort as the times they name (a missing fraction is
        # "+00:00", which sorts before ".000001+00:00"), so no row is parsed to rank it.
        best = heapq.nlargest(limit, kept, key=lambda row: str(row[start]))
    return [_record(index, row) for row in best]


__all__ = ["EXECUTION_ORDERS", "top_executions"]
