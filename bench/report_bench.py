"""Time a report (HTML and markdown) over a store of 1M step rows; prints figures, asserts nothing.

The rows are generated straight into a fresh store file (the real schema, created by the
store's own ``open_store``; inserted with ``executemany`` in one transaction), spread over
the 24 hours the report covers: 250k executions of 8 workflows, 4 steps each, with a few
percent failures of several kinds.  Then the report is timed end to end, and each of the
engine queries it makes, so a slow section is easy to spot.  The target (issue 3) is a
report over 1M rows in under 10 s.

    .venv/bin/python bench/report_bench.py [--steps 1000000] [--keep PATH]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from otel_workflow.analytics import AnalyticsEngine
from otel_workflow.reports import collect, write_report
from otel_workflow.store import open_store

WORKFLOWS = tuple((f"workflow-{i}", f"type-{i % 3}") for i in range(8))
STEPS = ("validate", "fetch", "process", "persist")
ERRORS = (
    ("ValueError", "validation"), ("TimeoutError", "timeout"),
    ("ConnectionError", "external_service"), ("KeyError", "not_found"),
)  # fmt: skip
STEPS_PER_EXECUTION = len(STEPS)


def _rows(
    executions: int, now: datetime, seed: int
) -> Iterator[tuple[tuple[object, ...], list[tuple[object, ...]]]]:
    rng = random.Random(seed)
    end_ns = int(now.timestamp() * 1e9)
    span_ns = int(timedelta(hours=24).total_seconds() * 1e9)
    for i in range(executions):
        workflow, wtype = WORKFLOWS[i % len(WORKFLOWS)]
        trace_id = f"{rng.getrandbits(128):032x}"
        start = end_ns - span_ns + rng.randrange(span_ns - 60_000_000_000)
        moment, failed = start, None
        steps: list[tuple[object, ...]] = []
        for index, step in enumerate(STEPS):
            duration = rng.lognormvariate(-4.0 + index * 0.5, 0.7)
            error = rng.choice(ERRORS) if rng.random() < 0.01 else None
            status = "error" if error else "ok"
            steps.append((
                trace_id, f"{rng.getrandbits(64):016x}", None, f"e{i}", workflow, step, index,
                1, status, error[0] if error else None, error[1] if error else None,
                f"user-{i % 500}", None, moment, moment + int(duration * 1e9), duration,
                duration * 0.4, None,
            ))  # fmt: skip
            moment += int(duration * 1e9)
            failed = failed or error
        status = "error" if failed else "ok"
        execution: tuple[object, ...] = (
            trace_id, f"{rng.getrandbits(64):016x}", None, f"e{i}", None, workflow, wtype, "1",
            status, failed[0] if failed else None, failed[1] if failed else None,
            f"user-{i % 500}", None, start, moment, (moment - start) / 1e9, None,
        )  # fmt: skip
        yield execution, steps


def generate(path: Path, step_rows: int, now: datetime, seed: int = 1) -> float:
    """Write ``step_rows`` step rows (and their executions) into a new store; seconds taken."""
    began = time.perf_counter()
    conn = open_store(path)
    executions = step_rows // STEPS_PER_EXECUTION
    batch_e: list[tuple[object, ...]] = []
    batch_s: list[tuple[object, ...]] = []
    conn.execute("BEGIN")
    for execution, steps in _rows(executions, now, seed):
        batch_e.append(execution)
        batch_s.extend(steps)
        if len(batch_s) >= 50_000:
            _flush(conn, batch_e, batch_s)
    _flush(conn, batch_e, batch_s)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - began


def _flush(
    conn: sqlite3.Connection,
    executions: list[tuple[object, ...]],
    steps: list[tuple[object, ...]],
) -> None:
    conn.executemany(
        "INSERT INTO executions (trace_id, span_id, parent_span_id, execution_id, "
        "parent_execution_id, workflow, workflow_type, workflow_version, status, error_type, "
        "error_category, user_id, session_id, start_ns, end_ns, duration, attributes) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        executions,
    )
    conn.executemany(
        "INSERT INTO steps (trace_id, span_id, parent_span_id, execution_id, workflow, step, "
        "step_index, attempt, status, error_type, error_category, user_id, session_id, "
        "start_ns, end_ns, duration, cpu_time, attributes) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        steps,
    )
    executions.clear()
    steps.clear()


def _timed(label: str, func: object, *args: object, **kwargs: object) -> object:
    began = time.perf_counter()
    result = func(*args, **kwargs)  # type: ignore[operator]
    print(f"  {label:<34} {time.perf_counter() - began:8.3f} s")
    return result


def main(argv: list[str] | None = None) -> int:
    """Generate the store, time the report and its queries, print the figures."""
    parser = argparse.ArgumentParser(description="Time a report over a store of 1M step rows.")
    parser.add_argument("--steps", type=int, default=1_000_000, help="step rows to generate")
    parser.add_argument("--keep", type=Path, help="write the store here and keep it")
    args = parser.parse_args(argv)
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        store = args.keep or Path(tmp) / "bench.db"
        if store.exists():
            store.unlink()
        seconds = generate(store, args.steps, now)
        executions = args.steps // STEPS_PER_EXECUTION
        print(f"generated {args.steps:,} step rows and {executions:,} executions "
              f"in {seconds:.1f} s ({store.stat().st_size / 2**20:.0f} MiB)")  # fmt: skip
        with AnalyticsEngine.from_store(store) as engine:
            rng = {"since": now - timedelta(hours=24), "until": now}
            print("engine queries the report makes:")
            _timed("workflow_stats", engine.workflow_stats, **rng)
            _timed("slowest_steps (step_stats)", engine.slowest_steps, 10, "p95", **rng)
            _timed("errors_by_type", engine.errors_by_type, **rng)
            _timed("trends throughput per workflow", engine.trends, "throughput", "15m",
                   per_workflow=True, **rng)  # fmt: skip
            _timed("trends error_rate", engine.trends, "error_rate", "15m", **rng)
            print("report, end to end (queries + charts + file):")
            totals = {}
            for fmt, name in (("html", "report.html"), ("markdown", "report.md")):
                began = time.perf_counter()
                data = collect(engine, since=rng["since"], until=now)
                path = write_report(data, Path(tmp) / name, fmt)
                totals[fmt] = time.perf_counter() - began
                print(f"  {fmt:<34} {totals[fmt]:8.3f} s  ({path.stat().st_size / 1024:.0f} KiB)")
        print(f"report over {args.steps:,} step rows: html {totals['html']:.2f} s, "
              f"markdown {totals['markdown']:.2f} s (target: under 10 s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
