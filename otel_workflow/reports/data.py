"""What a report shows, gathered from an engine over one resolved time window.

>>> data = collect(engine, since="24h")                              # doctest: +SKIP
>>> data.total, data.trend_window, data.interval                     # doctest: +SKIP

The statistics cover the window asked for, with the engine's defaults for an end not
asked for (:meth:`~otel_workflow.analytics.AnalyticsEngine.rate_window`: by default the
data's last 24 hours), and every rate is over that window.  The trends cover the part of
it that holds executions (to within one bucket), with buckets sized for that part: a 3-second run
inside a 24-hour window gets 1-second buckets over those seconds, not one 15-minute bucket
drawn as a dot at the edge of an empty day.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, TypeVar

from otel_workflow.analytics.models import (
    ErrorTypeStats,
    ExecutionRecord,
    Outlier,
    StepStats,
    TimeWindow,
    TrendPoint,
    UserStats,
    WorkflowStats,
)
from otel_workflow.analytics.timerange import TimeSpec, resolve_window
from otel_workflow.reports.links import check_trace_url

if TYPE_CHECKING:
    from otel_workflow.analytics.engine import AnalyticsEngine

MAX_TREND_SERIES = 8
"""Beyond this many workflows the throughput trend shows the total only."""

DRILL_DOWN_ROWS = 10
"""Rows in each drill-down table (slowest, failed, outliers); users get twice as many."""

_SLOWEST_STEPS = 10
# Bucket sizes to choose from: the smallest giving at most _MAX_BUCKETS buckets wins.
_NICE_INTERVALS = tuple(
    timedelta(seconds=s)
    for s in (1, 2, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600,
              12 * 3600, 86400, 7 * 86400)
)  # fmt: skip
_MAX_BUCKETS = 96
_OPEN_RANGE_INTERVAL = timedelta(hours=1)  # first look at a window with no start
# Prometheus rates need several scrapes per bucket; the store is exact at any size.
_MIN_INTERVAL = {"prometheus": timedelta(seconds=10)}
_DEFAULT_MIN_INTERVAL = timedelta(seconds=1)
_MIN_PER_BUCKET = 4
_T = TypeVar("_T")
_MAX_REFINEMENTS = 6  # each pass narrows the range ~96-fold: a week reaches seconds in 3


@dataclasses.dataclass(frozen=True)
class ReportData:
    """Everything a report shows, gathered from the engine over one time window.

    ``trend_window`` is the part of ``window`` the trend charts cover (where there are
    executions), in ``interval`` buckets.  Drill-down lists are ``None`` when the backend
    keeps no per-execution data (Prometheus), and empty when there is nothing to list.
    """

    window: TimeWindow
    generated_at: datetime
    backend: str
    interval: timedelta
    workflows: list[WorkflowStats]
    slowest_steps: list[StepStats]
    errors: list[ErrorTypeStats]
    throughput: list[TrendPoint]
    error_rate: list[TrendPoint]
    trend_window: TimeWindow | None = None
    slowest_executions: list[ExecutionRecord] | None = None
    failed_executions: list[ExecutionRecord] | None = None
    outliers: list[Outlier] | None = None
    users: list[UserStats] | None = None
    trace_url: str | None = None
    dropped_rows: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def total(self) -> int:
        """Executions in the window."""
        return sum(w.count for w in self.workflows)

    @property
    def failed(self) -> int:
        """Failed executions in the window."""
        return sum(w.failed for w in self.workflows)

    @property
    def window_seconds(self) -> float | None:
        """Length of :attr:`window`, the window every rate is over."""
        if self.window.since is None or self.window.until is None:
            return None
        return (self.window.until - self.window.since).total_seconds()

    @property
    def per_second(self) -> float | None:
        """Executions per second over :attr:`window` (the engine's one rate definition)."""
        seconds = self.window_seconds
        return self.total / seconds if seconds else None

    @property
    def dropped_total(self) -> int:
        """Rows the store dropped: the report's figures undercount by that many."""
        return sum(self.dropped_rows.values())

    @property
    def error_rate_overall(self) -> float | None:
        """Failed / all executions, or None with no executions."""
        return self.failed / self.total if self.total else None

    def errors_by_category(self) -> list[tuple[str, int]]:
        """Failed steps per error category, most first."""
        counts: dict[str, int] = defaultdict(int)
        for error in self.errors:
            counts[error.error_category or "unknown"] += error.count
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def pick_interval(
    span: TimeWindow | timedelta,
    floor: timedelta = _DEFAULT_MIN_INTERVAL,
    executions: int | None = None,
) -> timedelta:
    """The smallest nice bucket size (at least ``floor``) giving at most 96 buckets.

    With ``executions`` (how many the span holds), buckets are also wide enough to hold
    about 4 each on average: an error rate over one or two executions is all noise.
    """
    if isinstance(span, TimeWindow):
        if span.since is None or span.until is None:
            return max(_OPEN_RANGE_INTERVAL, floor)
        span = span.until - span.since
    if executions:
        floor = max(floor, span * _MIN_PER_BUCKET / executions)
    for interval in _NICE_INTERVALS:
        if interval >= floor and span / interval <= _MAX_BUCKETS:
            return interval
    return _NICE_INTERVALS[-1]


def covered_window(
    engine: AnalyticsEngine, window: TimeWindow, floor: timedelta = _DEFAULT_MIN_INTERVAL
) -> TimeWindow | None:
    """The part of ``window`` that holds executions, to within a bucket; None if none.

    Counts per bucket are read at the window's bucket size, then again over the buckets
    that held something, until the bucket size stops shrinking.
    """
    since, until = window.since, window.until
    for _ in range(_MAX_REFINEMENTS):
        interval = pick_interval(TimeWindow(since, until), floor)
        counts = engine.trends("count", interval, since=since, until=until)
        filled = [p for p in counts if p.value]
        if not filled:
            return None
        first, last = filled[0].start, filled[-1].end
        # Clamp to the window: buckets are aligned to the epoch, not to the window.
        since = first if since is None else max(since, first)
        until = last if until is None else min(until, last)
        if pick_interval(until - since, floor) >= interval:
            break
    return TimeWindow(since, until)


def collect(
    engine: AnalyticsEngine,
    since: TimeSpec = None,
    until: TimeSpec = None,
    *,
    now: datetime | None = None,
    trace_url: str | None = None,
) -> ReportData:
    """Query the engine once per section, all over the same resolved window.

    With no ``since`` the report covers the data's last 24 hours (the engine's
    :meth:`~otel_workflow.analytics.AnalyticsEngine.rate_window`), so its rates are the
    ones ``otel-workflow stats`` prints.  ``trace_url`` is a link template for execution
    ids (see :mod:`.links`); it is checked before any query runs.
    """
    template = check_trace_url(trace_url)
    current = now or datetime.now(timezone.utc)
    resolved = resolve_window(since, until, now=current)
    if resolved.since is not None and resolved.until is None:
        # "Since then" ends now, fixed once, so every section covers the same range.
        resolved = TimeWindow(resolved.since, current)
    # The statistics get the range as asked (so their rates are the engine's); the other
    # sections get the resolved rate window, both ends set.
    rated = engine.rate_window(resolved.since, resolved.until)
    window = TimeWindow(rated.since, rated.until)
    floor = _MIN_INTERVAL.get(engine.backend_name, _DEFAULT_MIN_INTERVAL)
    # The other sections' window: its start is the rate window's (floored to a
    # microsecond, so the first execution is in), an open end stays open.
    since_, until_ = window.since, resolved.until
    workflows = engine.workflow_stats(since=resolved.since, until=resolved.until)
    dropped = engine.dropped_rows()
    if not workflows:
        return ReportData(
            window=window, generated_at=current, backend=engine.backend_name,
            interval=pick_interval(window, floor), workflows=[], slowest_steps=[], errors=[],
            throughput=[], error_rate=[], trace_url=template, dropped_rows=dropped,
        )  # fmt: skip
    trend_window = covered_window(engine, window, floor) or window
    interval = pick_interval(trend_window, floor, sum(w.count for w in workflows))
    per_workflow = 1 < len({w.workflow for w in workflows}) <= MAX_TREND_SERIES

    def trend(metric: str, *, per_workflow: bool = False) -> list[TrendPoint]:
        return engine.trends(
            metric, interval, since=trend_window.since, until=trend_window.until,
            per_workflow=per_workflow,
        )  # fmt: skip

    def executions(order: str, failed_only: bool) -> list[ExecutionRecord]:
        return engine.executions(
            order, failed_only, since=since_, until=until_, limit=DRILL_DOWN_ROWS
        )

    return ReportData(
        window=window,
        generated_at=current,
        backend=engine.backend_name,
        interval=interval,
        workflows=workflows,
        slowest_steps=engine.slowest_steps(
            _SLOWEST_STEPS, "p95", since=resolved.since, until=resolved.until
        ),
        errors=engine.errors_by_type(since=since_, until=until_),
        throughput=trend("throughput", per_workflow=per_workflow),
        error_rate=trend("error_rate"),
        trend_window=trend_window,
        slowest_executions=_store_only(lambda: executions("slowest", False)),
        failed_executions=_store_only(lambda: executions("latest", True)),
        # One more than shown, so the report can say that there are more.
        outliers=_store_only(
            lambda: engine.outliers(0.99, since=since_, until=until_, limit=DRILL_DOWN_ROWS + 1)
        ),
        users=_store_only(
            lambda: engine.user_stats(since=since_, until=until_, limit=2 * DRILL_DOWN_ROWS + 1)
        ),
        trace_url=template,
        dropped_rows=dropped,
    )


def _store_only(query: Callable[[], list[_T]]) -> list[_T] | None:
    # Prometheus keeps no per-execution or per-user data by design: the section is left out.
    try:
        return query()
    except NotImplementedError:
        return None


__all__ = ["DRILL_DOWN_ROWS", "MAX_TREND_SERIES", "ReportData", "collect", "covered_window",
           "pick_interval"]  # fmt: skip
