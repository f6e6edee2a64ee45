"""``otel-workflow stats | steps | trends | users | errors-by-type | export``.

    otel-workflow stats --store otel-workflow.db --since 24h
    otel-workflow steps --prometheus http://127.0.0.1:9090 --sort p95 --limit 10
    otel-workflow trends --metric error_rate --interval 15m --format csv
    otel-workflow export --kind steps --format json --out steps.json

Tables (rich, the ``cli`` extra) are for people; ``--format csv|json`` is for machines.
The source is ``--store PATH`` (default ``$OTEL_WORKFLOW_STORE`` or ``otel-workflow.db``)
or ``--prometheus URL``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

_ENV_STORE = "OTEL_WORKFLOW_STORE"
_DEFAULT_STORE = "otel-workflow.db"
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
    path = args.store or os.environ.get(_ENV_STORE) or _DEFAULT_STORE
    return AnalyticsEngine.from_store(path)


# --- output ------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _seconds(value: Any) -> str:
    if value is None:
        return "-"
    if value < 1.0:
        return f"{value * 1000:.1f}ms"
    return f"{value:.2f}s"


def _percent(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:,.4g}"


def _time(value: Any) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


# Compact columns for people: (header, field, formatter).  CSV and JSON keep every field.
_TABLES: dict[str, tuple[tuple[str, str, Callable[[Any], str]], ...]] = {
    "WorkflowStats": (
        ("workflow", "workflow", str), ("type", "workflow_type", str), ("runs", "count", str),
        ("failed", "failed", str), ("cancelled", "cancelled", str),
        ("success", "success_rate", _percent), ("avg", "avg", _seconds),
        ("p50", "p50", _seconds), ("p95", "p95", _seconds), ("p99", "p99", _seconds),
        ("max", "max", _seconds), ("per min", "throughput_per_minute", _number),
    ),
    "StepStats": (
        ("workflow", "workflow", str), ("step", "step", str), ("runs", "count", str),
        ("failed", "failed", str), ("errors", "error_rate", _percent),
        ("avg", "avg", _seconds), ("p50", "p50", _seconds), ("p95", "p95", _seconds),
        ("p99", "p99", _seconds), ("max", "max", _seconds), ("cpu avg", "avg_cpu_time", _seconds),
    ),
    "TrendPoint": (
        ("start", "start", _time), ("end", "end", _time), ("workflow", "workflow", _cell),
        ("value", "value", _number), ("runs", "count", _number),
    ),
    "UserStats": (
        ("user", "user_id", str), ("runs", "executions", str), ("failed", "failed", str),
        ("errors", "error_rate", _percent), ("avg", "avg", _seconds), ("p95", "p95", _seconds),
        ("first seen", "first_seen", _time), ("last seen", "last_seen", _time),
    ),
    "ErrorTypeStats": (
        ("workflow", "workflow", str), ("step", "step", str), ("error type", "error_type", str),
        ("category", "error_category", str), ("count", "count", str),
    ),
}  # fmt: skip


def _emit(args: argparse.Namespace, title: str, items: Sequence[Any]) -> int:
    """Print result dataclasses as a table, CSV or JSON."""
    if args.format == "json":
        json.dump([item.to_dict() for item in items], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if args.format == "csv":
        from otel_workflow.analytics.exports import write_csv

        if items:
            names = [f.name for f in dataclasses.fields(items[0])]
            write_csv(sys.stdout, names, ([getattr(i, n) for n in names] for i in items))
        return 0
    spec = _TABLES.get(type(items[0]).__name__) if items else None
    if spec is None:
        names = [f.name for f in dataclasses.fields(items[0])] if items else []
        spec = tuple((n, n, _cell) for n in names)
    rows = [[fmt(getattr(item, field)) for _, field, fmt in spec] for item in items]
    _table(title, [header for header, _, _ in spec], rows)
    return 0


def _table(title: str, names: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    if not rows:
        print(f"{title}: no data in the range")
        return
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # the cli extra is not installed: plain aligned text
        widths = [max(len(n), *(len(r[i]) for r in rows)) for i, n in enumerate(names)]
        print(title)
        print("  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)))
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        return
    table = Table(title=title)
    for name in names:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*row)
    # Piped output is not cut to 80 columns: a wide table stays readable in a file.
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(table)


def _with_engine(
    run: Callable[[Any, argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    def wrapper(args: argparse.Namespace) -> int:
        try:
            with _engine(args) as engine:
                return run(engine, args)
        except NotImplementedError as exc:
            print(f"otel-workflow {args.command}: {exc}", file=sys.stderr)
            return 2

    return wrapper


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
