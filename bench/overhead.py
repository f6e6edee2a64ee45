"""Per-call overhead of @ow.step against a hand-written OpenTelemetry span, in one run.

Prints ns per call and ratios; never asserted anywhere.  Every variant runs the same
empty body; the variants are measured interleaved (round-robin, best of several rounds)
so drift on a shared machine hits them alike.

    make bench            # or: .venv/bin/python bench/overhead.py
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

import wrapt
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow._runtime import RUNTIME

CALLS = 20_000
ROUNDS = 7


class NullExporter(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def make_provider() -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NullExporter(), max_queue_size=1 << 16))
    return provider


# The attributes our step span carries, for the hand-written reference.
ATTRS = {
    semconv.WORKFLOW_NAME: "", semconv.WORKFLOW_SPAN_KIND: "step", semconv.STEP_NAME: "work",
    semconv.CODE_FUNCTION_NAME: "bench.work", semconv.CODE_FILE_PATH: __file__,
    semconv.CODE_LINE_NUMBER: 1, semconv.STEP_INDEX: 0, semconv.STEP_ATTEMPT: 1,
}  # fmt: skip


def variants(provider: TracerProvider) -> dict[str, tuple[Callable[[], Any], bool]]:
    """name -> (callable, is_async)."""
    tracer = provider.get_tracer("bench")
    meter = MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("bench")
    histogram = meter.create_histogram("work.duration", unit="s")
    hist_attrs = {"workflow": "", "step": "work", "status": "ok"}

    def bare() -> None:
        pass

    @wrapt.decorator
    def passthrough(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        return wrapped(*args, **kwargs)

    @passthrough
    def wrapt_only() -> None:
        pass

    def raw_span() -> None:
        with tracer.start_as_current_span("work", attributes=ATTRS):
            pass

    def raw_span_histogram() -> None:
        start = time.perf_counter()
        with tracer.start_as_current_span("work", attributes=ATTRS):
            pass
        histogram.record(time.perf_counter() - start, hist_attrs)

    @passthrough
    async def wrapt_only_async() -> None:
        pass

    @ow.step(name="work")
    def ow_step() -> None:
        pass

    async def raw_span_async() -> None:
        with tracer.start_as_current_span("work", attributes=ATTRS):
            pass

    @ow.step(name="work_async")
    async def ow_step_async() -> None:
        pass

    async def bare_async() -> None:
        pass

    @ow.workflow(name="flow")
    def ow_workflow() -> None:
        pass

    @ow.step(name="work_args")
    def ow_step_args(order_id: int, sku: str) -> int:
        return order_id

    @ow.step(name="work_capture", capture=True)
    def ow_step_capture(order_id: int, sku: str) -> int:
        return order_id

    def step_args() -> None:
        ow_step_args(1, "abc")

    def step_capture() -> None:
        ow_step_capture(1, "abc")

    return {
        "bare function": (bare, False),
        "wrapt pass-through": (wrapt_only, False),
        "raw OTel span": (raw_span, False),
        "raw OTel span + OTel histogram": (raw_span_histogram, False),
        "@ow.step (spans + metrics)": (ow_step, False),
        "async bare": (bare_async, True),
        "async wrapt pass-through": (wrapt_only_async, True),
        "async raw OTel span": (raw_span_async, True),
        "async @ow.step (spans + metrics)": (ow_step_async, True),
        "@ow.workflow (spans + metrics)": (ow_workflow, False),
        "@ow.step(1, 'abc')": (step_args, False),
        "@ow.step(1, 'abc'), capture=True": (step_capture, False),
    }


def _time_sync(func: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        func()
    return (time.perf_counter() - start) / calls * 1e9


def _time_async(func: Callable[[], Any], calls: int) -> float:
    async def loop() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await func()
        return (time.perf_counter() - start) / calls * 1e9

    return asyncio.run(loop())


def measure(funcs: dict[str, tuple[Callable[[], Any], bool]], mode: Callable[[], None],
            calls: int = CALLS, rounds: int = ROUNDS) -> dict[str, float]:  # fmt: skip
    best = {name: float("inf") for name in funcs}
    for _ in range(rounds):
        for name, (func, is_async) in funcs.items():
            mode()
            gc.disable()
            try:
                ns = _time_async(func, calls) if is_async else _time_sync(func, calls)
            finally:
                gc.enable()
            best[name] = min(best[name], ns)
    return best


def main() -> dict[str, float]:
    provider = make_provider()
    funcs = variants(provider)

    def configured() -> None:
        RUNTIME.set_enabled(True)
        RUNTIME.use_tracer_provider(provider)

    def no_sdk() -> None:
        RUNTIME.set_enabled(True)
        RUNTIME.use_tracer_provider(None)  # the global provider is the API's no-op proxy

    def disabled() -> None:
        RUNTIME.set_enabled(False)

    assert not isinstance(trace.get_tracer_provider(), TracerProvider), "run in a fresh process"
    results = measure(funcs, configured)
    step_sync = funcs["@ow.step (spans + metrics)"]
    step_async = funcs["async @ow.step (spans + metrics)"]
    off = {"@ow.step, no SDK configured": step_sync,
           "async @ow.step, no SDK configured": step_async}  # fmt: skip
    results.update(measure(off, no_sdk))
    results.update(measure({"@ow.step, disabled": step_sync,
                            "async @ow.step, disabled": step_async}, disabled))  # fmt: skip
    RUNTIME.set_enabled(True)
    provider.shutdown()

    raw, raw_async = results["raw OTel span"], results["async raw OTel span"]
    wrapt_ns = results["wrapt pass-through"]
    wrapt_async = results["async wrapt pass-through"]
    print(f"\nPer-call cost, best of {ROUNDS} rounds x {CALLS} calls (ns/call):")
    print(f"  {'variant':40s} {'ns':>9s} {'/raw span':>10s} {'/wrapt':>8s}")
    for name, ns in results.items():
        is_async = name.startswith("async")
        base, floor = (raw_async, wrapt_async) if is_async else (raw, wrapt_ns)
        print(f"  {name:40s} {ns:9.0f} {ns / base:10.2f} {ns / floor:8.2f}")
    print("\nTargets (sync | async):")
    checks = [
        ("@ow.step with spans+metrics <= 1.15x raw span",
         results["@ow.step (spans + metrics)"] / raw,
         results["async @ow.step (spans + metrics)"] / raw_async, 1.15),
        ("no SDK configured <= 2x wrapt pass-through",
         results["@ow.step, no SDK configured"] / wrapt_ns,
         results["async @ow.step, no SDK configured"] / results["async wrapt pass-through"], 2.0),
        ("disabled <= 1.2x wrapt pass-through",
         results["@ow.step, disabled"] / wrapt_ns,
         results["async @ow.step, disabled"] / results["async wrapt pass-through"], 1.2),
    ]  # fmt: skip
    step_ns = results["@ow.step (spans + metrics)"]
    workflow_ratio = results["@ow.workflow (spans + metrics)"] / step_ns
    capture_ratio = results["@ow.step(1, 'abc'), capture=True"] / results["@ow.step(1, 'abc')"]
    for label, ratio, target in [("@ow.workflow <= 1.15x @ow.step", workflow_ratio, 1.15),
                                 ("capture=True <= 1.3x the same step without", capture_ratio,
                                  1.3)]:  # fmt: skip
        verdict = "met" if ratio <= target else "MISSED"
        print(f"  {label:50s} {ratio:5.2f}          {verdict}")
    for label, sync_ratio, async_ratio, target in checks:
        verdict = "met" if max(sync_ratio, async_ratio) <= target else "MISSED"
        print(f"  {label:50s} {sync_ratio:5.2f} | {async_ratio:5.2f}  {verdict}")
    return results


if __name__ == "__main__":
    main()
