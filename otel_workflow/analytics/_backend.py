"""What a backend of the AnalyticsEngine implements (the store and Prometheus both do).

The engine parses and validates arguments; a backend receives a resolved
:class:`~otel_workflow.analytics.models.TimeWindow` and plain filters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any, Protocol

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
class GroupSummary:
    """What workflow and step statistics share for one group with at least one execution.

    Each backend computes it its own way; the public models are built from it here, once.
    """

    count: int
    succeeded: int
    failed: int
    cancelled: int
    avg: float | None
    min: float | None
    max: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    throughput_per_minute: float | None

    def workflow_stats(self, workflow: str, workflow_type: str) -> WorkflowStats:
        return WorkflowStats(
            workflow=workflow,
            workflow_type=workflow_type,
            count=self.count,
            succeeded=self.succeeded,
            failed=self.failed,
            cancelled=self.cancelled,
            success_rate=self.succeeded / self.count,
            error_rate=self.failed / self.count,
            avg=self.avg,
            min=self.min,
            max=self.max,
            p50=self.p50,
            p95=self.p95,
            p99=self.p99,
            throughput_per_minute=self.throughput_per_minute,
        )

    def step_stats(
        self, workflow: str, step: str, total_cpu_time: float | None, avg_cpu_time: float | None
    ) -> StepStats:
        return StepStats(
            workflow=workflow,
            step=step,
            count=self.count,
            succeeded=self.succeeded,
            failed=self.failed,
            cancelled=self.cancelled,
            error_rate=self.failed / self.count,
            avg=self.avg,
            min=self.min,
            max=self.max,
            p50=self.p50,
            p95=self.p95,
            p99=self.p99,
            throughput_per_minute=self.throughput_per_minute,
            total_cpu_time=total_cpu_time,
            avg_cpu_time=avg_cpu_time,
        )


class Backend(Protocol):
    """The queries an analytics backend answers."""

    name: str

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

    def close(self) -> None: ...
