"""``otel-workflow demo [--prometheus] [demo options]``.

Without ``--prometheus`` this is ``python -m otel_workflow.demo``, with the same options
(one definition: :mod:`otel_workflow.demo.options`).  With ``--prometheus`` it needs no
Docker: it starts a local ``prometheus`` binary (Debian package ``prometheus``) on 127.0.0.1
with the shipped recording and alerting rules, points it at the workload's ``/metrics``,
runs the workload, then prints the duration percentiles and, for every dashboard query, its
result and a link to Prometheus's own graph page.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otel_workflow import semconv as sc

if TYPE_CHECKING:
    from otel_workflow.demo.options import DemoOptions

_CHUNKS = 10  # scrapes the workload is spread over, so rates have several samples


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand to the ``otel-workflow`` parser."""
    from otel_workflow.demo.options import DESCRIPTION, add_options

    demo = subparsers.add_parser(
        "demo",
        help="run the demo workload (optionally against a local Prometheus)",
        # Plain text: --help shows this, so no reST markup.
        description=DESCRIPTION + " With --prometheus: start a local prometheus binary "
        "(Debian package prometheus) with the shipped rules, scrape the workload, and print "
        "the duration percentiles and every dashboard query with a link to its graph.",
    )
    add_options(demo)
    extra = demo.add_argument_group("local Prometheus")
    extra.add_argument(
        "--prometheus",
        action="store_true",
        help="start a local prometheus binary with the shipped rules and query it",
    )
    extra.add_argument(
        "--rules",
        type=Path,
        default=None,
        help="directory of Prometheus rule files (default: the rules shipped in the package)",
    )
    demo.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo as the parsed arguments say; returns the exit code."""
    from otel_workflow.demo import run
    from otel_workflow.demo.options import resolve

    options = resolve(args)
    if not args.prometheus:
        return run(options)
    return _run_with_prometheus(args, options)


def _run_with_prometheus(args: argparse.Namespace, options: DemoOptions) -> int:
    from otel_workflow.demo.prometheus import SHIPPED_CONFIG_DIR, PrometheusProcess, find_prometheus

    binary = find_prometheus()
    if binary is None:
        raise LookupError(
            "no `prometheus` binary on PATH (Debian: apt-get install prometheus); "
            "or use docker-compose.yml (docs/operations.md)"
        )
    if args.rules is None:
        args.rules = SHIPPED_CONFIG_DIR / "rules"
    rules = sorted(Path(args.rules).glob("*.yml"))
    if not rules:
        print(f"demo: no rule files in {args.rules}; recording-rule queries will be empty",
              file=sys.stderr)  # fmt: skip
    executions, concurrency, seed = options.executions, options.concurrency, options.seed
    serve = options.serve

    from otel_workflow.demo import configure_demo

    handle = configure_demo(options)
    workdir = Path(tempfile.mkdtemp(prefix="otel-workflow-prometheus-"))
    prom: PrometheusProcess | None = None
    try:
        prom = PrometheusProcess.start(
            binary=binary,
            workdir=workdir,
            targets=[f"127.0.0.1:{handle.metrics_port}"],
            rule_files=rules,
        )
        print(f"Prometheus {prom.url} scraping {handle.metrics_url} every second")
        prom.wait_for_scrape()
        _run_workload(prom, executions, concurrency, seed)
        if rules:
            # The recording rules run every second; wait for the first non-empty round.
            prom.wait_for(sc.PROM_RULE_WORKFLOW_DURATION_QUANTILE, bool, timeout=60)
        _print_percentiles(prom)
        _print_dashboard_queries(prom)
        if serve:
            print(f"\nPrometheus keeps running at {prom.url} ; press Ctrl-C to stop.")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                print()
        return 0
    finally:
        if prom is not None:
            prom.stop()
        handle.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)


def _run_workload(prom: Any, executions: int, concurrency: int, seed: int) -> None:
    from otel_workflow.demo.workload import run_workload

    done = 0
    failed = 0
    chunk = max(1, -(-executions // _CHUNKS))
    for index in range(_CHUNKS):
        size = min(chunk, executions - done)
        if size <= 0:
            break
        summary = run_workload(size, concurrency, seed + index)
        done += summary.executions
        failed += summary.failed
        # One scrape between chunks: counters rise across samples, so rate() sees them.
        prom.wait_for_scrape()
        print(f"  {done}/{executions} executions ({failed} failed)", flush=True)
    prom.wait_for_scrape(scrapes=2)


def _print_percentiles(prom: Any) -> None:
    rows: dict[str, dict[str, float]] = {}
    for series in prom.query(sc.PROM_RULE_WORKFLOW_DURATION_QUANTILE):
        metric = series["metric"]
        name = metric.get(sc.PROM_LABEL_WORKFLOW, "?")
        rows.setdefault(name, {})[metric.get(sc.PROM_LABEL_QUANTILE, "?")] = float(
            series["value"][1]
        )
    print(f"\nWorkflow duration percentiles ({sc.PROM_RULE_WORKFLOW_DURATION_QUANTILE}):")
    print(f"  {'workflow':<28} {'p50':>10} {'p95':>10} {'p99':>10}")
    for name in sorted(rows):
        cells = [_ms(rows[name].get(q)) for q in ("0.5", "0.95", "0.99")]
        print(f"  {name:<28} {cells[0]:>10} {cells[1]:>10} {cells[2]:>10}")
    if not rows:
        print("  (no data: are the recording rules loaded?)")


def _ms(value: float | None) -> str:
    if value is None or value != value:  # NaN: no observations in the window
        return "-"
    return f"{value * 1000:.1f} ms"


def _print_dashboard_queries(prom: Any) -> None:
    from otel_workflow.dashboards.panels import all_queries, substitute

    current = ""
    for dashboard, panel, query in all_queries():
        if dashboard.title != current:
            current = dashboard.title
            print(f"\n== {current} ==")
        expr = substitute(query.expr)
        result = prom.query(expr)
        print(f"- {panel.title}: {_summary(result)}")
        print(f"    {expr}")
        print(f"    {prom.graph_url(expr)}")


def _summary(result: list[dict[str, Any]]) -> str:
    if not result:
        return "no data"
    first = result[0]
    labels = ", ".join(f"{k}={v}" for k, v in sorted(first["metric"].items()) if k != "__name__")
    value = first["value"][1]
    more = f" (+{len(result) - 1} more series)" if len(result) > 1 else ""
    return f"{{{labels}}} = {value}{more}"
