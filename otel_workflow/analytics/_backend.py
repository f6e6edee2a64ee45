"""What a backend of the AnalyticsEngine implements (the store and Prometheus both do).

The engine parses and validates arguments; a backend receives a resolved
:class:`~otel_workflow.analytics.models.TimeWindow` and plain filters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from otel_workflow import semconv
from otel_workflow.analytics.models import (
    ConcurrencyStats,
    ErrorTypeStats,
    ExecutionRecord,
    Outlier,
    ResourceUsage,
    StepStats,
    TimeWindow,
    TrendPoint,
    TypeStats,
    UserStats,
    WorkflowStats,
)

TREND_METRICS = (
    "count",
    "throughput",
    "error_rate",
    "success_rate",
    "avg",
    "p50",
    "p95",
    "p99",
)
"""Metrics :meth:`AnalyticsEngine.trends` knows (throughput is executions per minute)."""

EXECUTION_ORDERS = ("slowest", "latest")
"""How :meth:`AnalyticsEngine.executions` can rank executions."""

QUANTILE_OF = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


@dataclasses.dataclass(frozen=True)
class Outcomes:
    """Attempts by outcome.  Any status other than ok, cancelled and retried is a failure."""

    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    retried: int = 0

    @classmethod
    def of(cls, by_status: Mapping[str, int]) -> Outcomes:
        """Counts per ``workflow.status`` value, classified once for both backends."""
        known = (semconv.STATUS_OK, semconv.STATUS_CANCELLED, semconv.STATUS_RETRIED)
        return cls(
            succeeded=by_status.get(semconv.STATUS_OK, 0),
            failed=sum(n for status, n in by_status.items() if status not in known),
            cancelled=by_status.get(semconv.STATUS_CANCELLED, 0),
            retried=by_status.get(semconv.STATUS_RETRIED, 0),
        )

    @property
    def count(self) -> int:
        return self.succeeded + self.failed + self.cancelled + self.retried

    @property
    def error_rate(self) -> float:
        """Final failures over the calls that ended (a retried attempt did not end one)."""
        ended = self.count - self.retried
        return self.failed / ended if ended else 0.0

    @property
    def success_rate(self) -> float:
        ended = self.count - self.retried
        return self.succeeded / ended if ended else 0.0


@dataclasses.dataclass(frozen=True)
class GroupSummary:
    """What workflow and step statistics share for one group with at least one execution.

    Each backend computes it its own way; the public models are built from it here, once.
    """

    outcomes: Outcomes
    avg: float | None
    min: float | None
    max: float | None
    p50: float | None
    p95: float | None
    p99: float | None

    @property
    def count(self) -> int:
        return self.outcomes.count

    def workflow_stats(self, workflow: str, workflow_type: str) -> WorkflowStats:
        return WorkflowStats(
            workflow=workflow,
            workflow_type=workflow_type,
            count=self.count,
            succeeded=self.outcomes.succeeded,
            failed=self.outcomes.failed,
            cancelled=self.outcomes.cancelled,
            success_rate=self.outcomes.success_rate,
            error_rate=self.outcomes.error_rate,
            avg=self.avg,
            min=self.min,
            max=self.max,
            p50=self.p50,
            p95=self.p95,
            p99=self.p99,
            throughput_per_minute=None,  # the engine's, over its rate window
        )

    def step_stats(
        self, workflow: str, step: str, total_cpu_time: float | None, avg_cpu_time: float | None
    ) -> StepStats:
        return StepStats(
            workflow=workflow,
            step=step,
            count=self.count,
            succeeded=self.outcomes.succeeded,
            failed=self.outcomes.failed,
            cancelled=self.outcomes.cancelled,
            retried=self.outcomes.retried,
            error_rate=self.outcomes.error_rate,
            avg=self.avg,
            min=self.min,
            max=self.max,
            p50=self.p50,
            p95=self.p95,
            p99=self.p99,
            throughput_per_minute=None,  # the engine's, over its rate window
            total_cpu_time=total_cpu_time,
            avg_cpu_time=avg_cpu_time,
        )


class Backend(Protocol):
    """The queries an analytics backend answers."""

    name: str

    def extent(
        self, window: TimeWindow, workflow: str | None, workflow_type: str | None
    ) -> tuple[datetime, datetime] | None:
        """The first start and the last end of the executions before ``window.until``.

        ``None`` when there are none, or when the backend cannot know (Prometheus): the
        engine then takes the 24 hours before the window's end.
        """
        ...

    def workflow_stats(
        self, window: TimeWindow, workflow: str | None, workflow_type: str | None
    ) -> list[WorkflowStats]: ...

    def step_stats(
        self, window: TimeWindow, workflow: str | None, step: str | None
    ) -> list[StepStats]: ...

    def trends(
        self,
        window: TimeWindow,
        metric: str,
        interval: timedelta,
        workflow: str | None,
        workflow_type: str | None,
        per_workflow: bool,
    ) -> list[TrendPoint]: ...

    def user_stats(
        self, window: TimeWindow, workflow: str | None, limit: int | None
    ) -> list[UserStats]: ...

    def by_type(self, window: TimeWindow, workflow_type: str | None) -> list[TypeStats]: ...

    def errors_by_type(self, window: TimeWindow, workflow: str | None) -> list[ErrorTypeStats]: ...

    def concurrency(self, window: TimeWindow, workflow: str | None) -> ConcurrencyStats: ...

    def resource_usage(self, window: TimeWindow, workflow: str | None) -> ResourceUsage: ...

    def outliers(
        self, window: TimeWindow, quantile: float, workflow: str | None, limit: int | None
    ) -> list[Outlier]: ...

    def executions(
        self, window: TimeWindow, workflow: str | None, order: str, failed_only: bool, limit: int
    ) -> list[ExecutionRecord]:
        """The ``limit`` first executions by ``order`` (``slowest`` or ``latest``)."""
        ...

    def rows(
        self, kind: str, window: TimeWindow, workflow: str | None
    ) -> tuple[Sequence[str], Iterator[Sequence[Any]]]:
        """Column names and a lazy iterator of raw rows (``executions`` or ``steps``)."""
        ...

    def dropped_rows(self) -> dict[str, int]:
        """Rows the source lost before they were stored, by reason (empty: none)."""
        ...

    def close(self) -> None: ...
