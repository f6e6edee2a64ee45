"""``make demo``: a realistic workload on the embedded default, with live ``/metrics``.

Runs :func:`~otel_workflow.demo.workload.run_workload` with telemetry going to a SQLite
store and to ``/metrics`` on 127.0.0.1, shows a progress bar, then prints what was
recorded (the analytics ``stats`` table and a few lines of ``/metrics``) and the commands
to look further, spelled so they run when pasted.  On a terminal ``/metrics`` stays up
until Ctrl-C; without one the demo exits when the workload is done.
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import shutil
import sys
import threading
import urllib.request
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import otel_workflow as ow
from otel_workflow.demo import commands
from otel_workflow.demo.options import DESCRIPTION, DemoOptions, add_options, resolve

#: Exit code of a demo interrupted before its workload finished (128 + SIGINT).
EXIT_INTERRUPTED = 130


def build_parser(prog: str = "python -m otel_workflow.demo") -> argparse.ArgumentParser:
    """The parser of ``python -m otel_workflow.demo`` (``otel-workflow demo`` adds to it)."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the process exit code."""
    return run(resolve(build_parser().parse_args(argv)))


def run(options: DemoOptions) -> int:
    """Run the demo with resolved options; returns the process exit code."""
    try:
        handle = configure_demo(options)
    except OSError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    try:
        _run_and_report(handle, options)
        if options.serve:
            print(f"\nServing {handle.metrics_url} until you stop the demo.")
            print("Press Ctrl-C to stop.", flush=True)
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                print("\nStopped; the store is flushed.")
        return 0
    except KeyboardInterrupt:
        print("\nInterrupted; what was recorded so far is in the store.", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        handle.shutdown()


def configure_demo(options: DemoOptions) -> Any:
    """``ow.configure()`` for the demo: on a free port (announced) when the asked one is taken."""

    def configure(port: int) -> Any:
        return ow.configure(service_name="otel-workflow-demo", metrics_port=port,
                            store=options.store)  # fmt: skip

    try:
        return configure(options.metrics_port)
    except OSError as exc:
        # configure() is all or nothing, so trying again with another port is safe.
        if options.metrics_port == 0 or exc.errno not in (errno.EADDRINUSE, errno.EACCES):
            raise
        handle = configure(0)
        print(f"Port {options.metrics_port} is taken ({exc.strerror}); using a free port.")
        return handle


def _run_and_report(handle: Any, options: DemoOptions) -> None:
    from otel_workflow.demo.workload import run_workload

    print(f"Serving Prometheus metrics at {handle.metrics_url}")
    print(f"Writing spans to the SQLite store {options.store}")
    # The store may hold earlier runs: the closing stats cover this run only.
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with _progress(options.executions) as bar:
        summary = run_workload(options.executions, options.concurrency, options.seed,
                               bar.advance)  # fmt: skip
    by_type = ", ".join(f"{k}={v}" for k, v in sorted(summary.by_type.items()))
    print(f"\n{summary.executions} executions ({summary.failed} failed) in "
          f"{summary.seconds:.1f}s: {by_type}")  # fmt: skip
    handle.force_flush()
    _print_metrics_excerpt(handle.metrics_url)
    stats = ["stats", "--store", options.store, "--since", started]
    print("\n" + commands.cli(*stats))
    from otel_workflow.cli import main as cli_main

    cli_main(stats)
    _print_next_steps(handle, options, started)


def _print_next_steps(handle: Any, options: DemoOptions, started: str) -> None:
    print("\nNext (each line runs as is in a shell in this directory):")
    if importlib.util.find_spec("matplotlib") is not None:
        report = _beside(options.store, "otel-workflow-report.html")
        print(commands.cli("report", "--store", options.store, "--since", started, "--out", report))
    print(commands.cli("steps", "--store", options.store, "--since", started))
    if options.serve and shutil.which("curl") is not None:
        print(commands.shell(f"curl -s {handle.metrics_url} | grep '^workflow_executions'"))
    else:
        print("/metrics closes as the demo exits; to keep it up, run the demo in a terminal:")
        print(commands.cli("demo", "--serve", "--store", options.store,
                           raw="   # serves until Ctrl-C"))  # fmt: skip
    activate = commands.activate_script()
    if activate is not None:
        print("Put otel-workflow on your PATH (then `otel-workflow --help` works):")
        print(commands.shell(f"source {activate}"))


def _beside(store: str, name: str) -> str:
    """A file next to the store (in the current directory for the default store)."""
    return str(Path(store).with_name(name))


def _print_metrics_excerpt(url: str | None) -> None:
    if url is None:
        return
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    wanted = ("workflow_executions_total", "workflow_step_errors_total")
    lines = [line for line in text.splitlines() if line.startswith(wanted)]
    print(f"\nFrom {url} ({len(text.splitlines())} lines):")
    for line in lines[:12]:
        print("  " + line)


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


if __name__ == "__main__":
    sys.exit(main())
