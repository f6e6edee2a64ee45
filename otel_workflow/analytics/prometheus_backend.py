"""The AnalyticsEngine backend over Prometheus (or any endpoint with its HTTP query API).

The same questions are answered with PromQL over the exposed metrics
(:data:`otel_workflow.semconv` ``PROM_*`` names): counts with ``increase``, percentiles
with ``histogram_quantile`` over the summed bucket increases, averages as the increase of
``_sum`` over the increase of ``_count``, all ``sum by`` the grouping labels and evaluated
at ``until`` over the range ``[until - since]``.

What differs from the store, by design:

* counts come from ``increase``, which Prometheus extrapolates to the range's ends, so
  they are approximate (rounded to whole executions); ratios (success and error rates,
  averages) are not affected by the extrapolation;
* percentiles are interpolated within histogram buckets
  (:data:`otel_workflow.semconv.DURATION_BUCKETS`), so they agree with the store's exact
  values to within the bucket that holds them; there is no exact min or max (``None``);
* there is no per-user view and no per-execution data (user and execution ids are never
  metric labels), so ``user_stats``, ``outliers`` and raw row exports raise
  NotImplementedError saying so.

An open ``since`` means 24 hours before ``until``; an open ``until`` means now (the
extent of the data is not known: a counter keeps being scraped after the last
execution).  A ``workflow_status="retried"`` attempt is neither a success nor a failure;
failures are ``workflow_status="error"`` (and any other unknown status).
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from otel_workflow import semconv as sc
from otel_workflow.analytics._backend import QUANTILE_OF, GroupSummary, Outcomes
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

DEFAULT_RANGE = timedelta(hours=24)
_MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series

_NO_USERS = (
    "per-user statistics need the embedded store: Prometheus has no user label by design "
    "(user ids are unbounded and would explode the number of series); query the store "
    "(AnalyticsEngine.from_store) or use traces for per-user views"
)
_NO_EXECUTIONS = (
    "{what} need per-execution data, which Prometheus does not keep (execution and trace "
    "ids are never metric labels); use the embedded store (AnalyticsEngine.from_store), "
    "or the exemplars on the duration histograms in Grafana"
)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _selector(metric: str, *raw: str, **labels: str | None) -> str:
    """``metric{k="v",...}`` for the labels that are set, then the ``raw`` matchers."""
    matchers = [f"{k}={_quote(v)}" for k, v in labels.items() if v is not None]
    matchers.extend(raw)
    return metric + ("{" + ",".join(matchers) + "}" if matchers else "")


# The calls that ended: every attempt but those that were retried.
_ENDED = f"{sc.PROM_LABEL_STATUS}!={_quote(sc.STATUS_RETRIED)}"


def _sum_increase(metric: str, selector: dict[str, str | None], rng: str, by: str) -> str:
    """``sum by (by) (increase(metric{selector}[rng]))``."""
    return f"sum by ({by}) (increase({_selector(metric, **selector)}[{rng}]))"


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _count(value: float | None) -> int:
    return round(value) if value is not None and value > 0 else 0


def _average(total: float | None, observed: float | None) -> float | None:
    """A ``_sum`` increase over a ``_count`` increase; None without a sum or a count."""
    return (total / observed) if total is not None and observed else None


class PrometheusBackend:
    """PromQL over the Prometheus HTTP API at ``url`` (stdlib urllib only)."""

    name = "prometheus"

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        if not isinstance(url, str):
            raise TypeError(f"Prometheus URL must be a string, got {url!r}")
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"Prometheus URL must be http(s)://host:port, got {url!r}")
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.url = url.rstrip("/")
        self._timeout = float(timeout)

    def close(self) -> None:
        """Nothing to release: every query is its own HTTP request."""

    def dropped_rows(self) -> dict[str, int]:
        """Nothing: a scrape has no store to drop rows from."""
        return {}

    # --- HTTP --------------------------------------------------------------------------
    def _api(self, path: str, params: dict[str, str]) -> Any:
        query = urllib.parse.urlencode(params)
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=query.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except ValueError:
                pass
            raise ValueError(
                f"Prometheus at {self.url} rejected the query {params.get('query')!r}: "
                f"HTTP {exc.code}: {detail}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ConnectionError(f"cannot reach Prometheus at {self.url}: {reason}") from None
        except ValueError as exc:
            raise ValueError(f"Prometheus at {self.url} sent a malformed answer: {exc}") from None
        if body.get("status") != "success":
            raise ValueError(f"Prometheus at {self.url} answered with an error: {body}")
        return body["data"]

    def _instant(self, query: str, at: datetime) -> list[tuple[dict[str, str], float | None]]:
        data = self._api("/api/v1/query", {"query": query, "time": f"{at.timestamp():.3f}"})
        return [(item["metric"], _num(item["value"][1])) for item in data.get("result", [])]

    def _range(
        self, query: str, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[dict[str, str], list[tuple[float, float | None]]]]:
        data = self._api(
            "/api/v1/query_range",
            {
                "query": query,
                "start": f"{start.timestamp():.3f}",
                "end": f"{end.timestamp():.3f}",
                "step": f"{step.total_seconds():.3f}",
            },
        )
        return [
            (item["metric"], [(float(t), _num(v)) for t, v in item.get("values", [])])
            for item in data.get("result", [])
        ]

    # --- helpers -----------------------------------------------------------------------
    @staticmethod
    def _bounds(window: TimeWindow) -> tuple[datetime, datetime, str]:
        end = window.until or datetime.now(timezone.utc)
        start = window.since or (end - DEFAULT_RANGE)
        # Millisecond precision (Prometheus' own): a range starting exactly on a sample
        # includes it, so increase() needs no extrapolation at that end.
        millis = max(1, round((end - start).total_seconds() * 1000))
        return start, end, f"{millis}ms"

    def _by(
        self, query: str, at: datetime, labels: Sequence[str]
    ) -> dict[tuple[str, ...], float | None]:
        return {
            tuple(metric.get(label, "") for label in labels): value
            for metric, value in self._instant(query, at)
        }

    def _histogram_stats(
        self, histogram: str, selector: dict[str, str | None], group: Sequence[str], rng: str,
        at: datetime,
    ) -> tuple[dict[tuple[str, ...], float | None], ...]:  # fmt: skip
        """(sum, count, p50, p95, p99) increases per group of one duration histogram."""
        by = ", ".join(group)
        sums = self._by(_sum_increase(histogram + "_sum", selector, rng, by), at, group)
        counts = self._by(_sum_increase(histogram + "_count", selector, rng, by), at, group)
        buckets = (
            f"sum by ({by}, le) (increase({_selector(histogram + '_bucket', **selector)}[{rng}]))"
        )
        quantiles = tuple(
            self._by(f"histogram_quantile({q}, {buckets})", at, group) for q in QUANTILE_OF.values()
        )
        return (sums, counts, *quantiles)

    def _status_counts(
        self, counter: str, selector: dict[str, str | None], group: Sequence[str], rng: str,
        at: datetime,
    ) -> dict[tuple[str, ...], dict[str, int]]:  # fmt: skip
        labels = [*group, sc.PROM_LABEL_STATUS]
        raw = self._by(_sum_increase(counter, selector, rng, ", ".join(labels)), at, labels)
        out: dict[tuple[str, ...], dict[str, int]] = {}
        for key, value in raw.items():
            out.setdefault(key[:-1], {})[key[-1]] = _count(value)
        return out

    def _summaries(
        self,
        counter: str,
        histogram: str,
        selector: dict[str, str | None],
        group: Sequence[str],
        bounds: tuple[datetime, datetime, str],
    ) -> tuple[dict[tuple[str, ...], GroupSummary], dict[tuple[str, ...], float | None]]:
        """A summary per group with executions, in key order, and the histogram's counts.

        Statuses come from the ``counter`` of executions, durations from ``histogram``,
        whose per-group observation counts are returned too (the divisor of other averages).
        """
        _, end, rng = bounds
        statuses = self._status_counts(counter, selector, group, rng, end)
        sums, counts, p50, p95, p99 = self._histogram_stats(histogram, selector, group, rng, end)
        out = {}
        for key in sorted(statuses):
            outcomes = Outcomes.of(statuses[key])
            if outcomes.count == 0:
                continue
            out[key] = GroupSummary(
                outcomes=outcomes,
                avg=_average(sums.get(key), counts.get(key)),
                min=None,
                max=None,
                p50=p50.get(key),
                p95=p95.get(key),
                p99=p99.get(key),
            )
        return out, counts

    # --- statistics --------------------------------------------------------------------
    def extent(
        self, window: TimeWindow, workflow: str | None, workflow_type: str | None
    ) -> tuple[datetime, datetime] | None:
        return None  # unknowable from counters: the engine takes 24 h before the end

    def workflow_stats(
        self, window: TimeWindow, workflow: str | None, workflow_type: str | None
    ) -> list[WorkflowStats]:
        summaries, _ = self._summaries(
            sc.PROM_WORKFLOW_EXECUTIONS,
            sc.PROM_WORKFLOW_DURATION,
            {sc.PROM_LABEL_WORKFLOW: workflow, sc.PROM_LABEL_WORKFLOW_TYPE: workflow_type},
            (sc.PROM_LABEL_WORKFLOW, sc.PROM_LABEL_WORKFLOW_TYPE),
            self._bounds(window),
        )
        return [summary.workflow_stats(name, wtype) for (name, wtype), summary in summaries.items()]

    def step_stats(
        self, window: TimeWindow, workflow: str | None, step: str | None
    ) -> list[StepStats]:
        bounds = self._bounds(window)
        _, end, rng = bounds
        selector = {sc.PROM_LABEL_WORKFLOW: workflow, sc.PROM_LABEL_STEP: step}
        group = (sc.PROM_LABEL_WORKFLOW, sc.PROM_LABEL_STEP)
        summaries, observed = self._summaries(
            sc.PROM_STEP_EXECUTIONS, sc.PROM_STEP_DURATION, selector, group, bounds
        )
        cpu = self._by(
            _sum_increase(sc.PROM_STEP_CPU_TIME + "_sum", selector, rng, ", ".join(group)),
            end,
            group,
        )
        return [
            summary.step_stats(
                key[0],
                key[1],
                total_cpu_time=cpu.get(key),
                avg_cpu_time=_average(cpu.get(key), observed.get(key)),
            )
            for key, summary in summaries.items()
        ]

    def by_type(self, window: TimeWindow, workflow_type: str | None) -> list[TypeStats]:
        _, end, rng = self._bounds(window)
        selector = {sc.PROM_LABEL_WORKFLOW_TYPE: workflow_type}
        group = (sc.PROM_LABEL_WORKFLOW_TYPE,)
        per_workflow = self.workflow_stats(window, None, workflow_type)
        sums, counts, p50, p95, p99 = self._histogram_stats(
            sc.PROM_WORKFLOW_DURATION, selector, group, rng, end
        )
        out = []
        for wtype in sorted({s.workflow_type for s in per_workflow}):
            members = [s for s in per_workflow if s.workflow_type == wtype]
            count = sum(s.count for s in members)
            failed = sum(s.failed for s in members)
            cancelled = sum(s.cancelled for s in members)
            succeeded = sum(s.succeeded for s in members)
            key = (wtype,)
            out.append(
                TypeStats(
                    workflow_type=wtype,
                    workflows=len({s.workflow for s in members}),
                    count=count,
                    succeeded=succeeded,
                    failed=failed,
                    cancelled=cancelled,
                    success_rate=succeeded / count if count else 0.0,
                    error_rate=failed / count if count else 0.0,
                    avg=_average(sums.get(key), counts.get(key)),
                    p50=p50.get(key),
                    p95=p95.get(key),
                    p99=p99.get(key),
                    throughput_per_minute=None,  # the engine's, over its rate window
                )
            )
        return out

    def errors_by_type(self, window: TimeWindow, workflow: str | None) -> list[ErrorTypeStats]:
        _, end, rng = self._bounds(window)
        labels = (
            sc.PROM_LABEL_WORKFLOW,
            sc.PROM_LABEL_STEP,
            sc.PROM_LABEL_ERROR_TYPE,
            sc.PROM_LABEL_ERROR_CATEGORY,
        )
        raw = self._by(
            _sum_increase(
                sc.PROM_STEP_ERRORS, {sc.PROM_LABEL_WORKFLOW: workflow}, rng, ", ".join(labels)
            ),
            end,
            labels,
        )
        out = [
            ErrorTypeStats(workflow=w, step=s, error_type=t, error_category=c, count=_count(v))
            for (w, s, t, c), v in raw.items()
            if _count(v) > 0
        ]
        out.sort(key=lambda e: (-e.count, e.workflow, e.step, e.error_type))
        return out

    def user_stats(
        self, window: TimeWindow, workflow: str | None, limit: int | None
    ) -> list[UserStats]:
        raise NotImplementedError(_NO_USERS)

    def outliers(
        self, window: TimeWindow, quantile: float, workflow: str | None, limit: int | None
    ) -> list[Outlier]:
        raise NotImplementedError(_NO_EXECUTIONS.format(what="outliers (with their trace ids)"))

    def executions(
        self, window: TimeWindow, workflow: str | None, order: str, failed_only: bool, limit: int
    ) -> list[ExecutionRecord]:
        raise NotImplementedError(_NO_EXECUTIONS.format(what="single executions (with trace ids)"))

    def rows(
        self, kind: str, window: TimeWindow, workflow: str | None
    ) -> tuple[Sequence[str], Iterator[Sequence[Any]]]:
        if kind not in ("executions", "steps"):
            raise ValueError(f"unknown row kind {kind!r}: expected 'executions' or 'steps'")
        raise NotImplementedError(_NO_EXECUTIONS.format(what=f"raw {kind} exports"))

    # --- time series -------------------------------------------------------------------
    def _trend_query(
        self, metric: str, interval: str, selector: dict[str, str | None], label: str | None
    ) -> str:
        by = f" by ({label})" if label else ""

        def inc(name: str, *raw: str, **extra: str | None) -> str:
            return f"sum{by} (increase({_selector(name, *raw, **selector, **extra)}[{interval}]))"

        executions = sc.PROM_WORKFLOW_EXECUTIONS
        if metric in ("count", "throughput"):
            return inc(executions)
        # Over the calls that ended: a retried attempt is neither a success nor a failure.
        ended_inc = inc(executions, _ENDED)
        if metric == "error_rate":
            return f"{inc(executions, **{sc.PROM_LABEL_STATUS: sc.STATUS_ERROR})} / {ended_inc}"
        if metric == "success_rate":
            return f"{inc(executions, **{sc.PROM_LABEL_STATUS: sc.STATUS_OK})} / {ended_inc}"
        duration = sc.PROM_WORKFLOW_DURATION
        if metric == "avg":
            return f"{inc(duration + '_sum')} / {inc(duration + '_count')}"
        group = f" by ({label}, le)" if label else " by (le)"
        buckets = (
            f"sum{group} (increase({_selector(duration + '_bucket', **selector)}[{interval}]))"
        )
        return f"histogram_quantile({QUANTILE_OF[metric]}, {buckets})"

    def trends(
        self,
        window: TimeWindow,
        metric: str,
        interval: timedelta,
        workflow: str | None,
        workflow_type: str | None,
        per_workflow: bool,
    ) -> list[TrendPoint]:
        start, end, _ = self._bounds(window)
        step = interval.total_seconds()
        # Each point is evaluated at a bucket's end and looks back one interval, so the
        # buckets line up with the store's (multiples of the interval since the epoch).
        first_end = math.floor(start.timestamp() / step) * step + step
        last_end = math.ceil(end.timestamp() / step) * step
        n = round((last_end - first_end) / step) + 1
        if n > _MAX_POINTS:
            raise ValueError(
                f"interval {interval} gives {n} buckets over the range (at most {_MAX_POINTS}); "
                "choose a larger interval"
            )
        selector = {sc.PROM_LABEL_WORKFLOW: workflow, sc.PROM_LABEL_WORKFLOW_TYPE: workflow_type}
        by = sc.PROM_LABEL_WORKFLOW if per_workflow else None
        seconds = f"{max(1, round(step))}s"
        query = self._trend_query(metric, seconds, selector, by)
        result = self._range(
            query,
            datetime.fromtimestamp(first_end, timezone.utc),
            datetime.fromtimestamp(last_end, timezone.utc),
            interval,
        )
        counts: dict[str | None, dict[float, float | None]] = {}
        if metric not in ("count", "throughput"):
            for labels, values in self._range(
                self._trend_query("count", seconds, selector, by),
                datetime.fromtimestamp(first_end, timezone.utc),
                datetime.fromtimestamp(last_end, timezone.utc),
                interval,
            ):
                name = labels.get(sc.PROM_LABEL_WORKFLOW) if per_workflow else None
                counts[name] = {round(t, 3): v for t, v in values}
        out: list[TrendPoint] = []
        series = {
            (labels.get(sc.PROM_LABEL_WORKFLOW) if per_workflow else None): dict(
                (round(t, 3), v) for t, v in values
            )
            for labels, values in result
        }
        for name in sorted(series, key=lambda s: s or ""):
            points = series[name]
            for i in range(n):
                t = round(first_end + i * step, 3)
                value = points.get(t)
                count = value if metric in ("count", "throughput") else counts.get(name, {}).get(t)
                if metric == "throughput" and value is not None:
                    value = value / (step / 60.0)
                out.append(
                    TrendPoint(
                        start=datetime.fromtimestamp(t - step, timezone.utc),
                        end=datetime.fromtimestamp(t, timezone.utc),
                        metric=metric,
                        value=value,
                        workflow=name,
                        count=count,
                    )
                )
        return out

    def concurrency(self, window: TimeWindow, workflow: str | None) -> ConcurrencyStats:
        start, end, _ = self._bounds(window)
        span = (end - start).total_seconds()
        step = timedelta(seconds=max(1.0, span / 1000))
        query = f"sum({_selector(sc.PROM_WORKFLOW_ACTIVE, **{sc.PROM_LABEL_WORKFLOW: workflow})})"
        points = [
            (t, v) for _, values in self._range(query, start, end, step) for t, v in values
            if v is not None
        ]  # fmt: skip
        if not points:
            return ConcurrencyStats(workflow=workflow, peak_active=0, avg_active=0.0, peak_at=None)
        peak_t, peak = max(points, key=lambda p: (p[1] or 0.0, -p[0]))
        avg = sum(v for _, v in points if v is not None) / len(points)
        return ConcurrencyStats(
            workflow=workflow,
            peak_active=float(peak or 0.0),
            avg_active=avg,
            peak_at=datetime.fromtimestamp(peak_t, timezone.utc),
        )

    def resource_usage(self, window: TimeWindow, workflow: str | None) -> ResourceUsage:
        _, end, rng = self._bounds(window)
        memory = sc.PROM_PROCESS_MEMORY

        def one(query: str) -> float | None:
            result = self._instant(query, end)
            return result[0][1] if result else None

        peak = one(f"max(max_over_time({memory}[{rng}]))")
        avg = one(f"avg(avg_over_time({memory}[{rng}]))")
        latest = one(f"max(last_over_time({memory}[{rng}]))")
        processes = one(f"count(count_over_time({memory}[{rng}]))")
        cpu = one(f"sum(increase({sc.PROM_PROCESS_CPU}[{rng}]))")
        group = (sc.PROM_LABEL_WORKFLOW, sc.PROM_LABEL_STEP)
        selector = {sc.PROM_LABEL_WORKFLOW: workflow}
        by = ", ".join(group)
        totals = self._by(
            _sum_increase(sc.PROM_STEP_CPU_TIME + "_sum", selector, rng, by),
            end,
            group,
        )
        counts = self._by(
            _sum_increase(sc.PROM_STEP_CPU_TIME + "_count", selector, rng, by),
            end,
            group,
        )
        steps = []
        for key, total in totals.items():
            n = _count(counts.get(key))
            if not n or total is None:
                continue
            steps.append(
                StepResource(
                    workflow=key[0],
                    step=key[1],
                    count=n,
                    total_cpu_time=total,
                    avg_cpu_time=total / n,
                    max_cpu_time=None,
                )
            )
        steps.sort(key=lambda s: (-s.total_cpu_time, s.workflow, s.step))
        return ResourceUsage(
            memory_peak_bytes=int(peak) if peak is not None else None,
            memory_avg_bytes=avg,
            memory_latest_bytes=int(latest) if latest is not None else None,
            process_cpu_seconds=cpu,
            processes=int(processes) if processes else None,
            steps=tuple(steps),
        )
