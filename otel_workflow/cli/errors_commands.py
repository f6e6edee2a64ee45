"""``otel-workflow errors``: error groups from the store's diagnosis history.

    otel-workflow errors --since 1h --workflow order --format table
    otel-workflow errors --format html > errors.html
    otel-workflow errors show 3f2a9c0d1e4b5a6f
    otel-workflow errors resolve 3f2a9c0d1e4b5a6f --note "idempotency key added in #123"

(``errors-by-type`` counts failed steps by type from the span rows; ``errors`` works on
fingerprinted groups, with origin, evidence, similar groups and suggestions.)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from otel_workflow import settings
from otel_workflow.cli._table import Column, output_width, render

_DEFAULT_STORE = "otel-workflow.db"
# Left out first when the terminal is narrow: last seen, then trend, then workflow and step.
_COLUMNS = (
    Column("fingerprint"), Column("count", numeric=True), Column("category"),
    Column("trend", priority=2), Column("workflow", priority=1), Column("step", priority=1),
    Column("last seen", priority=3), Column("error"),
)  # fmt: skip


def register(subparsers: Any) -> None:
    errors = subparsers.add_parser(
        "errors", help="error groups: list, show one, record a resolution",
        description="Error groups recorded by the diagnosis (fingerprints, counts, trends).",
    )
    _store_option(errors)
    errors.add_argument("--since", default="24h", help="window: a duration (default 24h)")
    errors.add_argument("--workflow", help="only this workflow")
    errors.add_argument("--format", choices=("table", "json", "markdown", "html"),
                        default="table", help="output format (default table)")  # fmt: skip
    errors.add_argument("--limit", type=int, default=10, help="groups per list (default 10)")
    errors.set_defaults(func=_run_list)
    sub = errors.add_subparsers(dest="errors_command", metavar="ACTION")
    show = sub.add_parser("show", help="one group's full diagnosis")
    show.add_argument("fingerprint")
    _store_option(show)
    show.add_argument("--since", default="24h", help="window for frequency and evidence")
    show.add_argument("--format", choices=("markdown", "json"), default="markdown")
    show.set_defaults(func=_run_show)
    resolve = sub.add_parser("resolve", help="record how a group was resolved")
    resolve.add_argument("fingerprint")
    resolve.add_argument("--note", required=True, help="what fixed it")
    _store_option(resolve)
    resolve.set_defaults(func=_run_resolve)


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", metavar="PATH", default=argparse.SUPPRESS,
        help=f"SQLite store (default: $OTEL_WORKFLOW_STORE or {_DEFAULT_STORE})",
    )


def _store(args: argparse.Namespace) -> str:
    return str(getattr(args, "store", None) or settings.STORE.get() or _DEFAULT_STORE)


def _run_list(args: argparse.Namespace) -> int:
    from otel_workflow.diagnosis.report import error_report, report_data

    if args.format != "table":
        sys.stdout.write(error_report(args.since, args.format, workflow=args.workflow,
                                      store=_store(args), limit=args.limit))  # fmt: skip
        return 0
    data = report_data(since=args.since, workflow=args.workflow, store=_store(args),
                       limit=args.limit)  # fmt: skip
    rows = []
    for fp in data["by_count"]:
        g = data["groups"][fp]
        freq = g.get("frequency") or {}
        trend = freq.get("trend", "-") + (" ESCALATING" if freq.get("escalating") else "")
        rows.append((fp, str(g["window_count"]), g["category"], trend, g.get("workflow") or "-",
                     g.get("step") or "-", g["last_seen"], g["template"][:70]))  # fmt: skip
    if not rows:
        print(f"No error groups since {args.since} in {data['store']}.")
        return 0
    # render() escapes every cell: a message's newline must not split its row.
    for line in render(f"Error groups since {args.since} in {data['store']}", _COLUMNS, rows,
                       output_width()):  # fmt: skip
        print(line)
    return 0


def _run_show(args: argparse.Namespace) -> int:
    from otel_workflow.diagnosis.api import diagnose
    from otel_workflow.diagnosis.report import diagnosis_markdown

    d = diagnose(args.fingerprint, store=_store(args), since=args.since)
    if args.format == "json":
        print(json.dumps(d.to_dict(), indent=2, default=str, sort_keys=True))
    else:
        sys.stdout.write(diagnosis_markdown(d))
    return 0


def _run_resolve(args: argparse.Namespace) -> int:
    from otel_workflow.diagnosis.api import resolve

    resolve(args.fingerprint, args.note, store=_store(args))
    print(f"Recorded a resolution for {args.fingerprint}.")
    return 0
