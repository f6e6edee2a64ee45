"""The AnalyticsEngine backend over the embedded SQLite store: exact statistics.

Percentiles are exact, by the "inclusive" method (see :mod:`._percentile`), and are read
straight from the covering ``*_duration`` indexes: one aggregate query per table gives
each group's count, sum, min and max, then each percentile is one
``ORDER BY duration LIMIT 2 OFFSET rank`` walk of that group's index range — no table
scan and no sort, so statistics over millions of rows take a fraction of a second.

Counts classify each row's status once (:class:`._backend.Outcomes`): a ``retried``
attempt is neither a success nor a failure.  Rates are the engine's (one definition, over
its rate window); :meth:`StoreBackend.extent` gives it the data's first start and the end
of the last-started execution.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from otel_workflow import semconv
from otel_workflow.analytics._backend import QUANTILE_OF, GroupSummary, Outcomes
from otel_workflow.analytics._percentile import percentile, ranks
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
from otel_workflow.analytics.timerange import from_ns, to_ns
from otel_workflow.store import StoreReader

_OK = semconv.STATUS_OK
_ERROR = semconv.STATUS_ERROR
_CANCELLED = semconv.STATUS_CANCELLED
_RETRIED = semconv.STATUS_RETRIED
_MAX_BUCKETS = 100_000
# The condition of the partial *_failed indexes, spelled exactly so SQLite picks them.
_NOT_OK = "status != 'ok'"


class _Where:
    """A WHERE clause built from optional filters, with its parameters."""

    def __init__(self, window: TimeWindow) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []
        if window.since is not None:
            self.add("start_ns >= ?", to_ns(window.since))
        if window.until is not None:
            self.add("start_ns < ?", to_ns(window.until))

    def add(self, clause: str, *params: Any) -> _Where:
        self.clauses.append(clause)
        self.params.extend(params)
        return self

    def eq(self, column: str, value: str | None) -> _Where:
        if value is not None:
            self.add(f"{column} = ?", value)
        return self

    def sql(self, *extra: str) -> str:
        clauses = [*self.clauses, *extra]
        return (" WHERE " + " AND ".join(clauses)) if clauses else ""


class StoreBackend:
    """Exact statistics from the SQLite store file at ``path``."""

    name = "store"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        # Read-only: a reader never migrates or writes (an old store is refused with
        # what to do, a newer one refused).
        self._store = StoreReader(path)
        self._conn: sqlite3.Connection = self._store.connection

    def close(self) -> None:
        self._store.close()

    def dropped_rows(self) -> dict[str, int]:
        """Rows the store's writers lost, by reason (see otel_workflow.store.dropped_rows)."""
        return self._store.dropped_rows()

    # --- helpers -----------------------------------------------------------------------
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._conn.execute(sql, params).fetchall()

    def extent(
        self, window: TimeWindow, workflow: str | None, workflow_type: str | None
    ) -> tuple[datetime, datetime] | None:
        """The first start and the end of the last-started execution before ``until``."""
        where = _Where(TimeWindow(None, window.until)).eq("workflow", workflow)
        where.eq("workflow_type", workflow_type)
        first = self._query(f"SELECT min(start_ns) FROM executions{where.sql()}", where.params)
        last = self._query(
            f"SELECT end_ns FROM executions{where.sql()} ORDER BY start_ns DESC LIMIT 1",
            where.params,
        )
        if not last or first[0][0] is None:
            return None
        # Whole microseconds (a datetime's resolution), outward: a window from the first
        # start never leaves the first execution out.
        start = first[0][0] - first[0][0] % 1000
        end = max(last[0][0], first[0][0])
        return from_ns(start), from_ns(end + (-end) % 1000)

    def _percentiles(
        self,
        table: str,
        index: str,
        keys: dict[str, str],
        where: _Where,
        count: int,
        quantiles: Iterable[float],
    ) -> dict[float, float | None]:
        """Exact quantiles of one group by walking its covering index."""
        result: dict[float, float | None] = {}
        if count == 0:
            return {q: None for q in quantiles}
        group = _Where(TimeWindow(None, None))
        group.clauses = list(where.clauses)
        group.params = list(where.params)
        for column, value in keys.items():
            group.eq(column, value)
        sql = (
            f"SELECT duration FROM {table} INDEXED BY {index}{group.sql()} "
            "ORDER BY duration LIMIT 2 OFFSET ?"
        )
        for q in quantiles:
            lower, upper, weight = ranks(q, count)
            values = [r[0] for r in self._query(sql, [*group.params, lower])]
            if not values:
                result[q] = None
            elif upper == lower or weight == 0.0 or len(values) < 2:
                result[q] = float(values[0])
            else:
                result[q] = float(values[0] + (values[1] - values[0]) * weight)
        return result

    def _not_ok(
        self, table: str, index: str, group: tuple[str, str], where: _Where
    ) -> dict[tuple[str, str], dict[str, int]]:
        """Rows per status other than ok, per group, from the partial index of non-ok rows."""
        clause = where.sql(_NOT_OK)
        rows = self._query(
            f"SELECT {group[0]}, {group[1]}, status, count(*) FROM {table} INDEXED BY {index}"
            f"{clause} GROUP BY 1, 2, 3",
            where.params,
        )
        out: dict[tuple[str, str], dict[str, int]] = {}
        for a, b, status, n in rows:
            out.setdefault((a, b), {})[status] = n
        return out

    def _summaries(
        self,
        table: str,
        group: tuple[str, str],
        window: TimeWindow,
        where: _Where,
        extra: Sequence[str] = (),
    ) -> Iterator[tuple[tuple[str, str], GroupSummary, tuple[Any, ...]]]:
        """Per ``group`` in order: its summary and the values of the ``extra`` aggregates.

        One aggregate query over the table's ``ix_<table>_duration`` index, failures from
        its ``ix_<table>_failed`` index, and each group's exact percentiles.
        """
        a, b = group
        index = f"ix_{table}_duration"
        aggregates = "".join(f", {column}" for column in extra)
        rows = self._query(
            f"SELECT {a}, {b}, count(*), sum(duration), min(duration), max(duration){aggregates} "
            f"FROM {table} INDEXED BY {index}{where.sql()} GROUP BY {a}, {b} ORDER BY {a}, {b}",
            where.params,
        )
        if not rows:
            return
        not_ok = self._not_ok(table, f"ix_{table}_failed", group, where)
        for first, second, count, total, low, high, *more in rows:
            others = not_ok.get((first, second), {})
            pct = self._percentiles(
                table, index, {a: first, b: second}, _Where(window), count, QUANTILE_OF.values()
            )
            summary = GroupSummary(
                outcomes=Outcomes.of({_OK: count - sum(others.values()), **others}),
                avg=total / count,
                min=low,
                max=high,
                p50=pct[0.5],
                p95=pct[0.95],
                p99=pct[0.99],
            )
            yield (first, second), summary, tuple(more)

    # --- statistics --------------------------------------------------------------------
    def workflow_stats(
        self, window: TimeWindow, workflow: str | None, workflow_type: str | None
    ) -> list[WorkflowStats]:
        where = _Where(window).eq("workflow", workflow).eq("workflow_type", workflow_type)
        return [
            summary.workflow_stats(name, wtype)
            for (name, wtype), summary, _ in self._summaries(
                "executions", ("workflow", "workflow_type"), window, where
            )
        ]

    def step_stats(
        self, window: TimeWindow, workflow: str | None, step: str | None
    ) -> list[StepStats]:
        where = _Where(window).eq("workflow", workflow).eq("step", step)
        return [
            summary.step_stats(
                name,
                step_name,
                total_cpu_time=float(cpu) if cpu_n else None,
                avg_cpu_time=float(cpu) / cpu_n if cpu_n else None,
            )
            for (name, step_name), summary, (cpu, cpu_n) in self._summaries(
                "steps", ("workflow", "step"), window, where, ("sum(cpu_time)", "count(cpu_time)")
            )
        ]

    def _sorted_groups(
        self, sql: str, params: Sequence[Any], width: int
    ) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
        """Rows ordered by their first ``width`` columns, grouped by them."""
        cursor = self._conn.execute(sql, params)
        for key, group in itertools.groupby(cursor, key=lambda r: tuple(r[:width])):
            yield key, list(group)

    def by_type(self, window: TimeWindow, workflow_type: str | None) -> list[TypeStats]:
        where = _Where(window).eq("workflow_type", workflow_type)
        out = []
        sql = (
            "SELECT workflow_type, duration, status, workflow FROM executions"
            f"{where.sql()} ORDER BY workflow_type, duration"
        )
        for (wtype,), rows in self._sorted_groups(sql, where.params, 1):
            durations = [r[1] for r in rows]
            count = len(rows)
            outcomes = Outcomes.of(Counter(r[2] for r in rows))
            out.append(
                TypeStats(
                    workflow_type=wtype,
                    workflows=len({r[3] for r in rows}),
                    count=count,
                    succeeded=outcomes.succeeded,
                    failed=outcomes.failed,
                    cancelled=outcomes.cancelled,
                    success_rate=outcomes.success_rate,
                    error_rate=outcomes.error_rate,
                    avg=sum(durations) / count,
                    p50=percentile(durations, 0.5),
                    p95=percentile(durations, 0.95),
                    p99=percentile(durations, 0.99),
                    throughput_per_minute=None,  # the engine's, over its rate window
                )
            )
        return out

    def user_stats(
        self, window: TimeWindow, workflow: str | None, limit: int | None
    ) -> list[UserStats]:
        where = _Where(window).eq("workflow", workflow).add("user_id IS NOT NULL")
        sql = (
            "SELECT user_id, duration, status, start_ns FROM executions"
            f"{where.sql()} ORDER BY user_id, duration"
        )
        out = []
        for (user,), rows in self._sorted_groups(sql, where.params, 1):
            durations = [r[1] for r in rows]
            count = len(rows)
            outcomes = Outcomes.of(Counter(r[2] for r in rows))
            starts = [r[3] for r in rows]
            out.append(
                UserStats(
                    user_id=user,
                    executions=count,
                    succeeded=outcomes.succeeded,
                    failed=outcomes.failed,
                    error_rate=outcomes.error_rate,
                    avg=sum(durations) / count,
                    p95=percentile(durations, 0.95),
                    first_seen=from_ns(min(starts)),
                    last_seen=from_ns(max(starts)),
                )
            )
        out.sort(key=lambda u: (-u.executions, u.user_id))
        return out[:limit] if limit is not None else out

    def errors_by_type(self, window: TimeWindow, workflow: str | None) -> list[ErrorTypeStats]:
        where = _Where(window).eq("workflow", workflow)
        # Final failures only (a retried attempt is not one); _NOT_OK lets SQLite use the
        # partial index of non-ok rows.
        clause = where.sql(_NOT_OK, "status = ?")
        rows = self._query(
            "SELECT workflow, step, coalesce(error_type, ''), coalesce(error_category, ''), "
            f"count(*) FROM steps{clause} "
            "GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1, 2, 3",
            [*where.params, _ERROR],
        )
        return [
            ErrorTypeStats(workflow=w, step=s, error_type=t, error_category=c, count=n)
            for w, s, t, c, n in rows
        ]

    # --- time series -------------------------------------------------------------------
    def trends(
        self,
        window: TimeWindow,
        metric: str,
        interval: timedelta,
        workflow: str | None,
        workflow_type: str | None,
        per_workflow: bool,
    ) -> list[TrendPoint]:
        where = _Where(window).eq("workflow", workflow).eq("workflow_type", workflow_type)
        step_ns = int(interval.total_seconds() * 1e9)
        if step_ns <= 0:
            raise ValueError(f"interval too small: {interval!r}")
        first = to_ns(window.since) if window.since is not None else None
        last = to_ns(window.until) if window.until is not None else None
        if first is None or last is None:
            lo, hi = self._query(
                f"SELECT min(start_ns), max(start_ns) FROM executions{where.sql()}", where.params
            )[0]
            if lo is None:
                return []
            first = lo if first is None else first
            last = hi + 1 if last is None else last
        start_bucket = (first // step_ns) * step_ns
        n_buckets = (last - start_bucket + step_ns - 1) // step_ns
        if n_buckets > _MAX_BUCKETS:
            raise ValueError(
                f"interval {interval} gives {n_buckets} buckets over the range "
                f"(at most {_MAX_BUCKETS}); choose a larger interval"
            )
        bucket = f"((start_ns - {start_bucket}) / {step_ns})"
        series = "workflow" if per_workflow else "NULL"
        sql = (
            f"SELECT {series}, {bucket}, duration, status FROM executions{where.sql()} "
            f"ORDER BY 1, 2, duration"
        )
        by_series: dict[str | None, dict[int, list[tuple[Any, ...]]]] = {}
        for (name, index), rows in self._sorted_groups(sql, where.params, 2):
            by_series.setdefault(name, {})[int(index)] = rows
        minutes = step_ns / 60e9
        out: list[TrendPoint] = []
        for name in sorted(by_series, key=lambda s: (s is not None, s or "")):
            buckets = by_series[name]
            for i in range(n_buckets):
                rows = buckets.get(i, [])
                value = _trend_value(metric, rows, minutes)
                begin = start_bucket + i * step_ns
                out.append(
                    TrendPoint(
                        start=from_ns(begin),
                        end=from_ns(begin + step_ns),
                        metric=metric,
                        value=value,
                        workflow=name,
                        count=float(len(rows)),
                    )
                )
        return out

    def concurrency(self, window: TimeWindow, workflow: str | None) -> ConcurrencyStats:
        where = _Where(TimeWindow(None, window.until)).eq("workflow", workflow)
        since_ns = to_ns(window.since) if window.since is not None else None
        if since_ns is not None:
            where.add("end_ns > ?", since_ns)
        events: list[tuple[int, int]] = []
        for start, end in self._conn.execute(
            f"SELECT start_ns, end_ns FROM executions{where.sql()}", where.params
        ):
            events.append((start, 1))
            events.append((end, -1))
        if not events:
            return ConcurrencyStats(workflow=workflow, peak_active=0, avg_active=0.0, peak_at=None)
        # Ends sort before starts at the same instant: back-to-back runs do not overlap.
        events.sort()
        lo = since_ns if since_ns is not None else events[0][0]
        hi = to_ns(window.until) if window.until is not None else events[-1][0]
        active = peak = 0
        peak_at: int | None = None
        area = 0.0
        previous = lo
        for moment, delta in events:
            clamped = min(max(moment, lo), hi)
            area += active * (clamped - previous)
            previous = clamped
            active += delta
            if active > peak:
                peak, peak_at = active, max(moment, lo)
        avg = area / (hi - lo) if hi > lo else float(peak)
        return ConcurrencyStats(
            workflow=workflow,
            peak_active=float(peak),
            avg_active=avg,
            peak_at=from_ns(peak_at) if peak_at is not None else None,
        )

    def resource_usage(self, window: TimeWindow, workflow: str | None) -> ResourceUsage:
        samples = _Where(TimeWindow(None, None))
        if window.since is not None:
            samples.add("ts_ns >= ?", to_ns(window.since))
        if window.until is not None:
            samples.add("ts_ns < ?", to_ns(window.until))
        peak, avg, n_pids = self._query(
            "SELECT max(rss_bytes), avg(rss_bytes), count(DISTINCT pid) FROM process_samples"
            f"{samples.sql()}",
            samples.params,
        )[0]
        latest = self._query(
            f"SELECT rss_bytes FROM process_samples{samples.sql()} ORDER BY ts_ns DESC LIMIT 1",
            samples.params,
        )
        cpu = self._query(
            "SELECT sum(used) FROM (SELECT max(cpu_seconds) - min(cpu_seconds) AS used "
            f"FROM process_samples{samples.sql()} GROUP BY pid)",
            samples.params,
        )[0][0]
        where = _Where(window).eq("workflow", workflow).add("cpu_time IS NOT NULL")
        steps = [
            StepResource(
                workflow=w,
                step=s,
                count=n,
                total_cpu_time=float(total),
                avg_cpu_time=float(total) / n if n else None,
                max_cpu_time=float(top),
            )
            for w, s, n, total, top in self._query(
                "SELECT workflow, step, count(*), sum(cpu_time), max(cpu_time) FROM steps "
                f"INDEXED BY ix_steps_duration{where.sql()} GROUP BY 1, 2 ORDER BY 4 DESC, 1, 2",
                where.params,
            )
        ]
        return ResourceUsage(
            memory_peak_bytes=int(peak) if peak is not None else None,
            memory_avg_bytes=float(avg) if avg is not None else None,
            memory_latest_bytes=int(latest[0][0]) if latest and latest[0][0] is not None else None,
            process_cpu_seconds=float(cpu) if cpu is not None else None,
            processes=int(n_pids) if n_pids else None,
            steps=tuple(steps),
        )

    def outliers(
        self, window: TimeWindow, quantile: float, workflow: str | None, limit: int | None
    ) -> list[Outlier]:
        where = _Where(window).eq("workflow", workflow)
        groups = self._query(
            "SELECT workflow, workflow_type, count(*) FROM executions "
            f"INDEXED BY ix_executions_duration{where.sql()} GROUP BY 1, 2",
            where.params,
        )
        out: list[Outlier] = []
        for name, wtype, count in groups:
            keys = {"workflow": name, "workflow_type": wtype}
            threshold = self._percentiles(
                "executions", "ix_executions_duration", keys, _Where(window), count, [quantile]
            )[quantile]
            if threshold is None:
                continue
            group = _Where(window).eq("workflow", name).eq("workflow_type", wtype)
            group.add("duration > ?", threshold)
            for row in self._query(
                "SELECT execution_id, trace_id, span_id, start_ns, duration, status, user_id, "
                f"error_type FROM executions{group.sql()} ORDER BY duration DESC",
                group.params,
            ):
                execution_id, trace_id, span_id, start, duration, status, user, error = row
                out.append(
                    Outlier(
                        workflow=name,
                        workflow_type=wtype,
                        execution_id=execution_id,
                        trace_id=trace_id,
                        span_id=span_id,
                        start=from_ns(start),
                        duration=duration,
                        threshold=threshold,
                        quantile=quantile,
                        status=status,
                        user_id=user,
                        error_type=error,
                    )
                )
        out.sort(key=lambda o: (-o.duration, o.workflow, o.trace_id))
        return out[:limit] if limit is not None else out

    def executions(
        self, window: TimeWindow, workflow: str | None, order: str, failed_only: bool, limit: int
    ) -> list[ExecutionRecord]:
        where = _Where(window).eq("workflow", workflow)
        if failed_only:
            where.add("status NOT IN (?, ?, ?)", _OK, _CANCELLED, _RETRIED)
        by = "duration DESC" if order == "slowest" else "start_ns DESC"
        rows = self._query(
            "SELECT workflow, workflow_type, execution_id, trace_id, span_id, start_ns, duration, "
            f"status, user_id, error_type, error_category FROM executions{where.sql()} "
            f"ORDER BY {by}, id LIMIT ?",
            [*where.params, limit],
        )
        out = []
        for row in rows:
            name, wtype, execution_id, trace_id, span_id, start, duration = row[:7]
            status, user, error, category = row[7:]
            out.append(
                ExecutionRecord(
                    workflow=name,
                    workflow_type=wtype or "",
                    execution_id=execution_id,
                    trace_id=trace_id,
                    span_id=span_id,
                    start=from_ns(start),
                    duration=duration,
                    status=status,
                    user_id=user,
                    error_type=error,
                    error_category=category,
                )
            )
        return out

    # --- raw rows ----------------------------------------------------------------------
    def rows(
        self, kind: str, window: TimeWindow, workflow: str | None
    ) -> tuple[Sequence[str], Iterator[Sequence[Any]]]:
        where = _Where(window).eq("workflow", workflow)
        # A lazy cursor: nothing is fetched until iterated.
        columns, rows = self._store.select(kind, where.sql(), where.params)
        times = [i for i, name in enumerate(columns) if name in ("start", "end")]
        return columns, (_iso_times(row, times) for row in rows)


def _iso_times(row: list[Any], positions: Sequence[int]) -> list[Any]:
    """A stored row with its nanosecond times as ISO strings."""
    for pos in positions:
        row[pos] = from_ns(row[pos]).isoformat()
    return row


def _trend_value(metric: str, rows: list[tuple[Any, ...]], minutes: float) -> float | None:
    count = len(rows)
    if metric == "count":
        return float(count)
    if metric == "throughput":
        return count / minutes
    if count == 0:
        return None
    if metric in ("error_rate", "success_rate"):
        outcomes = Outcomes.of(Counter(r[3] for r in rows))
        return outcomes.error_rate if metric == "error_rate" else outcomes.success_rate
    durations: list[float] = [r[2] for r in rows]
    if metric == "avg":
        return sum(durations) / count
    return percentile(durations, QUANTILE_OF[metric])
