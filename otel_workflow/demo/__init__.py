"""``make demo``: a realistic workload on the embedded default, with live ``/metrics``.

Runs :func:`~otel_workflow.demo.workload.run_workload` with telemetry going to a SQLite
store and to ``/metrics`` on 127.0.0.1, shows a progress bar, then prints what was
recorded: the analytics ``stats`` table from the store and a few lines of ``/metrics``.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request
from collections.abc import Sequence
from datetime import datetime, timezone

import otel_workflow as ow


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m otel_workflow.demo", description=__doc__)
    parser.add_argument("--executions", type=int, default=400, help="workflow executions")
    parser.add_argument("--concurrency", type=int, default=4, help="threads running them")
    parser.add_argument("--store", default="otel-workflow-demo.db", help="SQLite store path")
    parser.add_argument("--metrics-port", type=int, default=9464,
                        help="port for /metrics (0: any free port)")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def _progress(total: int):  # type: ignore[no-untyped-def]
    try:
        from rich.progress import Progress
    except ImportError:  # the cli extra is missing: plain dots
        class _Dots:
            def __enter__(self) -> _Dots:
                return self

            def __exit__(self, *exc: object) -> None:
                print()

            def advance(self, n: int) -> None:
                print(".", end="", flush=True)

        return _Dots()

    class _Bar:
        def __enter__(self) -> _Bar:
            self.progress = Progress()
            self.progress.__enter__()
            self.task = self.progress.add_task("workflow executions", total=total)
            return self

        def __exit__(self, *exc: object) -> None:
            self.progress.__exit__(None, None, None)

        def advance(self, n: int) -> None:
            self.progress.advance(self.task, n)

    return _Bar()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the process exit code."""
    args = _parser().parse_args(argv)
    from otel_workflow.demo.workload import run_workload

    try:
        handle = ow.configure(service_name="otel-workflow-demo", metrics_port=args.metrics_port,
                              store=args.store)  # fmt: skip
    except OSError as exc:
        print(f"demo: {exc}; pass --metrics-port 0 to pick a free port", file=sys.stderr)
        return 1
    print(f"Serving Prometheus metrics at {handle.metrics_url}")
    print(f"Writing spans to the SQLite store {args.store}")
    # The store may hold earlier runs: the closing stats cover this run only.
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with _progress(args.executions) as bar:
        summary = run_workload(args.executions, args.concurrency, args.seed, bar.advance)
    print(f"\n{summary.executions} executions ({summary.failed} failed) in "
          f"{summary.seconds:.1f}s: " + ", ".join(f"{k}={v}" for k, v in
                                                   sorted(summary.by_type.items())))  # fmt: skip
    handle.force_flush()
    _print_metrics_excerpt(handle.metrics_url)
    handle.shutdown()
    print(f"\notel-workflow stats --store {args.store} --since {started}")
    from otel_workflow.cli import main as cli_main

    return cli_main(["stats", "--store", args.store, "--since", started])


def _print_metrics_excerpt(url: str | None) -> None:
    if url is None:
        return
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    wanted = ("workflow_executions_total", "workflow_step_errors_total")
    lines = [line for line in text.splitlines() if line.startswith(wanted)]
    print(f"\nFrom {url} ({len(text.splitlines())} lines):")
    for line in lines[:12]:
        print("  " + line)


if __name__ == "__main__":
    sys.exit(main())
