"""``otel-workflow debug|breakpoints|executions|trace``: the debugger's terminal front end.

    otel-workflow debug script.py [args]          run a script, a prompt at each pause
    otel-workflow breakpoints list|set|clear|enable|disable --store PATH
    otel-workflow executions [--workflow W] [--status failed]
    otel-workflow trace EID

The last three work on the store from another terminal while the program runs: a
breakpoint set here reaches the running process within its change-check interval.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
import threading
from typing import Any

from otel_workflow import settings
from otel_workflow.debugger import PausedExecution, WorkflowDebugger, set_default
from otel_workflow.debugger.expressions import EvaluationError, ExpressionError

_DEFAULT_STORE = "otel-workflow.db"
_HELP = """commands: c(ontinue)  s(tep)  n(ext)  o(ut)  vars  p EXPR  bt  snapshot  watch EXPR
          breakpoints  q(uit)"""


def _store(args: argparse.Namespace) -> str:
    return str(args.store or settings.STORE.get() or _DEFAULT_STORE)


def register(subparsers: Any) -> None:
    """Add the debugger's subcommands."""
    debug = subparsers.add_parser("debug", help="run a script under the workflow debugger")
    debug.add_argument("script")
    debug.add_argument("script_args", nargs=argparse.REMAINDER)
    debug.add_argument("--store", default=None)
    debug.add_argument("--break", dest="breaks", action="append", default=[],
                       metavar="STEP", help="pause at this step (repeatable)")  # fmt: skip
    debug.set_defaults(func=_debug)

    bps = subparsers.add_parser("breakpoints", help="list or change stored breakpoints")
    bps.add_argument("action", choices=("list", "set", "clear", "enable", "disable"))
    bps.add_argument("target", nargs="?", help="breakpoint id (clear/enable/disable)")
    bps.add_argument("--store", default=None)
    bps.add_argument("--step")
    bps.add_argument("--workflow")
    bps.add_argument("--span")
    bps.add_argument("--condition")
    bps.add_argument("--hit-condition")
    bps.add_argument("--ignore-count", type=int, default=0)
    bps.add_argument("--temporary", action="store_true")
    bps.add_argument("--action", dest="bp_action", default="pause",
                     choices=("pause", "snapshot", "log"))  # fmt: skip
    bps.add_argument("--message")
    bps.set_defaults(func=_breakpoints)

    execs = subparsers.add_parser("executions", help="recent executions in the store")
    execs.add_argument("--store", default=None)
    execs.add_argument("--workflow")
    execs.add_argument("--status")
    execs.add_argument("--limit", type=int, default=20)
    execs.set_defaults(func=_executions)

    trace = subparsers.add_parser("trace", help="an execution's recorded step trace")
    trace.add_argument("execution_id")
    trace.add_argument("--store", default=None)
    trace.set_defaults(func=_trace)


def _breakpoints(args: argparse.Namespace) -> int:
    dbg = WorkflowDebugger(_store(args))
    if args.action == "list":
        for bp in dbg.list_breakpoints():
            print(bp.describe())
        return 0
    if args.action == "set":
        bp = dbg.set_breakpoint(step=args.step, workflow=args.workflow, span=args.span,
                                condition=args.condition, hit_condition=args.hit_condition,
                                ignore_count=args.ignore_count, temporary=args.temporary,
                                action=args.bp_action, message=args.message)  # fmt: skip
        print(bp.describe())
        return 0
    if not args.target:
        raise ValueError(f"breakpoints {args.action} needs a breakpoint id")
    {"clear": dbg.clear_breakpoint, "enable": dbg.enable, "disable": dbg.disable}[args.action](
        args.target
    )
    print(f"{args.action}: {args.target}")
    return 0


def _executions(args: argparse.Namespace) -> int:
    dbg = WorkflowDebugger(_store(args))
    for row in dbg.executions(args.workflow, args.status, args.limit):
        error = f" {row['error_type']}" if row.get("error_type") else ""
        print(f"{row['execution_id']}  {row['workflow']}  {row['status']}{error}  "
              f"{row['duration']:.3f}s")  # fmt: skip
    return 0


def _trace(args: argparse.Namespace) -> int:
    dbg = WorkflowDebugger(_store(args))
    events = dbg.get_trace(args.execution_id)
    if not events:
        print(f"no trace recorded for {args.execution_id}", file=sys.stderr)
        return 1
    for e in events:
        indent = "  " * int(e.get("depth") or 0)
        detail = e.get("arguments") if e["event"] == "enter" else e.get("result", e.get("error"))
        took = f" {e['duration']:.4f}s" if e.get("duration") is not None else ""
        print(f"{indent}{e['event']} {e['name']}{took} {json.dumps(detail, default=str)}")
    return 0


# -- the interactive debugger ------------------------------------------------------------


def _debug(args: argparse.Namespace) -> int:
    dbg = WorkflowDebugger(_store(args)).attach()
    set_default(dbg)
    for step in args.breaks:
        dbg.set_breakpoint(step=step, temporary=False)
    outcome: list[BaseException] = []

    def run() -> None:
        sys.argv = [args.script, *args.script_args]
        try:
            runpy.run_path(args.script, run_name="__main__")
        except SystemExit:
            pass
        except BaseException as exc:  # shown to the user at the prompt's end
            outcome.append(exc)

    thread = threading.Thread(target=run, name="otel-workflow-debug", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            paused = dbg.wait_for_pause(timeout=0.2)
            if paused is not None and not _prompt(dbg, paused):
                return 0
    finally:
        dbg.detach()
    if outcome:
        print(f"script raised {type(outcome[0]).__name__}: {outcome[0]}", file=sys.stderr)
        return 1
    return 0


def _prompt(dbg: WorkflowDebugger, paused: PausedExecution) -> bool:
    """Read commands until one resumes; False on quit."""
    eid = paused.execution_id
    print(paused.summary())
    while True:
        try:
            line = input("(ow-debug) ").strip()
        except EOFError:
            line = "q"
        cmd, _, rest = line.partition(" ")
        if cmd in ("c", "continue"):
            return dbg.resume(eid) or True
        if cmd in ("s", "step"):
            return dbg.step_into(eid) or True
        if cmd in ("n", "next"):
            return dbg.step_over(eid) or True
        if cmd in ("o", "out"):
            return dbg.step_out(eid) or True
        if cmd in ("q", "quit"):
            dbg.detach()
            return False
        _command(dbg, paused, cmd, rest)


def _command(dbg: WorkflowDebugger, paused: PausedExecution, cmd: str, rest: str) -> None:
    if cmd == "vars":
        print(json.dumps(paused.variables, indent=2, default=str))
    elif cmd in ("p", "print"):
        try:
            print(repr(paused.inspect(rest)))
        except (ExpressionError, EvaluationError) as exc:
            print(f"*** {exc}")
    elif cmd == "bt":
        for depth, frame in enumerate(paused.stack):
            print(f"{'  ' * depth}{frame.kind} {frame.name} (attempt {frame.attempt})")
    elif cmd == "snapshot":
        print(f"snapshot {dbg.snapshot(paused.execution_id).id}")
    elif cmd == "watch":
        try:
            print(f"watch {dbg.watch(rest, workflow=paused.workflow).id}")
        except ExpressionError as exc:
            print(f"*** {exc}")
    elif cmd == "breakpoints":
        for bp in dbg.list_breakpoints():
            print(bp.describe())
    else:
        print(_HELP)
