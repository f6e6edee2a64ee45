"""A real Prometheus scrapes a live workload's /metrics: quantiles and exemplars work."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow._polling import wait_until
from otel_workflow.config import WorkflowTelemetry
from tests.support.prometheus import PrometheusStarter

pytestmark = pytest.mark.integration

STEP_BUCKET = f"{semconv.PROM_STEP_DURATION}_bucket"


@ow.step(name="scrape_fetch")
def fetch(i: int) -> int:
    return i * 2


@ow.step(name="scrape_store")
def store(i: int) -> None:
    if i % 9 == 0:
        raise OSError("disk full")


@ow.workflow(name="scrape_job", type="scrape")
def job(i: int) -> int:
    value = fetch(i)
    store(i)
    return value


@pytest.fixture
def workload(
    fresh_metrics: None, memory_provider: tuple[TracerProvider, InMemorySpanExporter]
) -> Iterator[tuple[WorkflowTelemetry, InMemorySpanExporter]]:
    """configure() in this process with /metrics on a free port, executions running meanwhile."""
    provider, exporter = memory_provider
    handle = ow.configure(service_name="scrape-it", metrics_port=0, tracer_provider=provider)
    stop = threading.Event()
    wrong: list[int] = []

    def run() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                if job(i) != i * 2:
                    wrong.append(i)
            except OSError:
                pass  # the failures are part of the workload
            # Pacing, not synchronisation: a steady trickle of executions between scrapes.
            stop.wait(0.002)

    thread = threading.Thread(target=run, name="scrape-workload", daemon=True)
    thread.start()
    try:
        yield handle, exporter
    finally:
        stop.set()
        thread.join(timeout=30)
        handle.shutdown(5000)
    assert wrong == []


def test_histogram_quantile_over_step_buckets(
    prometheus: PrometheusStarter, workload: tuple[WorkflowTelemetry, InMemorySpanExporter]
) -> None:
    """histogram_quantile(0.99) over the scraped step-duration buckets returns a finite value."""
    handle, _ = workload
    prom = prometheus([f"127.0.0.1:{handle.metrics_port}"])
    query = f"histogram_quantile(0.99, sum by (le) (rate({STEP_BUCKET}[1m])))"
    result = prom.wait_for(
        query, lambda r: bool(r) and math.isfinite(float(r[0]["value"][1])), timeout=60
    )
    p99 = float(result[0]["value"][1])
    assert 0 < p99 <= semconv.DURATION_BUCKETS[-1]
    per_step = prom.wait_for(
        f"sum by ({semconv.PROM_LABEL_STEP}) ({semconv.PROM_STEP_EXECUTIONS}"
        f'{{{semconv.PROM_LABEL_WORKFLOW}="scrape_job"}})',
        lambda r: len(r) == 2,
        timeout=30,
    )
    assert {r["metric"][semconv.PROM_LABEL_STEP] for r in per_step} == {
        "scrape_fetch", "scrape_store"
    }  # fmt: skip


def test_exemplars_carry_exported_trace_ids(
    prometheus: PrometheusStarter, workload: tuple[WorkflowTelemetry, InMemorySpanExporter]
) -> None:
    """query_exemplars on the step buckets returns trace ids that exist among exported spans."""
    handle, exporter = workload
    start = time.time() - 60
    prom = prometheus([f"127.0.0.1:{handle.metrics_port}"])
    selector = f'{STEP_BUCKET}{{{semconv.PROM_LABEL_WORKFLOW}="scrape_job"}}'

    def found() -> list[dict[str, str]]:
        series = prom.query_exemplars(selector, start, time.time() + 60)
        return [e["labels"] for s in series for e in s.get("exemplars", [])]

    exemplars = wait_until(found, 60, interval=0.2, error=lambda: AssertionError(
        f"no exemplars within 60s for {selector}"))  # fmt: skip
    spans = {(f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}")
             for s in exporter.get_finished_spans() if s.context is not None}  # fmt: skip
    for labels in exemplars:
        assert (labels["trace_id"], labels["span_id"]) in spans
