"""The demo's options, defined once for ``python -m otel_workflow.demo`` and ``otel-workflow demo``.

Both front ends call :func:`add_options` on their parser and :func:`resolve` on the parsed
namespace, so an option added here exists in both with the same default and help text.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from otel_workflow import settings

#: The port ``make demo`` serves ``/metrics`` on (the README's ``curl`` uses it); when it is
#: taken the demo picks a free one and prints the URL it chose.
DEFAULT_METRICS_PORT = 9464

DESCRIPTION = (
    "Run a realistic workload (three workflow types, threads and asyncio, real failures) "
    "with telemetry going to the embedded SQLite store and to /metrics on 127.0.0.1, then "
    "print what was recorded and the commands to look at it. On a terminal /metrics stays "
    "up until Ctrl-C; without one (CI, a pipe) the demo exits when the workload is done."
)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0-65535, got {text!r}")
    return value


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options (every one defaults to None: :func:`resolve` fills them in)."""
    parser.add_argument("--executions", type=positive_int, help="workflow executions (400)")
    parser.add_argument("--concurrency", type=positive_int, help="worker threads (4)")
    parser.add_argument("--seed", type=int,
                        help="random seed: the same seed gives the same executions and "
                             "failures (0)")  # fmt: skip
    parser.add_argument(
        "--store", metavar="PATH",
        help=f"SQLite store to write (default: ${settings.STORE.name} or "
        f"{settings.DEFAULT_STORE_FILE}, the store the other commands read by default)",
    )  # fmt: skip
    parser.add_argument(
        "--metrics-port", type=_port, metavar="PORT",
        help=f"port of /metrics on 127.0.0.1 (default: ${settings.METRICS_PORT.name} or "
        f"{DEFAULT_METRICS_PORT}; a free port when that one is taken; 0: any free port)",
    )  # fmt: skip
    parser.add_argument(
        "--serve", action=argparse.BooleanOptionalAction,
        help="keep serving after the workload until Ctrl-C "
        "(default: when stdin and stdout are terminals)",
    )  # fmt: skip


@dataclass(frozen=True)
class DemoOptions:
    """The demo's options with every default applied."""

    executions: int
    concurrency: int
    seed: int
    store: str
    metrics_port: int
    serve: bool


def resolve(args: argparse.Namespace) -> DemoOptions:
    """Apply the defaults (argument > environment > default) to a parsed namespace."""
    port = args.metrics_port
    if port is None:
        port = settings.METRICS_PORT.get()
    serve = args.serve
    if serve is None:
        serve = _interactive()
    return DemoOptions(
        executions=400 if args.executions is None else args.executions,
        concurrency=4 if args.concurrency is None else args.concurrency,
        seed=0 if args.seed is None else args.seed,
        store=args.store or settings.STORE.get() or settings.DEFAULT_STORE_FILE,
        metrics_port=DEFAULT_METRICS_PORT if port is None else port,
        serve=serve,
    )


def _interactive() -> bool:
    """A person is watching: stdin and stdout are both terminals."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False
