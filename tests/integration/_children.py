"""Scenarios the integration tests run in a separate Python process.

``configure()`` may set the process-global tracer provider (set-once), so anything that
needs a fresh global state runs here: ``python -m tests.integration._children <scenario>
[json-args]``.  Each scenario prints one last line ``RESULT <json>`` that the test reads
(see ``run_child`` in ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow._polling import wait_until
from tests.integration._exposition import sample_sum

RESULT_PREFIX = "RESULT "


# --- the instrumented code every scenario runs ----------------------------------------------
@ow.step(name="validate")
def validate(order_id: int) -> int:
    if order_id == 3:
        raise ValueError(f"order {order_id} has no items")
    return order_id


@ow.step(name="charge")
def charge(order_id: int) -> int:
    return order_id * 10


@ow.workflow(name="checkout", type="order", version="2")
def checkout(order_id: int, user_id: str) -> int:
    with ow.attributes(user_id=user_id, tenant="acme"):
        validate(order_id)
        return charge(order_id)


@ow.step(name="fetch_stock")
async def fetch_stock(sku: int) -> int:
    await asyncio.sleep(0)
    return sku + 1


@ow.workflow(name="sync_inventory", type="inventory")
async def sync_inventory(batch: int) -> list[int]:
    return list(await asyncio.gather(*(fetch_stock(batch * 10 + i) for i in range(3))))


@ow.step(name="add")
def add(a: int, b: int) -> int:
    return a + b


@ow.workflow(name="increment", type="math")
def increment(i: int) -> int:
    return add(i, 1)


def _run_checkouts(order_ids: range) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for order_id in order_ids:
        try:
            results[str(order_id)] = checkout(order_id, f"user-{order_id}")
        except ValueError as exc:
            results[str(order_id)] = type(exc).__name__
    return results


def _scrape(port: int, accept: str | None = None) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if accept:
        request.add_header("Accept", accept)
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.read().decode("utf-8"))


# --- scenarios ------------------------------------------------------------------------------
def otlp_workload(args: dict[str, Any]) -> dict[str, Any]:
    """OTLP endpoint from the environment: run checkouts and an async workflow, shut down."""
    handle = ow.configure(service_name="otlp-it")
    results = _run_checkouts(range(1, 6))
    inventory = asyncio.run(sync_inventory(4))
    return {"results": results, "inventory": inventory, "shutdown": handle.shutdown(20000)}


def exporter_down(args: dict[str, Any]) -> dict[str, Any]:
    """OTLP endpoint closed: results stay right, memory bounded, drops counted, shutdown bounded."""
    from otel_workflow._process import resident_memory_bytes
    from otel_workflow.exporters.drops import CountingBatchSpanProcessor

    handle = ow.configure(service_name="exporter-down", metrics_port=0)
    warmup, calls = int(args["warmup"]), int(args["calls"])
    wrong = sum(increment(i) != i + 1 for i in range(warmup))
    rss_before = resident_memory_bytes()
    wrong += sum(increment(i) != i + 1 for i in range(calls))
    rss_after = resident_memory_bytes()

    queues = []
    for processor in handle.span_processors:
        if isinstance(processor, CountingBatchSpanProcessor):
            batch: Any = processor._batch_processor
            queues.append({"length": len(batch._queue), "limit": batch._max_queue_size})

    # Drops are counted as the exporter fails; wait for the count, bounded by a deadline.
    port = handle.metrics_port
    assert port is not None
    scraped = [""]

    def dropped_counted() -> bool:
        scraped[0] = _scrape(port)
        return sample_sum(scraped[0], semconv.PROM_SELF_SPANS_DROPPED) > 0

    try:
        wait_until(dropped_counted, 60, interval=0.2)
    except TimeoutError:
        pass  # the parent test asserts on the dropped count reported below
    text = scraped[0]
    dropped = sample_sum(text, semconv.PROM_SELF_SPANS_DROPPED)
    executions = sample_sum(
        text, semconv.PROM_WORKFLOW_EXECUTIONS, **{semconv.PROM_LABEL_WORKFLOW: "increment"}
    )
    started = time.monotonic()
    returned = handle.shutdown(int(args["shutdown_timeout_ms"]))
    shutdown_seconds = time.monotonic() - started
    return {
        "wrong_results": wrong, "rss_before": rss_before, "rss_after": rss_after,
        "queues": queues, "dropped": dropped, "executions": executions,
        "shutdown_result": returned, "shutdown_seconds": shutdown_seconds,
    }  # fmt: skip


def _memory_provider() -> tuple[Any, Any]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "users-own"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def attach_existing(args: dict[str, Any]) -> dict[str, Any]:
    """The user set a global SDK provider first: configure() uses it and is idempotent."""
    from opentelemetry import trace

    provider, exporter = _memory_provider()
    trace.set_tracer_provider(provider)
    handle = ow.configure(service_name="would-replace")
    again = ow.configure(service_name="second-call", metrics_port=0)
    result = increment(41)
    spans = exporter.get_finished_spans()
    out = {
        "result": result,
        "global_is_users": trace.get_tracer_provider() is provider,
        "handle_provider_is_users": handle.tracer_provider is provider,
        "owns_provider": handle.owns_provider,
        "second_is_same_handle": again is handle,
        "second_metrics_port": again.metrics_port,
        "span_names": sorted(s.name for s in spans),
        "span_kinds": sorted(
            str((s.attributes or {}).get(semconv.WORKFLOW_SPAN_KIND)) for s in spans
        ),
        "service_names": sorted({str(s.resource.attributes.get("service.name")) for s in spans}),
    }
    handle.shutdown(5000)
    return out


def disabled(args: dict[str, Any]) -> dict[str, Any]:
    """OTEL_WORKFLOW_ENABLED=false: calls pass through, no spans, no workflow metrics."""
    from otel_workflow._runtime import RUNTIME

    provider, exporter = _memory_provider()
    handle = ow.configure(metrics_port=0, tracer_provider=provider)
    results = [increment(i) for i in range(5)]
    inventory = asyncio.run(sync_inventory(1))
    port = handle.metrics_port
    assert port is not None
    text = _scrape(port)
    out = {
        "results": results, "inventory": inventory, "active": RUNTIME.active,
        "spans": len(exporter.get_finished_spans()),
        "executions": sample_sum(text, semconv.PROM_WORKFLOW_EXECUTIONS),
        "step_executions": sample_sum(text, semconv.PROM_STEP_EXECUTIONS),
    }  # fmt: skip
    handle.shutdown(5000)
    return out


def sampler_zero(args: dict[str, Any]) -> dict[str, Any]:
    """traceidratio 0: in-process processors and the store see every span; OTLP none."""
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

    class Recorder(SpanProcessor):
        # Not SimpleSpanProcessor: the SDK's export processors skip RECORD_ONLY spans, and
        # what is tested is that every span reaches a processor's on_end.
        def __init__(self) -> None:
            self.spans: list[ReadableSpan] = []

        def on_end(self, span: ReadableSpan) -> None:
            self.spans.append(span)

    recorder = Recorder()
    handle = ow.configure(service_name="sampled-out", store=str(args["store"]),
                          span_processors=[recorder])  # fmt: skip
    results = _run_checkouts(range(1, 6))
    spans = recorder.spans
    out = {
        "results": results,
        "in_memory_spans": len(spans),
        "in_memory_sampled": sum(1 for s in spans if s.context and s.context.trace_flags.sampled),
        "shutdown": handle.shutdown(20000),
    }
    return out


SCENARIOS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "otlp_workload": otlp_workload,
    "exporter_down": exporter_down,
    "attach_existing": attach_existing,
    "disabled": disabled,
    "sampler_zero": sampler_zero,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in SCENARIOS:
        print(f"usage: python -m tests.integration._children {{{','.join(SCENARIOS)}}} [json]",
              file=sys.stderr)  # fmt: skip
        return 2
    args = json.loads(argv[1]) if len(argv) > 1 else {}
    result = SCENARIOS[argv[0]](args)
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
