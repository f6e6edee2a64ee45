"""``otel-workflow debug|breakpoints|executions|trace``: the debugger's terminal front end.

    otel-workflow debug [--store PATH] [--break STEP] script.py [args]
    otel-workflow breakpoints list|set|clear|enable|disable --store PATH
    otel-workflow executions [--workflow W] [--status failed]
    otel-workflow trace EID

The last three work on the store from another terminal while the program runs: a
breakpoint set here reaches the running process within its change-check interval.

``debug`` owns what it adds to the shared store: the breakpoints of ``--break`` and those
set or watched from its prompt are removed when the session ends (normally, on an
exception, on Ctrl-C or ``quit``), so no other process on the store pauses at them later;
``--keep-breakpoints`` leaves them.  It also configures telemetry on that store before the
script runs, so ``executions`` and ``trace`` show the run: ``debug``'s ``configure()`` comes
first and wins (see docs/debugger.md, "Terminal").
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from otel_workflow import settings
from otel_workflow._units import format_duration
from otel_workflow.cli._table import Column, output_width, render
from otel_workflow.debugger import Breakpoint, PausedExecution, WorkflowDebugger, set_default
from otel_workflow.debugger.expressions import EvaluationError, ExpressionError

_DEFAULT_STORE = "otel-workflow.db"
_HELP = """commands: c(ontinue)  s(tep)  n(ext)  o(ut)  vars  p EXPR  bt  snapshot  watch EXPR
          b(reak) STEP  cl(ear) ID  breakpoints  q(uit)"""
_STORE_HELP = f"the SQLite store (default: ${settings.STORE.name}, else {_DEFAULT_STORE})"


def _store(args: argparse.Namespace) -> str:
    return str(args.store or settings.STORE.get() or _DEFAULT_STORE)


def register(subparsers: Any) -> None:
    """Add the debugger's subcommands."""
    debug = subparsers.add_parser(
        "debug", help="run a script under the workflow debugger",
        description="Run a Python script with the workflow debugger attached and open a "
        "prompt (like pdb's) at each pause. Options go before the script; everything after "
        "it is passed to the script. Breakpoints the session sets are removed when it ends.",
    )  # fmt: skip
    debug.add_argument("script", help="the Python file to run as __main__")
    debug.add_argument("script_args", nargs=argparse.REMAINDER, metavar="args",
                       help="arguments for the script (its sys.argv[1:])")  # fmt: skip
    debug.add_argument("--store", default=None, metavar="PATH",
                       help=_STORE_HELP + ": breakpoints are shared through it and the "
                       "script's executions are recorded in it")  # fmt: skip
    debug.add_argument("--break", dest="breaks", action="append", default=[], metavar="STEP",
                       help="pause before this step (a name or glob; repeatable)")  # fmt: skip
    debug.add_argument("--keep-breakpoints", action="store_true",
                       help="leave the breakpoints and watches this session set in the store "
                       "when it ends (every process on the store will stop at them)")  # fmt: skip
    debug.set_defaults(func=_debug)

    bps = subparsers.add_parser("breakpoints", help="list or change stored breakpoints")
    bps.add_argument("action", choices=("list", "set", "clear", "enable", "disable"))
    bps.add_argument("target", nargs="?", help="breakpoint id (clear/enable/disable)")
    bps.add_argument("--store", default=None, metavar="PATH", help=_STORE_HELP)
    bps.add_argument("--step", help="the step to stop at (a name or glob)")
    bps.add_argument("--workflow", help="only inside this workflow (alone: at its start)")
    bps.add_argument("--span", help="a span name, for spans of other instrumentation")
    bps.add_argument("--condition", help="stop only when this expression is true")
    bps.add_argument("--hit-condition", help="DAP syntax: 5, >5, >=5, <5, <=5, %%5")
    bps.add_argument("--ignore-count", type=int, default=0, help="skip this many hits first")
    bps.add_argument("--temporary", action="store_true", help="remove at the first stop")
    bps.add_argument("--action", dest="bp_action", default="pause",
                     choices=("pause", "snapshot", "log"), help="what a hit does")  # fmt: skip
    bps.add_argument("--message", help="the log action's message template")
    bps.set_defaults(func=_breakpoints)

    execs = subparsers.add_parser("executions", help="recent executions in the store")
    execs.add_argument("--store", default=None, metavar="PATH", help=_STORE_HELP)
    execs.add_argument("--workflow", help="only this workflow")
    execs.add_argument("--status", help="only this status (ok, failed, ...)")
    execs.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    execs.set_defaults(func=_executions)

    trace = subparsers.add_parser("trace", help="an execution's recorded step trace")
    trace.add_argument("execution_id", metavar="EID")
    trace.add_argument("--store", default=None, metavar="PATH", help=_STORE_HELP)
    trace.set_defaults(func=_trace)


# -- tables ----------------------------------------------------------------------------


def _print_table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
    for line in render(title, columns, rows, output_width()):
        print(line)


def _reader(store: str) -> WorkflowDebugger | None:
    """A debugger on ``store`` for reading; None when the file does not exist (reading
    must not create it)."""
    return WorkflowDebugger(store) if os.path.exists(store) else None


def _missing(store: str) -> str:
    return f"store: {store}" + ("" if os.path.exists(store) else ", no such file")


_BP_COLUMNS = (Column("id"), Column("action"), Column("where"), Column("condition"),
               Column("state"), Column("hits", numeric=True))  # fmt: skip


def _print_breakpoints(bps: Sequence[Breakpoint], store: str) -> None:
    if not bps:
        print(f"No breakpoints ({_missing(store)})")
        return
    rows = [[bp.id, bp.action, bp.where(), bp.conditions() or "-", bp.state(), str(bp.hit_count)]
            for bp in bps]  # fmt: skip
    _print_table(f"Breakpoints (store: {store}; hits are this process's)", _BP_COLUMNS, rows)


def _breakpoints(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.action == "list":
        reader = _reader(store)
        _print_breakpoints(reader.list_breakpoints() if reader is not None else [], store)
        return 0
    dbg = WorkflowDebugger(store)
    if args.action == "set":
        bp = dbg.set_breakpoint(step=args.step, workflow=args.workflow, span=args.span,
                                condition=args.condition, hit_condition=args.hit_condition,
                                ignore_count=args.ignore_count, temporary=args.temporary,
                                action=args.bp_action, message=args.message)  # fmt: skip
        print(f"set: {bp.describe()}")
        return 0
    if not args.target:
        raise ValueError(f"breakpoints {args.action} needs a breakpoint id")
    {"clear": dbg.clear_breakpoint, "enable": dbg.enable, "disable": dbg.disable}[args.action](
        args.target
    )
    print(f"{args.action}: {args.target}")
    return 0


def _started(start_ns: Any) -> str:
    if not isinstance(start_ns, int):
        return "-"
    return datetime.fromtimestamp(start_ns / 1e9).strftime("%m-%d %H:%M:%S")


def _executions(args: argparse.Namespace) -> int:
    store = _store(args)
    reader = _reader(store)
    rows = reader.executions(args.workflow, args.status, args.limit) if reader else []
    filters = "".join(f" {name} {value!r}" for name, value in
                      (("workflow", args.workflow), ("status", args.status)) if value)  # fmt: skip
    if not rows:
        print(f"No executions{' with' + filters if filters else ''} ({_missing(store)})")
        return 0
    columns = (Column("execution"), Column("workflow"), Column("status"), Column("error"),
               Column("started"), Column("duration", numeric=True))  # fmt: skip
    cells = [[str(r["execution_id"]), str(r["workflow"]), str(r["status"]),
              r.get("error_type") or "-", _started(r["start_ns"]), format_duration(r["duration"])]
             for r in rows]  # fmt: skip
    title = f"Executions{' with' + filters if filters else ''}, newest first (store: {store})"
    _print_table(title, columns, cells)
    return 0


def _trace(args: argparse.Namespace) -> int:
    store = _store(args)
    reader = _reader(store)
    eid = args.execution_id
    events = reader.get_trace(eid) if reader is not None else []
    if events:
        rows = []
        for e in events:
            enter = e["event"] == "enter"
            detail = e.get("arguments") if enter else e.get("result", e.get("error"))
            took = format_duration(e["duration"]) if e.get("duration") is not None else ""
            rows.append([e["event"], "  " * int(e.get("depth") or 0) + str(e["name"]), took,
                         json.dumps(detail, default=str)])  # fmt: skip
        events_table = (Column("event"), Column("step"), Column("duration", numeric=True),
                        Column("arguments / result"))  # fmt: skip
        _print_table(f"Trace of {eid} (store: {store})", events_table, rows)
        return 0
    # No debugger trace was requested: the steps the span store recorded.
    steps = reader.store.execution_steps(eid) if reader is not None and reader.store else []
    if not steps or "workflow" not in steps[0]:
        print(f"No trace or recorded steps for {eid} ({_missing(store)})", file=sys.stderr)
        return 1
    head = steps[0]
    error = f", {head['error_type']}" if head.get("error_type") else ""
    title = (f"Steps of {eid}: workflow {head['workflow']}, {head['status']}{error}, "
             f"{format_duration(head.get('duration'))} (store: {store})")  # fmt: skip
    columns = (Column("#", numeric=True), Column("step"), Column("attempt", numeric=True),
               Column("status"), Column("error"), Column("duration", numeric=True))  # fmt: skip
    cells = [[_text(s["step_index"]), str(s["step"]), _text(s["attempt"]), str(s["status"]),
              s.get("error_type") or "-", format_duration(s.get("duration"))]
             for s in steps[1:]]  # fmt: skip
    _print_table(title, columns, cells)
    if len(steps) == 1:
        print("(no steps recorded)")
    return 0


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


# -- the interactive debugger ------------------------------------------------------------


class _Session:
    """What one ``debug`` session added to the shared store, removed when it ends."""

    def __init__(self, dbg: WorkflowDebugger) -> None:
        self.dbg = dbg
        self.breakpoints: list[str] = []
        self.watches: list[str] = []

    def add_breakpoint(self, step: str) -> Breakpoint:
        bp = self.dbg.set_breakpoint(step=step)
        self.breakpoints.append(bp.id)
        return bp

    def end(self) -> None:
        """Remove the session's breakpoints and watches from the store."""
        for bp_id in self.breakpoints:
            # Cleared already (temporary, or from another terminal): nothing to do.
            if self.dbg.store is not None:
                self.dbg.store.delete("breakpoint", bp_id)
        for watch_id in self.watches:
            self.dbg.unwatch(watch_id)
        self.dbg.refresh()


def _configure(store: str) -> Any:
    """Configure telemetry on ``store`` for the script (None when this process already
    configured it, e.g. ``main()`` called from a program).

    Ours comes first, so the script's own ``ow.configure(...)`` returns this handle and
    warns that its options are ignored: its executions are recorded where ``executions
    --store`` looks.  Other settings come from the environment (``OTEL_SERVICE_NAME``,
    ``OTEL_WORKFLOW_*``), which this configure() reads as the script's would.
    """
    from otel_workflow import config

    current = config.current()
    if current is not None:
        if os.path.abspath(str(getattr(current, "store_path", ""))) != os.path.abspath(store):
            print(f"note: telemetry is already configured (store: {current.store_path}); "
                  f"executions are recorded there", file=sys.stderr)  # fmt: skip
        return None
    return config.configure(store=store)


def _debug(args: argparse.Namespace) -> int:
    store = _store(args)
    handle = _configure(store)
    dbg = WorkflowDebugger(store).attach()
    set_default(dbg)
    session = _Session(dbg)
    try:
        for step in args.breaks:
            session.add_breakpoint(step)
        return _run(args, dbg, session)
    finally:
        if args.keep_breakpoints:
            print(f"breakpoints kept in {store}: otel-workflow breakpoints list --store {store}",
                  file=sys.stderr)  # fmt: skip
        else:
            session.end()
        dbg.close()
        if handle is not None:
            handle.shutdown()  # flushes the script's executions into the store


def _run(args: argparse.Namespace, dbg: WorkflowDebugger, session: _Session) -> int:
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
    while thread.is_alive():
        paused = dbg.wait_for_pause(timeout=0.2)
        if paused is not None and not _prompt(dbg, paused, session):
            return 0
    if outcome:
        print(f"script raised {type(outcome[0]).__name__}: {outcome[0]}", file=sys.stderr)
        return 1
    return 0


def _prompt(dbg: WorkflowDebugger, paused: PausedExecution, session: _Session) -> bool:
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
            return False
        _command(dbg, paused, session, cmd, rest.strip())


def _command(
    dbg: WorkflowDebugger, paused: PausedExecution, session: _Session, cmd: str, rest: str
) -> None:
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
            watch = dbg.watch(rest, workflow=paused.workflow)
        except ExpressionError as exc:
            print(f"*** {exc}")
            return
        session.watches.append(watch.id)
        print(f"watch {watch.id}")
    elif cmd in ("b", "break") and rest:
        try:
            print(f"set: {session.add_breakpoint(rest).describe()}")
        except (TypeError, ValueError) as exc:
            print(f"*** {exc}")
    elif cmd in ("cl", "clear") and rest:
        try:
            dbg.clear_breakpoint(rest)
            print(f"clear: {rest}")
        except LookupError as exc:
            print(f"*** {exc}")
    elif cmd == "breakpoints":
        _print_breakpoints(dbg.list_breakpoints(), str(dbg.store.path if dbg.store else "-"))
    else:
        print(_HELP)
