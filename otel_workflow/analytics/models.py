"""The results the :class:`~otel_workflow.analytics.AnalyticsEngine` returns.

Every result is a frozen dataclass with a ``to_dict()`` giving JSON-ready values
(datetimes as ISO 8601 strings in UTC, nested results as dicts).  Durations are in
seconds.  A statistic a backend cannot know is ``None`` (Prometheus has no exact minimum
or maximum, for example), never a made-up number.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime
from typing import Any


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, _Model):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


class _Model:
    """Base of the result dataclasses: adds ``to_dict()``."""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict of JSON-ready values (datetimes as ISO 8601 strings)."""
        return {
            f.name: _jsonable(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        }


@dataclasses.dataclass(frozen=True)
class TimeWindow(_Model):
    """The resolved range a result covers; ``since``/``until`` are timezone-aware UTC."""

    since: datetime | None
    until: datetime | None

    @property
    def minutes(self) -> float | None:
        """Length of the window in minutes, or ``None`` when either end is open."""
        if self.since is None or self.until is None:
            return None
        return (self.until - self.since).total_seconds() / 60.0


@dataclasses.dataclass(frozen=True)
class WorkflowStats(_Model):
    """Statistics of one workflow (name and type) over a time range.

    ``success_rate``/``error_rate`` are fractions in [0, 1] of ``count``.
    ``throughput_per_minute`` is ``count`` divided by the length of the rate window,
    ``rate_window_seconds`` (the one definition of a rate, :meth:`AnalyticsEngine.rate_window`:
    the window asked for; an end not asked for is the data's, and a window with no start
    covers at most the 24 hours before its end).  Percentiles follow
    :func:`otel_workflow.analytics.percentile` on the store and ``histogram_quantile`` on
    Prometheus.
    """

    workflow: str
    workflow_type: str
    count: int
    succeeded: int
    failed: int
    cancelled: int
    success_rate: float
    error_rate: float
    avg: float | None
    min: float | None
    max: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    throughput_per_minute: float | None
    rate_window_seconds: float | None = None


@dataclasses.dataclass(frozen=True)
class StepStats(_Model):
    """Statistics of one step of one workflow over a time range (CPU times in seconds).

    ``count`` is every attempt: ``succeeded + failed + cancelled + retried == count``,
    where ``retried`` counts the attempts that failed and were retried (status
    ``retried``) and ``failed`` only final failures.  ``error_rate`` is ``failed`` over
    the calls that ended (``count - retried``): a step that fails twice and then
    succeeds has ``failed == 0``, ``retried == 2`` and an error rate of 0.
    ``throughput_per_minute`` is ``count`` over ``rate_window_seconds``, as for
    :class:`WorkflowStats`.
    """

    workflow: str
    step: str
    count: int
    succeeded: int
    failed: int
    cancelled: int
    retried: int
    error_rate: float
    avg: float | None
    min: float | None
    max: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    throughput_per_minute: float | None
    total_cpu_time: float | None
    avg_cpu_time: float | None
    rate_window_seconds: float | None = None


@dataclasses.dataclass(frozen=True)
class TrendPoint(_Model):
    """One bucket of a time series: ``metric`` over ``[start, end)``.

    ``workflow`` is ``None`` for the aggregate over every matched workflow.  ``value`` is
    ``None`` when the bucket holds no data for a metric that needs some (a p95 of nothing).
    ``count`` is the number of executions in the bucket where known.
    """

    start: datetime
    end: datetime
    metric: str
    value: float | None
    workflow: str | None = None
    count: float | None = None


@dataclasses.dataclass(frozen=True)
class UserStats(_Model):
    """Per-user view (store only: user ids are never metric labels)."""

    user_id: str
    executions: int
    succeeded: int
    failed: int
    error_rate: float
    avg: float | None
    p95: float | None
    first_seen: datetime | None
    last_seen: datetime | None


@dataclasses.dataclass(frozen=True)
class TypeStats(_Model):
    """Statistics of every workflow of one ``workflow.type`` (rates as :class:`WorkflowStats`)."""

    workflow_type: str
    workflows: int
    count: int
    succeeded: int
    failed: int
    cancelled: int
    success_rate: float
    error_rate: float
    avg: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    throughput_per_minute: float | None
    rate_window_seconds: float | None = None


@dataclasses.dataclass(frozen=True)
class ErrorTypeStats(_Model):
    """Final step failures grouped by workflow, step, ``error.type`` and error category.

    A retried attempt is not a failure and is not counted here.
    """

    workflow: str
    step: str
    error_type: str
    error_category: str
    count: int


@dataclasses.dataclass(frozen=True)
class ConcurrencyStats(_Model):
    """Active executions over a range: the peak (and when), and the time-weighted mean."""

    workflow: str | None
    peak_active: float
    avg_active: float
    peak_at: datetime | None


@dataclasses.dataclass(frozen=True)
class StepResource(_Model):
    """CPU time spent in one step (seconds of thread CPU time)."""

    workflow: str
    step: str
    count: int
    total_cpu_time: float
    avg_cpu_time: float | None
    max_cpu_time: float | None


@dataclasses.dataclass(frozen=True)
class ResourceUsage(_Model):
    """Process memory and CPU over a range, and CPU time per step.

    Memory figures are resident set size in bytes; ``process_cpu_seconds`` is CPU time
    consumed by the instrumented processes within the range (summed over processes).
    """

    memory_peak_bytes: int | None
    memory_avg_bytes: float | None
    memory_latest_bytes: int | None
    process_cpu_seconds: float | None
    processes: int | None
    steps: tuple[StepResource, ...]


@dataclasses.dataclass(frozen=True)
class Outlier(_Model):
    """An execution slower than ``threshold`` (its workflow's ``quantile``), with ids.

    ``trace_id`` and ``span_id`` are lower-case hex, ready to open in a trace viewer.
    """

    workflow: str
    workflow_type: str
    execution_id: str | None
    trace_id: str
    span_id: str
    start: datetime
    duration: float
    threshold: float
    quantile: float
    status: str
    user_id: str | None
    error_type: str | None


@dataclasses.dataclass(frozen=True)
class ExecutionRecord(_Model):
    """One workflow execution with the ids to find it again (store only).

    ``trace_id`` and ``span_id`` are lower-case hex; ``duration`` is in seconds.
    """

    workflow: str
    workflow_type: str
    execution_id: str | None
    trace_id: str
    span_id: str
    start: datetime
    duration: float
    status: str
    user_id: str | None
    error_type: str | None
    error_category: str | None


__all__ = [
    "ConcurrencyStats",
    "ErrorTypeStats",
    "ExecutionRecord",
    "Outlier",
    "ResourceUsage",
    "StepResource",
    "StepStats",
    "TimeWindow",
    "TrendPoint",
    "TypeStats",
    "UserStats",
    "WorkflowStats",
]
