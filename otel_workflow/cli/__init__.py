"""The ``otel-workflow`` command.

Each group of subcommands lives in its own module under ``otel_workflow.cli`` and exposes
``register(subparsers)``; a subcommand sets ``func`` (taking the parsed namespace and
returning an exit code) with ``parser.set_defaults(func=...)``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that add subcommands; a module missing its optional extra is skipped with a hint.
_COMMAND_MODULES = (
    "otel_workflow.cli.analytics_commands",
    "otel_workflow.cli.report_commands",
    "otel_workflow.cli.demo_commands",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="otel-workflow",
        description="Analytics, reports and demos for otel-workflow telemetry.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and exc.name.startswith("otel_workflow"):
                continue  # that group is not part of this build
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``otel-workflow`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except (ValueError, OSError, LookupError) as exc:
        print(f"otel-workflow {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
