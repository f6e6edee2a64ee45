"""StoreSpanProcessor: every ended span reaches the store, bursts land whole, drops are told."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

import otel_workflow as ow
from otel_workflow.exporters.drops import REASON_QUEUE_FULL, dropped_span_counts
from otel_workflow.store import (
    SQLiteSpanExporter,
    StoreReader,
    StoreSpanProcessor,
    dropped_rows,
)

from .conftest import SpanFactory


def _count(path: Path, table: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


class RecordOnly(Sampler):
    """ALWAYS_OFF's decision turned into RECORD_ONLY: recording spans with sampled=0."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        off = ALWAYS_OFF.should_sample(parent_context, trace_id, name, kind, attributes, links)
        assert off.decision is Decision.DROP
        return SamplingResult(Decision.RECORD_ONLY, attributes, off.trace_state)

    def get_description(self) -> str:
        return "RecordOnly(AlwaysOff)"


def test_record_only_spans_land_in_the_store(tmp_path: Path) -> None:
    """Unsampled (RECORD_ONLY) workflow spans are stored; the SDK's export path skips them."""
    path = tmp_path / "s.db"
    provider = TracerProvider(sampler=RecordOnly())
    exported = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    provider.add_span_processor(StoreSpanProcessor(SQLiteSpanExporter(path)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(
        "run", attributes={"workflow.span.kind": "workflow", "workflow.name": "order"}
    ) as span:
        assert span.is_recording() and not span.get_span_context().trace_flags.sampled
        with tracer.start_as_current_span(
            "charge", attributes={"workflow.span.kind": "step", "workflow.step.name": "charge"}
        ):
            pass
    provider.shutdown()
    assert exported.get_finished_spans() == ()
    assert (_count(path, "executions"), _count(path, "steps")) == (1, 1)


def test_other_spans_are_not_queued(tmp_path: Path) -> None:
    """Spans without workflow.span.kind never enter the store's queue."""
    provider = TracerProvider()
    processor = StoreSpanProcessor(SQLiteSpanExporter(tmp_path / "s.db"), schedule_delay=3600)
    provider.add_span_processor(processor)
    with provider.get_tracer("test").start_as_current_span("http.get"):
        pass
    assert processor.queued() == 0
    provider.shutdown()


def test_a_full_queue_drops_counts_and_reports(tmp_path: Path, factory: SpanFactory) -> None:
    """Spans beyond max_queue_size are dropped, counted in the self-metric and in the store."""
    path = tmp_path / "s.db"
    for i in range(40):
        factory.execution("order", i, 0.5, steps=[{"name": "a", "duration": 0.1}])
    spans = factory.spans()
    assert len(spans) == 80
    # The writer thread only wakes when max_batch_size records wait, or after an hour.
    processor = StoreSpanProcessor(
        SQLiteSpanExporter(path), max_queue_size=50, max_batch_size=1000, schedule_delay=3600
    )
    before = dropped_span_counts().get(REASON_QUEUE_FULL, 0)
    for span in spans:
        processor.on_end(span)
    assert processor.queued() == 50
    assert dropped_span_counts().get(REASON_QUEUE_FULL, 0) - before == 30
    assert processor.force_flush()
    processor.shutdown()
    assert _count(path, "executions") + _count(path, "steps") == 50
    assert dropped_rows(path) == {REASON_QUEUE_FULL: 30}


def test_bad_options_are_clear_errors(tmp_path: Path) -> None:
    """Invalid processor options raise errors naming the option; a wrong exporter too."""
    exporter = SQLiteSpanExporter(tmp_path / "s.db")
    for kwargs, name in (
        ({"max_queue_size": 0}, "max_queue_size"),
        ({"max_batch_size": True}, "max_batch_size"),
        ({"schedule_delay": -1}, "schedule_delay"),
    ):
        with pytest.raises(ValueError, match=name):
            StoreSpanProcessor(exporter, **kwargs)
    with pytest.raises(TypeError, match="SQLiteSpanExporter"):
        StoreSpanProcessor(InMemorySpanExporter())  # type: ignore[arg-type]
    exporter.shutdown()


THREADS = 8
STEPS_PER_THREAD = 5_000
ASYNC_STEPS = 2_000


@ow.step
def _cpu_step(n: int) -> int:
    return n * n % 7


@ow.workflow(name="burst")
def _burst(n: int) -> int:
    return sum(_cpu_step(i) for i in range(n))


@ow.step
async def _async_step(n: int) -> int:
    return n + 1


@ow.workflow(name="burst-async")
async def _burst_async(n: int) -> int:
    total = 0
    for i in range(n):
        total += await _async_step(i)
    return total


def test_a_cpu_bound_burst_lands_whole(tmp_path: Path) -> None:
    """8 threads x 5,000 steps plus 2,000 async steps, default settings: every row stored."""
    path = tmp_path / "burst.db"
    handle = ow.configure(tracer_provider=TracerProvider(), store=path)
    try:
        start = threading.Barrier(THREADS + 1)

        def run() -> None:
            start.wait()
            _burst(STEPS_PER_THREAD)

        threads = [threading.Thread(target=run) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        start.wait()
        asyncio.run(_burst_async(ASYNC_STEPS))
        for thread in threads:
            thread.join()
    finally:
        assert handle.shutdown(120_000)
    expected_steps = THREADS * STEPS_PER_THREAD + ASYNC_STEPS
    assert _count(path, "steps") == expected_steps
    assert _count(path, "executions") == THREADS + 1
    with StoreReader(path) as store:
        assert store.dropped_rows() == {}
