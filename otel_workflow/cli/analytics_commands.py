"""``otel-workflow stats | steps | trends | users | errors-by-type | export``.

    otel-workflow stats --store otel-workflow.db --since 24h
    otel-workflow steps --prometheus http://127.0.0.1:9090 --sort p95 --limit 10
    otel-workflow trends --metric error_rate --interval 15m --format csv
    otel-workflow export --kind steps --format json --out steps.json

Tables are for people (durations in µs/ms/s, rates as percentages, fitted to ``$COLUMNS``
or the terminal; a throughput says the window it is over: ``20/s over 3 s``);
``--format csv|json`` is for machines (raw seconds in ``*_seconds`` columns, rates as
fractions).  ``steps`` counts retried attempts apart (``retries``): a retried attempt is
not a failure.  When the store dropped rows, a warning on standard error says how many.
The source is ``--store PATH`` (default ``$OTEL_WORKFLOW_STORE`` or ``otel-workflow.db``)
or ``--prometheus URL``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from otel_workflow import settings
from otel_workflow._units import format_duration, format_percent, format_rate
from otel_workflow.cli._table import Column, output_width, render

_ENV_STORE = settings.STORE.name
_DEFAULT_STORE = settings.DEFAULT_STORE_FILE
_FORMATS = ("table", "csv", "json")


def register(subparsers: Any) -> None:
    """Add the analytics subcommands to the ``otel-workflow`` parser."""
    stats = subparsers.add_parser("stats", help="per-workflow statistics")
    _common(stats)
    stats.add_argument("--type", dest="workflow_type", help="only this workflow.type")
    stats.set_defaults(func=_run_stats)

    steps = subparsers.add_parser("steps", help="per-step statistics")
    _common(steps)
    steps.add_argument("--step", help="only this step")
    steps.add_argument(
        "--sort",
        choices=("name", "p50", "p95", "p99", "avg", "max", "count", "failed", "total_cpu_time"),
        default="name",
        help="order: by name (default), slowest first by a statistic, or most failed",
    )
    steps.add_argument("--limit", type=int, help="show at most this many steps")
    steps.set_defaults(func=_run_steps)

    trends = subparsers.add_parser("trends", help="a metric over time, in buckets")
    _common(trends)
    trends.add_argument(
        "--metric",
        default="p95",
        help="count, throughput, error_rate, success_rate, avg, p50, p95 or p99 (default p95)",
    )
    trends.add_argument("--interval", default="5m", help="bucket size, e.g. 1m, 5m, 1h")
    trends.add_argument("--type", dest="workflow_type", help="only this workflow.type")
    trends.add_argument(
        "--per-workflow", action="store_true", help="one series per workflow instead of one total"
    )
    trends.set_defaults(func=_run_trends)

    users = subparsers.add_parser("users", help="per-user statistics (store only)")
    _common(users)
    users.add_argument("--limit", type=int, help="show at most this many users")
    users.set_defaults(func=_run_users)

    errors = subparsers.add_parser("errors-by-type", help="failed steps by error type")
    _common(errors)
    errors.set_defaults(func=_run_errors)

    export = subparsers.add_parser("export", help="stream rows or statistics as CSV or JSON")
    _common(export, formats=("csv", "json"), default_format="csv")
    export.add_argument(
        "--kind",
        default="executions",
        choices=("executions", "steps", "workflow_stats", "step_stats"),
        help="what to export (raw rows need the store)",
    )
    export.add_argument("--out", metavar="PATH", help="file to write (default: standard output)")
    export.set_defaults(func=_run_export)


def _common(
    parser: argparse.ArgumentParser,
    *,
    formats: Sequence[str] = _FORMATS,
    default_format: str = "table",
) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--store", metavar="PATH", help=f"SQLite store (default: ${_ENV_STORE} or {_DEFAULT_STORE})"
    )
    source.add_argument("--prometheus", metavar="URL", help="Prometheus HTTP API base URL")
    parser.add_argument(
        "--since",
        help="start: a duration ago (15m, 24h, 7d) or an ISO 8601 time "
        "(default: all data on the store, 24h on Prometheus)",
    )
    parser.add_argument("--until", help="end: a duration ago or an ISO 8601 time (default now)")
    parser.add_argument("--workflow", help="only this workflow")
    parser.add_argument("--format", choices=formats, default=default_format, help="output format")


def _engine(args: argparse.Namespace) -> Any:
    from otel_workflow.analytics.engine import AnalyticsEngine

    if args.prometheus:
        return AnalyticsEngine.from_prometheus(args.prometheus)
    path = args.store or settings.STORE.get() or _DEFAULT_STORE
    return AnalyticsEngine.from_store(path)


# --- output ------------------------------------------------------------------------------
# Tables for people show durations in human units and rates as percentages
# (otel_workflow._units, shared with the report); CSV and JSON keep raw seconds and
# fractions, with the unit in the column name.
_DURATION_TRENDS = frozenset({"avg", "p50", "p95", "p99"})
_RATE_TRENDS = frozenset({"error_rate", "success_rate"})


def _machine_key(field: str, metric: str | None = None) -> str:
    """The CSV/JSON name of a field: seconds get a ``_seconds`` suffix."""
    if field == "value" and metric is not None:  # a trend's value: the metric column names it
        if metric in _DURATION_TRENDS:
            return "value_seconds"
        return "value_per_minute" if metric == "throughput" else "value"
    from otel_workflow.analytics.exports import machine_name

    return machine_name(field)  # the exports' names, defined once


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _per_minute(value: Any) -> str:
    return "-" if value is None else format_rate(value / 60.0, "min")


def _rate(item: Any) -> str:
    """The throughput with the window it is over (the one rate formatter)."""
    per_minute = item.throughput_per_minute
    if per_minute is None:
        return "-"
    return format_rate(per_minute / 60.0, over=item.rate_window_seconds)


def _int(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _time(value: Any) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _trend_value(metric: str) -> tuple[str, Callable[[Any], str]]:
    if metric in _DURATION_TRENDS:
        return metric, format_duration
    if metric in _RATE_TRENDS:
        return metric.replace("_", " "), format_percent
    if metric == "throughput":
        return "per min", _per_minute
    return "runs" if metric == "count" else metric, _int


_Spec = tuple[tuple[Column, str, Callable[[Any], str]], ...]
_WHOLE = ""  # the field of a cell computed from the whole item (see _value)


def _col(header: str, priority: int = 0, *, numeric: bool = True) -> Column:
    return Column(header, numeric=numeric, priority=priority)


_NAME = False  # numeric=False: a left-aligned name column

# Compact columns for people: (column, field, formatter).  CSV and JSON keep every field.
# Priority 0 is always shown; at a narrow width the highest numbers are left out first.
_TABLES: dict[str, _Spec] = {
    "WorkflowStats": (
        (_col("workflow", numeric=_NAME), "workflow", str),
        (_col("type", 2, numeric=_NAME), "workflow_type", str),
        (_col("runs"), "count", _int), (_col("failed", 1), "failed", _int),
        (_col("cancelled", 3), "cancelled", _int),
        (_col("success"), "success_rate", format_percent),
        (_col("avg", 1), "avg", format_duration), (_col("p50", 3), "p50", format_duration),
        (_col("p95"), "p95", format_duration), (_col("p99", 2), "p99", format_duration),
        (_col("max", 1), "max", format_duration),
        (_col("rate", 2), _WHOLE, _rate),
    ),
    "StepStats": (
        (_col("workflow", numeric=_NAME), "workflow", str),
        (_col("step", numeric=_NAME), "step", str),
        (_col("runs"), "count", _int), (_col("failed", 1), "failed", _int),
        (_col("retries", 1), "retried", _int),
        (_col("errors"), "error_rate", format_percent), (_col("avg", 1), "avg", format_duration),
        (_col("p50", 3), "p50", format_duration), (_col("p95"), "p95", format_duration),
        (_col("p99", 2), "p99", format_duration), (_col("max", 1), "max", format_duration),
        (_col("cpu avg", 3), "avg_cpu_time", format_duration),
        (_col("rate", 3), _WHOLE, _rate),
    ),
    "UserStats": (
        (_col("user", numeric=_NAME), "user_id", str), (_col("runs"), "executions", _int),
        (_col("failed", 1), "failed", _int), (_col("errors"), "error_rate", format_percent),
        (_col("avg", 1), "avg", format_duration), (_col("p95"), "p95", format_duration),
        (_col("first seen", 2, numeric=_NAME), "first_seen", _time),
        (_col("last seen", 2, numeric=_NAME), "last_seen", _time),
    ),
    "ErrorTypeStats": (
        (_col("workflow", numeric=_NAME), "workflow", str),
        (_col("step", numeric=_NAME), "step", str),
        (_col("error type", numeric=_NAME), "error_type", str),
        (_col("category", 1, numeric=_NAME), "error_category", str),
        (_col("count"), "count", _int),
    ),
}  # fmt: skip


def _trend_spec(items: Sequence[Any]) -> _Spec:
    header, fmt = _trend_value(items[0].metric)
    workflow: _Spec = ((_col("workflow", numeric=_NAME), "workflow", _cell),)
    return (
        (_col("start", numeric=_NAME), "start", _time),
        (_col("end", 1, numeric=_NAME), "end", _time),
        *(workflow if any(i.workflow is not None for i in items) else ()),
        (_col(header), "value", fmt),
        (_col("runs", 1), "count", _int),
    )


def _record(item: Any) -> dict[str, Any]:
    """A result as a machine record: field names with units, JSON-ready values."""
    metric = getattr(item, "metric", None)
    return {_machine_key(k, metric): v for k, v in item.to_dict().items()}


def _emit(args: argparse.Namespace, title: str, items: Sequence[Any]) -> int:
    """Print result dataclasses as a table, CSV or JSON."""
    if args.format == "json":
        json.dump([_record(item) for item in items], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if args.format == "csv":
        from otel_workflow.analytics.exports import write_csv

        if items:
            names = [f.name for f in dataclasses.fields(items[0])]
            metric = getattr(items[0], "metric", None)
            header = [_machine_key(n, metric) for n in names]
            write_csv(sys.stdout, header, ([getattr(i, n) for n in names] for i in items))
        return 0
    if not items:
        print(f"{title}: no data in the range")
        return 0
    kind = type(items[0]).__name__
    spec = _trend_spec(items) if kind == "TrendPoint" else _TABLES.get(kind)
    if spec is None:
        spec = tuple((Column(f.name), f.name, _cell) for f in dataclasses.fields(items[0]))
    rows = [[fmt(getattr(item, field) if field else item) for _, field, fmt in spec]
            for item in items]  # fmt: skip
    for line in render(title, [column for column, _, _ in spec], rows, output_width()):
        print(line)
    return 0


def _with_engine(
    run: Callable[[Any, argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    def wrapper(args: argparse.Namespace) -> int:
        try:
            with _engine(args) as engine:
                warn_dropped(engine, f"otel-workflow {args.command}")
                return run(engine, args)
        except NotImplementedError as exc:
            print(f"otel-workflow {args.command}: {exc}", file=sys.stderr)
            return 2

    return wrapper


def dropped_warning(dropped: dict[str, int]) -> str | None:
    """The line saying that the store dropped rows, or None when it dropped none."""
    total = sum(dropped.values())
    if not total:
        return None
    reasons = ", ".join(f"{reason}: {n:,}" for reason, n in sorted(dropped.items()) if n)
    return f"the store dropped {total:,} rows ({reasons}); the figures undercount by that many"


def warn_dropped(engine: Any, prefix: str) -> None:
    """Print :func:`dropped_warning` to standard error (not into CSV/JSON output)."""
    line = dropped_warning(engine.dropped_rows())
    if line is not None:
        print(f"{prefix}: warning: {line}", file=sys.stderr)


# --- commands ----------------------------------------------------------------------------
@_with_engine
def _run_stats(engine: Any, args: argparse.Namespace) -> int:
    stats = engine.workflow_stats(args.workflow, args.workflow_type, args.since, args.until)
    return _emit(args, "Workflows", stats)


@_with_engine
def _run_steps(engine: Any, args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {args.limit}")
    if args.sort == "failed":
        steps = engine.most_failed_steps(
            args.limit or 1_000_000, args.workflow, args.since, args.until
        )
    elif args.sort == "name":
        steps = engine.step_stats(args.workflow, args.step, args.since, args.until)
        steps = steps[: args.limit] if args.limit else steps
    else:
        steps = engine.slowest_steps(
            args.limit or 1_000_000, args.sort, args.workflow, args.since, args.until
        )
    if args.step is not None:
        steps = [s for s in steps if s.step == args.step]
    return _emit(args, "Steps", steps)


@_with_engine
def _run_trends(engine: Any, args: argparse.Namespace) -> int:
    points = engine.trends(
        args.metric,
        args.interval,
        args.workflow,
        args.workflow_type,
        args.since,
        args.until,
        per_workflow=args.per_workflow,
    )
    return _emit(args, f"Trend of {args.metric} per {args.interval}", points)


@_with_engine
def _run_users(engine: Any, args: argparse.Namespace) -> int:
    users = engine.user_stats(args.workflow, args.since, args.until, limit=args.limit)
    return _emit(args, "Users", users)


@_with_engine
def _run_errors(engine: Any, args: argparse.Namespace) -> int:
    return _emit(
        args, "Errors by type", engine.errors_by_type(args.workflow, args.since, args.until)
    )


@_with_engine
def _run_export(engine: Any, args: argparse.Namespace) -> int:
    dest: Any = args.out if args.out else sys.stdout
    if args.format == "json":
        count = engine.export_json(dest, args.kind, args.workflow, args.since, args.until)
    else:
        count = engine.export_csv(dest, args.kind, args.workflow, args.since, args.until)
    if args.out:
        print(f"wrote {count} {args.kind} rows to {args.out}", file=sys.stderr)
    return 0
