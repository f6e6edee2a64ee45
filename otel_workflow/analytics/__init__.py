"""Analytics over workflow telemetry: the embedded store or Prometheus, one API.

>>> from otel_workflow.analytics import AnalyticsEngine
>>> eng = AnalyticsEngine.from_store("otel-workflow.db")             # doctest: +SKIP
>>> eng.workflow_stats(since="24h")                                   # doctest: +SKIP

Two definitions every result shares:

* **A retried attempt is not a failure.**  A step attempt that failed and was tried again
  has status ``retried``; ``failed``, error rates and ``errors_by_type`` count final
  failures only, and ``StepStats.retried`` counts the retried attempts.
* **One rate.**  ``throughput_per_minute`` is the executions in the rate window divided
  by its length (``rate_window_seconds``): the window asked for, an end not asked for
  being the data's, and a window with no ``since`` at most 24 hours long
  (:meth:`AnalyticsEngine.rate_window`).  Show it with its window:
  ``otel_workflow._units.format_rate(per_second, over=seconds)``.
"""

from __future__ import annotations

from otel_workflow.analytics._backend import EXECUTION_ORDERS, TREND_METRICS
from otel_workflow.analytics._percentile import percentile
from otel_workflow.analytics.engine import DASHBOARD_DATA_VERSION, STEP_SORT_KEYS, AnalyticsEngine
from otel_workflow.analytics.exports import EXPORT_FORMAT_VERSION, EXPORT_KINDS
from otel_workflow.analytics.models import (
    ConcurrencyStats,
    ErrorTypeStats,
    ExecutionRecord,
    Outlier,
    ResourceUsage,
    StepResource,
    StepStats,
    TimeWindow,
    TrendPoint,
    TypeStats,
    UserStats,
    WorkflowStats,
)
from otel_workflow.analytics.timerange import parse_duration, parse_time

__all__ = [
    "DASHBOARD_DATA_VERSION",
    "EXECUTION_ORDERS",
    "EXPORT_FORMAT_VERSION",
    "EXPORT_KINDS",
    "STEP_SORT_KEYS",
    "TREND_METRICS",
    "AnalyticsEngine",
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
    "parse_duration",
    "parse_time",
    "percentile",
]
