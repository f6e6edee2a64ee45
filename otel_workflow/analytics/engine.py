"""The AnalyticsEngine: one API over the embedded store or Prometheus.

>>> eng = AnalyticsEngine.from_store("otel-workflow.db")            # doctest: +SKIP
>>> for s in eng.workflow_stats(since="24h"):                        # doctest: +SKIP
...     print(s.workflow, s.count, s.p95)

Arguments are validated here (a malformed range, interval or limit is a ValueError naming
it); an unknown workflow simply matches nothing and gives an empty result.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import IO, Any, TypeVar

from otel_workflow.analytics import exports
from otel_workflow.analytics._backend import EXECUTION_ORDERS, TREND_METRICS, Backend
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
from otel_workflow.analytics.timerange import TimeSpec, parse_duration, resolve_window

STEP_SORT_KEYS = ("p50", "p95", "p99", "avg", "max", "total_cpu_time", "count")
"""What :meth:`AnalyticsEngine.slowest_steps` can rank by."""

DASHBOARD_DATA_VERSION = 1
"""Version of the :meth:`AnalyticsEngine.dashboard_data` document structure."""

DEFAULT_RATE_SPAN = timedelta(hours=24)
"""The longest window a statistic with no ``since`` covers (:meth:`AnalyticsEngine.rate_window`)."""

_Rated = TypeVar("_Rated", WorkflowStats, StepStats, TypeStats)


def _with_rate(stats: _Rated, window: TimeWindow) -> _Rated:
    """``stats`` with its rate: ``count`` over the length of ``window``, per minute."""
    assert window.since is not None and window.until is not None
    seconds = (window.until - window.since).total_seconds()
    per_minute = stats.count / seconds * 60.0 if seconds > 0 else None
    return dataclasses.replace(
        stats, throughput_per_minute=per_minute, rate_window_seconds=max(seconds, 0.0)
    )


def _positive_limit(limit: int | None, name: str = "limit") -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"{name} must be an int or None, got {limit!r}")
    if limit < 1:
        raise ValueError(f"{name} must be at least 1, got {limit!r}")
    return limit


def _optional_name(value: str | None, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a string or None, got {value!r}")
    return value


def _slowest(stats: list[StepStats], by: str, limit: int | None) -> list[StepStats]:
    ranked = [s for s in stats if getattr(s, by) is not None]
    ranked.sort(key=lambda s: (-float(getattr(s, by)), s.workflow, s.step))
    return ranked[:limit]


def _most_failed(stats: list[StepStats], limit: int | None) -> list[StepStats]:
    ranked = [s for s in stats if s.failed > 0]
    ranked.sort(key=lambda s: (-s.failed, -s.error_rate, s.workflow, s.step))
    return ranked[:limit]


class AnalyticsEngine:
    """Statistics, trends, per-user/per-type views, outliers, executions and exports.

    Build one with :meth:`from_store` (the embedded SQLite store, exact statistics) or
    :meth:`from_prometheus` (any PromQL endpoint; percentiles from histogram buckets).
    Every query takes ``since``/``until`` (datetimes, ISO strings or durations like
    ``"24h"`` meaning "that long ago").  On the store an open end means "all data"; on
    Prometheus an open ``since`` means the last 24 hours and an open ``until`` means now.
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    # --- construction ------------------------------------------------------------------
    @classmethod
    def from_store(cls, path: str | os.PathLike[str]) -> AnalyticsEngine:
        """An engine over the SQLite store at ``path`` (which must exist).

        Raises FileNotFoundError for a missing file and
        :class:`~otel_workflow.exporters.store.StoreError` for a corrupt store or one of a
        newer schema version (which is never modified).
        """
        from otel_workflow.analytics.store_backend import StoreBackend

        return cls(StoreBackend(path))

    @classmethod
    def from_prometheus(cls, url: str, *, timeout: float = 10.0) -> AnalyticsEngine:
        """An engine over the Prometheus HTTP API at ``url`` (e.g. ``http://127.0.0.1:9090``).

        Nothing is contacted until the first query; an unreachable server then raises a
        ConnectionError naming the URL.
        """
        from otel_workflow.analytics.prometheus_backend import PrometheusBackend

        return cls(PrometheusBackend(url, timeout=timeout))

    @property
    def backend_name(self) -> str:
        """``"store"`` or ``"prometheus"``."""
        return self._backend.name

    def close(self) -> None:
        """Release the backend's connection."""
        self._backend.close()

    def __enter__(self) -> AnalyticsEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def dropped_rows(self) -> dict[str, int]:
        """Rows the store's writers had to drop, by reason (empty: none; always on Prometheus).

        Statistics over a store that dropped rows undercount by that many.
        """
        return dict(self._backend.dropped_rows())

    # --- the one definition of a rate --------------------------------------------------
    def rate_window(
        self,
        since: TimeSpec = None,
        until: TimeSpec = None,
        workflow: str | None = None,
        workflow_type: str | None = None,
    ) -> TimeWindow:
        """The window a statistic covers and its rate is over, both ends set.

        Every ``throughput_per_minute`` is the executions in this window divided by its
        length (``rate_window_seconds``), in :meth:`workflow_stats`, :meth:`step_stats`,
        :meth:`by_type`, the CLI and the report alike.  It is the window asked for; an end
        not asked for is the data's:

        * ``since`` and ``until`` given: exactly that window;
        * ``since`` given, no ``until``: from ``since`` to now;
        * no ``since``: from the first execution to ``until`` (or, without ``until``, to
          the end of the last-started execution), but never more than
          :data:`DEFAULT_RATE_SPAN` (24 hours) before that end.  The statistics then count
          only that window too.  Prometheus cannot know the data's extent: there it is
          the 24 hours before ``until`` (or now).

        So 60 executions over 3 seconds, queried with no range, are 1,200/min over 3 s.
        """
        window = resolve_window(since, until)
        return self._rated(window, workflow, workflow_type)[1]

    def _rated(
        self, window: TimeWindow, workflow: str | None, workflow_type: str | None
    ) -> tuple[TimeWindow, TimeWindow]:
        """(the window to query, the rate window) for a resolved ``window``."""
        now = datetime.now(timezone.utc)
        if window.since is not None:
            return window, TimeWindow(window.since, window.until or now)
        extent = self._backend.extent(window, workflow, workflow_type)
        if extent is not None:
            first, last = extent
            end = window.until or last
            if end - first <= DEFAULT_RATE_SPAN:
                # The query keeps its open start: nothing is lost to rounding the first start.
                return window, TimeWindow(first, end)
        end = window.until or (extent[1] if extent is not None else now)
        start = end - DEFAULT_RATE_SPAN
        return TimeWindow(start, window.until), TimeWindow(start, end)

    # --- statistics --------------------------------------------------------------------
    def workflow_stats(
        self,
        workflow: str | None = None,
        workflow_type: str | None = None,
        since: TimeSpec = None,
        until: TimeSpec = None,
    ) -> list[WorkflowStats]:
        """One :class:`WorkflowStats` per (workflow, type), sorted by workflow name.

        Counts and rates cover :meth:`rate_window` (by default the data's last 24 hours).
        """
        name = _optional_name(workflow, "workflow")
        wtype = _optional_name(workflow_type, "workflow_type")
        query, rated = self._rated(resolve_window(since, until), name, wtype)
        return [_with_rate(s, rated) for s in self._backend.workflow_stats(query, name, wtype)]

    def step_stats(
        self,
        workflow: str | None = None,
        step: str | None = None,
        since: TimeSpec = None,
        until: TimeSpec = None,
    ) -> list[StepStats]:
        """One :class:`StepStats` per (workflow, step), sorted by workflow then step.

        Counts and rates cover :meth:`rate_window`, as :meth:`workflow_stats`.
        """
        name = _optional_name(workflow, "workflow")
        query, rated = self._rated(resolve_window(since, until), name, None)
        return [
            _with_rate(s, rated)
            for s in self._backend.step_stats(query, name, _optional_name(step, "step"))
        ]

    def slowest_steps(
        self,
        limit: int = 10,
        by: str = "p95",
        workflow: str | None = None,
        since: TimeSpec = None,
        until: TimeSpec = None,
    ) -> list[StepStats]:
        """The ``limit`` steps with the largest ``by`` (one of :data:`STEP_SORT_KEYS`)."""
        if by not in STEP_SORT_KEYS:
            raise ValueError(
                f"unknown sort key {by!r}: expected one of {', '.join(STEP_SORT_KEYS)}"
            )
        top = _positive_limit(limit)
        return _slowest(self.step_stats(workflow, None, since, until), by, top)

    def most_failed_steps(
        self,
        limit: int = 10,
        workflow: str | None = None,
        since: TimeSpec = None,
        until: TimeSpec = None,
    ) -> list[StepStats]:
        """The ``limit`` steps with the most failures (steps that never failed are left out)."""
        top = _positive_limit(limit)
        return _most_failed(self.step_stats(workflow, None, since, until), top)

    def trends(
        self,
        metric: str = "p95",
        interval: str | timedelta = "5m",
        workflow: str | None = None,
        workflow_type: str | None = None,
        since: TimeSpec = None,
        until: TimeSpec = None,
        per_workflow: bool = False,
    ) -> list[TrendPoint]:
        """A time series of ``metric`` (one of :data:`TREND_METRICS`) in ``interval`` buckets.

        Buckets are aligned to multiples of ``interval`` since the epoch; every bucket in
        the range is present (with ``value=None`` or 0 when it holds nothing), in time
        order.  ``per_workflow=True`` gives one series per workflow (``TrendPoint.workflow``
        set), otherwise one aggregate series.
        """
        if metric not in TREND_METRICS:
            raise ValueError(
                f"unknown trend metric {metric!r}: expected one of {', '.join(TREND_METRICS)}"
            )
        step = parse_duration(interval)
        window = resolve_window(since, until)
        return self._backend.trends(
            window,
            metric,
            step,
            _optional_name(workflow, "workflow"),
            _optional_name(workflow_type, "workflow_type"),
            bool(per_workflow),
        )

    def user_stats(
        self,
        workflow: str | None = None,
        since: TimeSpec = None,
        until: TimeSpec = None,
        limit: int | None = None,
    ) -> list[UserStats]:
        """Per user: executions, error rate, p95; most executions first.

        Store only: Prometheus has no user label by design (user ids are unbounded and
        would explode its series), so the Prometheus backend raises NotImplementedError.
        """
        window = resolve_window(since, until)
        return self._backend.user_stats(
            window, _optional_name(workflow, "workflow"), _positive_limit(limit)
        )

    def by_type(
        self,
        workflow_type: str | None = None,
        since: TimeSpec = None,
        until: TimeSpec = None,
    ) -> list[TypeStats]:
        """One :class:`TypeStats` per ``workflow.type`` (sorted), over :meth:`rate_window`."""
        wtype = _optional_name(workflow_type, "workflow_type")
        query, rated = self._rated(resolve_window(since, until), None, wtype)
        return [_with_rate(s, rated) for s in self._backend.by_type(query, wtype)]

    def errors_by_type(
        self,
        workflow: str | None = None,
        since: TimeSpec = None,
        until: TimeSpec = None,
    ) -> list[ErrorTypeStats]:
        """Failed steps per (workflow, step, error type, category), most frequent first."""
        window = resolve_window(since, until)
        return self._backend.errors_by_type(window, _optional_name(workflow, "workflow"))

    def concurrency(
        self,
        workflow: str | None = None,
        since: TimeSpec = None,
        until: TimeSpec = None,
    ) -> ConcurrencyStats:
        """Peak and time-weighted average number of executions in progress."""
        window = resolve_window(since, until)
        return self._backend.concurrency(window, _optional_name(workflow, "workflow"))

    def resource_usage(
        self,
        workflow: str | None = None,
        since: TimeSpec = None,
        until: TimeSpec = None,
    ) -> ResourceUsage:
        """Process memory (peak/avg/latest RSS), process CPU seconds, and CPU time per step."""
        window = resolve_window(since, until)
        return self._backend.resource_usage(window, _optional_name(workflow, "workflow"))

    def outliers(
        self,
        quantile: float = 0.99,
        workflow: str | None = None,
        since: TimeSpec = None,
        until: TimeSpec = None,
        limit: int | None = None,
    ) -> list[Outlier]:
        """Executions slower than their workflow's ``quantile`` duration, slowest first.

        Every outlier is returned unless ``limit`` is given (nothing is dropped
        silently).  Store only: Prometheus keeps no per-execution data (use exemplars in
        Grafana there); the Prometheus backend raises NotImplementedError.
        """
        if isinstance(quantile, bool) or not isinstance(quantile, (int, float)):
            raise TypeError(f"quantile must be a number in (0, 1), got {quantile!r}")
        if not 0.0 < float(quantile) < 1.0:
            raise ValueError(f"quantile must be within (0, 1), got {quantile!r}")
        window = resolve_window(since, until)
        return self._backend.outliers(
            window, float(quantile), _optional_name(workflow, "workflow"), _positive_limit(limit)
        )

    def executions(
        self,
        order: str = "slowest",
        failed_only: bool = False,
        workflow: str | None = None,
        since: TimeSpec = None,
        until: TimeSpec = None,
        limit: int = 20,
    ) -> list[ExecutionRecord]:
        """The ``limit`` slowest (``order="slowest"``) or newest (``"latest"``) executions.

        ``failed_only=True`` keeps the failed ones (counted as ``failed`` in the statistics).
        Every record has its execution, trace and span ids, ready for a trace viewer.  Store
        only, like :meth:`outliers`: the Prometheus backend raises NotImplementedError.
        """
        if order not in EXECUTION_ORDERS:
            raise ValueError(
                f"unknown execution order {order!r}: expected one of {', '.join(EXECUTION_ORDERS)}"
            )
        top = _positive_limit(limit)
        assert top is not None
        window = resolve_window(since, until)
        return self._backend.executions(
            window, _optional_name(workflow, "workflow"), order, bool(failed_only), top
        )

    # --- exports -----------------------------------------------------------------------
    def iter_rows(
        self,
        kind: str = "executions",
        workflow: str | None = None,
        since: TimeSpec = None,
        until: TimeSpec = None,
    ) -> tuple[list[str], Iterator[list[Any]]]:
        """Columns and a lazy row iterator for ``kind`` (see :data:`exports.EXPORT_KINDS`)."""
        window = resolve_window(since, until)
        return exports.rows_for(
            self, self._backend, kind, window, _optional_name(workflow, "workflow")
        )

    def export_csv(
        self,
        dest: str | os.PathLike[str] | IO[str],
        kind: str = "executions",
        workflow: str | None = None,
        since: TimeSpec = None,
        until: TimeSpec = None,
    ) -> int:
        """Stream ``kind`` rows as CSV (header row, stable column order); returns the row count."""
        columns, rows = self.iter_rows(kind, workflow, since, until)
        return exports.write_csv(dest, columns, rows)

    def export_json(
        self,
        dest: str | os.PathLike[str] | IO[str],
        kind: str = "executions",
        workflow: str | None = None,
        since: TimeSpec = None,
        until: TimeSpec = None,
    ) -> int:
        """Stream ``kind`` rows as a versioned JSON document; returns the row count.

        The structure is documented in :mod:`otel_workflow.analytics.exports`.
        """
        window = resolve_window(since, until)
        columns, rows = exports.rows_for(
            self, self._backend, kind, window, _optional_name(workflow, "workflow")
        )
        return exports.write_json(dest, kind, window, columns, rows)

    def dashboard_data(
        self,
        since: TimeSpec = "24h",
        until: TimeSpec = None,
        workflow: str | None = None,
        interval: str | timedelta | None = None,
    ) -> dict[str, Any]:
        """One JSON-ready document with everything a dashboard shows (structure below).

        ``{"version": 1, "backend": "store"|"prometheus", "generated_at": ISO,
        "range": {"since", "until"}, "interval_seconds": float,
        "workflows": [WorkflowStats...], "steps": [StepStats...],
        "slowest_steps": [...], "most_failed_steps": [...],
        "by_type": [TypeStats...], "errors_by_type": [ErrorTypeStats...],
        "trends": {"throughput": [TrendPoint...], "error_rate": [...], "p95": [...]},
        "concurrency": ConcurrencyStats, "resources": ResourceUsage,
        "outliers": [Outlier...] | null, "users": [UserStats...] | null}``

        Sections a backend cannot provide (users and outliers on Prometheus) are ``null``.
        An interval of ``None`` picks about 60 buckets over the range.
        """
        now = datetime.now(timezone.utc)
        window = resolve_window(since, until, now=now)
        start = window.since
        end = window.until or now
        if interval is None:
            span = (end - start) if start is not None else timedelta(hours=24)
            step = max(span / 60, timedelta(seconds=1))
        else:
            step = parse_duration(interval)
        args: dict[str, Any] = {"since": window.since, "until": end}
        doc: dict[str, Any] = {
            "version": DASHBOARD_DATA_VERSION,
            "backend": self.backend_name,
            "generated_at": now.isoformat(),
            "range": TimeWindow(window.since, end).to_dict(),
            "interval_seconds": step.total_seconds(),
        }
        doc["workflows"] = [s.to_dict() for s in self.workflow_stats(workflow, None, **args)]
        steps = self.step_stats(workflow, None, **args)
        doc["steps"] = [s.to_dict() for s in steps]
        doc["slowest_steps"] = [s.to_dict() for s in _slowest(steps, "p95", 10)]
        doc["most_failed_steps"] = [s.to_dict() for s in _most_failed(steps, 10)]
        doc["by_type"] = [s.to_dict() for s in self.by_type(None, **args)]
        doc["errors_by_type"] = [e.to_dict() for e in self.errors_by_type(workflow, **args)]
        doc["trends"] = {
            metric: [p.to_dict() for p in self.trends(metric, step, workflow, None, **args)]
            for metric in ("throughput", "error_rate", "p95")
        }
        doc["concurrency"] = self.concurrency(workflow, **args).to_dict()
        doc["resources"] = self.resource_usage(workflow, **args).to_dict()
        try:
            doc["outliers"] = [o.to_dict() for o in self.outliers(0.99, workflow, **args)]
        except NotImplementedError:
            doc["outliers"] = None
        try:
            doc["users"] = [u.to_dict() for u in self.user_stats(workflow, **args, limit=100)]
        except NotImplementedError:
            doc["users"] = None
        return doc


__all__ = ["DASHBOARD_DATA_VERSION", "DEFAULT_RATE_SPAN", "STEP_SORT_KEYS", "AnalyticsEngine"]
