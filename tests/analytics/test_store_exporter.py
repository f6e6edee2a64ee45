"""SQLiteSpanExporter: what it stores, failures, retention and concurrent writers."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_workflow import semconv
from otel_workflow._guard import internal_error_counts, reset_internal_errors
from otel_workflow.exporters.store import COMPONENT, SQLiteSpanExporter

from .conftest import BASE_NS, SpanFactory


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_workflow_and_step_spans_are_stored(tmp_path: Path, factory: SpanFactory) -> None:
    """Execution and step rows carry names, status, errors, user, CPU time and ids."""
    factory.execution(
        "order",
        10,
        2.0,
        workflow_type="commerce",
        status=semconv.STATUS_ERROR,
        user_id="alice",
        steps=[
            {"name": "charge", "duration": 0.5, "cpu": 0.25, "status": semconv.STATUS_ERROR,
             "error_type": "TimeoutError", "category": "timeout"},
        ],
        extra={"tenant": "acme"},
    )  # fmt: skip
    path = factory.write(tmp_path / "s.db")
    root = next(s for s in factory.spans() if s.name == "order")
    (execution,) = _rows(
        path,
        "SELECT workflow, workflow_type, status, error_type, error_category, user_id, "
        "duration, start_ns, trace_id, span_id, attributes FROM executions",
    )
    assert execution[:7] == ("order", "commerce", "error", "ValueError", "validation", "alice", 2.0)
    assert execution[7] == BASE_NS + 10 * 10**9
    assert execution[8] == format(root.context.trace_id, "032x")
    assert execution[9] == format(root.context.span_id, "016x")
    assert json.loads(str(execution[10]))["tenant"] == "acme"
    (step,) = _rows(
        path,
        "SELECT workflow, step, status, error_type, error_category, cpu_time, duration, "
        "parent_span_id, user_id FROM steps",
    )
    assert step[:7] == ("order", "charge", "error", "TimeoutError", "timeout", 0.25, 0.5)
    assert step[7] == format(root.context.span_id, "016x")


def test_spans_without_workflow_kind_are_skipped(tmp_path: Path) -> None:
    """Spans from other instrumentation (no workflow.span.kind) are not stored."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("GET /", attributes={"http.method": "GET"}):
        pass
    exporter = SQLiteSpanExporter(tmp_path / "s.db")
    assert exporter.export(memory.get_finished_spans()) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert _rows(tmp_path / "s.db", "SELECT count(*) FROM executions") == [(0,)]
    assert _rows(tmp_path / "s.db", "SELECT count(*) FROM steps") == [(0,)]


def test_each_batch_records_a_process_sample(tmp_path: Path, factory: SpanFactory) -> None:
    """Every exported batch adds one process sample with this process's RSS and CPU."""
    import os

    factory.execution("order", 0, 1.0)
    exporter = SQLiteSpanExporter(tmp_path / "s.db")
    exporter.export(factory.spans())
    exporter.export(factory.spans())
    exporter.shutdown()
    samples = _rows(tmp_path / "s.db", "SELECT pid, rss_bytes, cpu_seconds FROM process_samples")
    assert len(samples) == 2
    assert all(s[0] == os.getpid() and int(str(s[1])) > 0 and float(str(s[2])) > 0 for s in samples)


@pytest.mark.expect_internal_errors(COMPONENT)
def test_failure_returns_failure_and_is_counted(tmp_path: Path, factory: SpanFactory) -> None:
    """A store error inside export returns FAILURE and is counted, never raised."""
    reset_internal_errors()
    factory.execution("order", 0, 1.0)
    path = tmp_path / "s.db"
    exporter = SQLiteSpanExporter(path)
    with sqlite3.connect(path) as other:
        other.execute("DROP TABLE executions")
    assert exporter.export(factory.spans()) is SpanExportResult.FAILURE
    assert internal_error_counts().get(COMPONENT) == 1
    exporter.shutdown()


def test_export_after_shutdown_fails_quietly(tmp_path: Path, factory: SpanFactory) -> None:
    """Exporting after shutdown returns FAILURE without raising."""
    factory.execution("order", 0, 1.0)
    exporter = SQLiteSpanExporter(tmp_path / "s.db")
    exporter.shutdown()
    assert exporter.export(factory.spans()) is SpanExportResult.FAILURE
    assert exporter.force_flush() is True


def test_retention_by_age_deletes_old_rows(tmp_path: Path, factory: SpanFactory) -> None:
    """Rows that started longer ago than the retention are deleted, recent ones kept."""
    now_s = (time.time_ns() - BASE_NS) / 1e9
    factory.execution("old", 0, 1.0, steps=[{"name": "a", "duration": 0.5}])
    factory.execution("new", now_s - 60, 1.0, steps=[{"name": "a", "duration": 0.5}])
    path = factory.write(tmp_path / "s.db", retention="1d")
    assert _rows(path, "SELECT workflow FROM executions") == [("new",)]
    assert _rows(path, "SELECT workflow FROM steps") == [("new",)]


def test_retention_by_row_count_keeps_newest(tmp_path: Path, factory: SpanFactory) -> None:
    """max_rows keeps only that many of the newest rows in each span table."""
    for i in range(10):
        factory.execution(f"wf{i}", i, 1.0)
    path = tmp_path / "s.db"
    exporter = SQLiteSpanExporter(path, max_rows=3, retention_interval=0)
    for span in factory.spans():
        exporter.export([span])
    exporter.shutdown()
    assert _rows(path, "SELECT workflow FROM executions ORDER BY id") == [
        ("wf7",),
        ("wf8",),
        ("wf9",),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retention": "forever"}, "invalid store retention 'forever'"),
        ({"retention": timedelta(0)}, "invalid store retention"),
        ({"max_rows": 0}, "max_rows must be a positive int"),
        ({"retention_interval": -1}, "retention_interval"),
    ],
)
def test_bad_arguments_are_clear_errors(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    """Bad retention settings raise ValueError naming the problem."""
    with pytest.raises(ValueError, match=message):
        SQLiteSpanExporter(tmp_path / "s.db", **kwargs)  # type: ignore[arg-type]


_WRITER = """
import sys
sys.path.insert(0, {root!r})
from tests.analytics.conftest import SpanFactory
from otel_workflow.exporters.store import SQLiteSpanExporter
worker, count = int(sys.argv[1]), int(sys.argv[2])
factory = SpanFactory()
for i in range(count):
    factory.execution(f"wf{{worker}}", i, 0.01, steps=[{{"name": "s", "duration": 0.005}}])
spans = factory.spans()
exporter = SQLiteSpanExporter(sys.argv[3])
print("ready", flush=True)
sys.stdin.readline()  # start together, so the writers really contend
for i in range(0, len(spans), 20):
    assert exporter.export(spans[i:i + 20]).name == "SUCCESS"
exporter.shutdown()
print("done", flush=True)
"""


def test_several_processes_write_one_store(tmp_path: Path) -> None:
    """Concurrent writer processes lose no rows and corrupt nothing."""
    root = str(Path(__file__).resolve().parents[2])
    script = tmp_path / "writer.py"
    script.write_text(_WRITER.format(root=root))
    path = tmp_path / "shared.db"
    workers, count = 4, 300
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(w), str(count), str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 0 and "done" in out
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert _rows(path, "SELECT workflow, count(*) FROM executions GROUP BY 1 ORDER BY 1") == [
        (f"wf{w}", count) for w in range(workers)
    ]
    assert _rows(path, "SELECT count(*) FROM steps") == [(workers * count,)]
    assert _rows(path, "PRAGMA integrity_check") == [("ok",)]
