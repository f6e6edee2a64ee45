"""Store benchmarks: ingest rate of the span exporter, and statistics over 1M step rows.

Prints figures; nothing here is asserted anywhere (targets from issue 3: ingest at least
50k spans/s; ``workflow_stats`` with p99 over 1M step rows in under 1 s).

    make bench                              # or: .venv/bin/python bench/store_bench.py
    .venv/bin/python bench/store_bench.py --step-rows 200000 --spans 50000   # quicker

1. **Ingest**: real OpenTelemetry SDK spans (one workflow span and four step spans per
   execution, with the attributes the decorators set) are built first, then exported in
   batches of 512 (the BatchSpanProcessor's default) into a fresh store; spans/s counts
   only the exporter's time (row conversion, the transaction, the process sample).
2. **Queries**: a store is filled directly with ``--step-rows`` step rows and one
   execution per four steps (the real schema and indexes, rows written with
   ``executemany``), then ``workflow_stats``, ``step_stats`` and a few other queries are
   timed, over all data and over the last quarter of the range (best of 3).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import set_span_in_context

from otel_workflow import semconv
from otel_workflow.analytics import AnalyticsEngine
from otel_workflow.store import SQLiteSpanExporter, open_store

BATCH = 512
WORKFLOWS = [("checkout", "order"), ("refund", "payment"), ("nightly_etl", "etl"),
             ("build_report", "report"), ("onboarding", "user")]  # fmt: skip
STEPS = ["validate", "reserve", "charge", "notify"]


def make_spans(executions: int) -> list[ReadableSpan]:
    """Finished SDK spans: per execution one workflow span and one span per step."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    rng = random.Random(1)
    for i in range(executions):
        name, wtype = WORKFLOWS[i % len(WORKFLOWS)]
        failed = rng.random() < 0.05
        status = semconv.STATUS_ERROR if failed else semconv.STATUS_OK
        root = tracer.start_span(name, attributes={
            semconv.WORKFLOW_SPAN_KIND: semconv.SPAN_KIND_WORKFLOW, semconv.WORKFLOW_NAME: name,
            semconv.WORKFLOW_TYPE: wtype, semconv.WORKFLOW_VERSION: "1",
            semconv.WORKFLOW_EXECUTION_ID: f"{i:032x}", semconv.WORKFLOW_STATUS: status,
            semconv.USER_ID: f"user-{i % 97}", semconv.CODE_FUNCTION_NAME: name,
            semconv.CODE_FILE_PATH: "app/flows.py", semconv.CODE_LINE_NUMBER: 10,
        })  # fmt: skip
        ctx = set_span_in_context(root)
        for index, step in enumerate(STEPS):
            step_failed = failed and step == "charge"
            span = tracer.start_span(step, context=ctx, attributes={
                semconv.WORKFLOW_SPAN_KIND: semconv.SPAN_KIND_STEP, semconv.WORKFLOW_NAME: name,
                semconv.WORKFLOW_EXECUTION_ID: f"{i:032x}", semconv.STEP_NAME: step,
                semconv.STEP_INDEX: index, semconv.STEP_ATTEMPT: 1,
                semconv.WORKFLOW_STATUS: semconv.STATUS_ERROR if step_failed else semconv.STATUS_OK,
                semconv.STEP_CPU_TIME: rng.random() / 1000, semconv.USER_ID: f"user-{i % 97}",
                semconv.CODE_FUNCTION_NAME: step, semconv.CODE_FILE_PATH: "app/steps.py",
                semconv.CODE_LINE_NUMBER: 20 + index,
            })  # fmt: skip
            if step_failed:
                span.set_attribute(semconv.ERROR_TYPE, "TimeoutError")
                span.set_attribute(semconv.ERROR_CATEGORY, "timeout")
            span.end()
        if failed:
            root.set_attribute(semconv.ERROR_TYPE, "TimeoutError")
            root.set_attribute(semconv.ERROR_CATEGORY, "timeout")
        root.end()
    return list(memory.get_finished_spans())


def bench_ingest(spans: list[ReadableSpan], directory: Path) -> float:
    """Spans per second through SQLiteSpanExporter.export in batches of 512."""
    exporter = SQLiteSpanExporter(directory / "ingest.db")
    try:
        start = time.perf_counter()
        for i in range(0, len(spans), BATCH):
            if exporter.export(spans[i : i + BATCH]).name != "SUCCESS":
                raise RuntimeError("export failed")
        elapsed = time.perf_counter() - start
    finally:
        exporter.shutdown()
    return len(spans) / elapsed


def _rows(step_rows: int, end_ns: int, span_ns: int) -> Iterator[tuple[list[Any], list[Any]]]:
    rng = random.Random(2)
    per = len(STEPS)
    chunk_exec: list[Any] = []
    chunk_steps: list[Any] = []
    for e in range(step_rows // per):
        name, wtype = WORKFLOWS[e % len(WORKFLOWS)]
        start = end_ns - span_ns + (e * per * span_ns) // step_rows
        failed = rng.random() < 0.05
        total = 0.0
        for index, step in enumerate(STEPS):
            duration = rng.lognormvariate(-4, 1)
            step_failed = failed and step == "charge"
            chunk_steps.append((
                f"{e:032x}", f"{e * per + index:016x}", f"{e:016x}", f"{e:032x}", name, step,
                index, 1, "error" if step_failed else "ok", "TimeoutError" if step_failed else None,
                "timeout" if step_failed else None, f"user-{e % 97}", None, start,
                start + int(duration * 1e9), duration, duration / 3, None,
            ))  # fmt: skip
            total += duration
        chunk_exec.append((
            f"{e:032x}", f"{e:016x}", None, f"{e:032x}", None, name, wtype, "1",
            "error" if failed else "ok", "TimeoutError" if failed else None,
            "timeout" if failed else None, f"user-{e % 97}", None, start,
            start + int(total * 1e9), total, None,
        ))  # fmt: skip
        if len(chunk_steps) >= 100_000:
            yield chunk_exec, chunk_steps
            chunk_exec, chunk_steps = [], []
    if chunk_steps:
        yield chunk_exec, chunk_steps


def populate(path: Path, step_rows: int, days: float = 1.0) -> float:
    """Fill a new store with ``step_rows`` steps over the last ``days``; seconds taken."""
    from otel_workflow.store.writer import INSERT_EXECUTION, INSERT_STEP

    no_failure = (None,) * 5  # the v2 failure columns: these rows all carry none
    conn = open_store(path)
    start = time.perf_counter()
    end_ns = time.time_ns()
    conn.execute("BEGIN")
    for executions, steps in _rows(step_rows, end_ns, int(days * 86400e9)):
        conn.executemany(INSERT_EXECUTION, [r + no_failure for r in executions])
        conn.executemany(INSERT_STEP, [r + no_failure for r in steps])
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - start


def best_of(fn: Callable[[], object], rounds: int = 3) -> float:
    """The fastest of ``rounds`` timed calls, in seconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    """Run both benchmarks and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100_000, help="spans for the ingest run")
    parser.add_argument("--step-rows", type=int, default=1_000_000, help="step rows to query")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        directory = Path(tmp)
        print(f"building {args.spans:,} SDK spans ...", flush=True)
        spans = make_spans(max(1, args.spans // (len(STEPS) + 1)))
        rates = []
        for run in range(3):
            (directory / str(run)).mkdir()
            rates.append(bench_ingest(spans, directory / str(run)))
        print(f"ingest: {max(rates):,.0f} spans/s (best of 3; runs: "
              f"{', '.join(f'{r:,.0f}' for r in rates)}; target >= 50,000)")  # fmt: skip
        del spans

        path = directory / "query.db"
        print(f"filling a store with {args.step_rows:,} step rows ...", flush=True)
        seconds = populate(path, args.step_rows)
        print(f"  filled in {seconds:.1f} s")
        recent = datetime.now(timezone.utc) - timedelta(hours=6)
        with AnalyticsEngine.from_store(path) as engine:
            timings = {
                "workflow_stats() all data": lambda: engine.workflow_stats(),
                "workflow_stats(since=last 6h)": lambda: engine.workflow_stats(since=recent),
                "workflow_stats(workflow='checkout')": lambda: engine.workflow_stats("checkout"),
                "step_stats() all data": lambda: engine.step_stats(),
                "step_stats(since=last 6h)": lambda: engine.step_stats(since=recent),
                "errors_by_type()": lambda: engine.errors_by_type(),
                "resource_usage()": lambda: engine.resource_usage(),
                "trends('p95', '1h', since=24h)": lambda: engine.trends("p95", "1h", since="24h"),
            }
            print(f"queries over {args.step_rows:,} step rows and "
                  f"{args.step_rows // len(STEPS):,} executions (best of 3):")  # fmt: skip
            for label, fn in timings.items():
                print(f"  {label:<40} {best_of(fn) * 1000:8.1f} ms")
            print("  (target: workflow_stats with p99 over 1M step rows < 1000 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
