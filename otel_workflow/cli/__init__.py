"""The ``otel-workflow`` command.

Each group of subcommands lives in its own module under ``otel_workflow.cli`` and exposes
``register(subparsers)``; a subcommand sets ``func`` (taking the parsed namespace and
returning an exit code) with ``parser.set_defaults(func=...)``.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
from collections.abc import Sequence

# Modules that add subcommands; a module missing its optional extra is skipped with a hint.
_COMMAND_MODULES = (
    "otel_workflow.cli.analytics_commands",
    "otel_workflow.cli.report_commands",
    "otel_workflow.cli.demo_commands",
    "otel_workflow.cli.debug_commands",
    "otel_workflow.cli.errors_commands",
)

#: The documented exit codes (also in ``--help`` and docs/analytics.md).
EXIT_OK = 0
EXIT_ERROR = 1  # bad value, missing store, unreadable file, server unreachable
EXIT_USAGE = 2  # unknown or misspelt option, missing command, unsupported by the source
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_PIPE_CLOSED = 141  # the reader went away, e.g. `| head` (128 + SIGPIPE)

_EPILOG = f"""\
exit codes:
  {EXIT_OK}    success
  {EXIT_ERROR}    error: a bad value, a missing store, a file or server that cannot be used
  {EXIT_USAGE}    usage: an unknown or misspelt option, no command, or a request the
       source cannot answer (e.g. users on Prometheus)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
  {EXIT_PIPE_CLOSED}  the output was closed early (e.g. piped into head); nothing is printed

Tables fit $COLUMNS (or the terminal); --format csv|json is for machines.
"""


def _build() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="otel-workflow",
        description="Analytics, reports and demos for otel-workflow telemetry.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    return parser, dict(subparsers.choices)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand registered."""
    return _build()[0]


def _unrecognized(parser: argparse.ArgumentParser, extras: Sequence[str]) -> str:
    """``unrecognized arguments: --stroe (did you mean --store?)``."""
    # argparse has no public list of a parser's options; _option_string_actions is it.
    known = [o for o in parser._option_string_actions if o.startswith("--")]
    words = []
    for extra in extras:
        option = extra.split("=", 1)[0]
        close = difflib.get_close_matches(option, known, n=1) if option.startswith("-") else []
        words.append(f"{extra} (did you mean {close[0]}?)" if close else extra)
    return "unrecognized arguments: " + " ".join(words)


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the exit-time flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests): nothing to flush
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``otel-workflow`` console script; returns an exit code (see --help)."""
    parser, commands = _build()
    args, extras = parser.parse_known_args(argv)
    if extras:
        # The subcommand's parser, so the usage shown is the one of the command being typed.
        command_parser = commands.get(args.command or "", parser)
        command_parser.error(_unrecognized(command_parser, extras))  # exits EXIT_USAGE
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        code = int(func(args))
        sys.stdout.flush()  # here, not at exit, so a closed pipe is caught below
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_PIPE_CLOSED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (ValueError, OSError, LookupError) as exc:
        print(f"otel-workflow {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
