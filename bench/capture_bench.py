"""Cost of argument/result capture, against a plain SDK span and a step, in one run.

Prints ns per call and ratios; never asserted anywhere.  Variants run interleaved
(round-robin, best of several rounds) so drift on a shared machine hits them alike.

- ``sdk span``: ``tracer.start_span(...).end()`` with a batch processor (the baseline);
- ``@ow.step`` and ``@ow.step(capture=True)`` on ``f(1, "abc") -> 2``;
- the capture work alone: per call binding + ``capture_arguments`` + ``capture`` + JSON
  (the way before decoration-time capturers) vs ``argument_capturer`` + ``result_capturer``;
- ``scrub``: capture of adversarial and huge strings (ms per call; bounded by truncation).

    .venv/bin/python bench/capture_bench.py
"""

from __future__ import annotations

import gc
import inspect
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import otel_workflow as ow
from otel_workflow._runtime import RUNTIME
from otel_workflow.capture import (
    argument_capturer,
    capture,
    capture_arguments,
    result_capturer,
)

CALLS = 20_000
ROUNDS = 7


class NullExporter(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def work(x: int, name: str) -> int:
    return x + 1


def variants(provider: TracerProvider) -> dict[str, Callable[[], Any]]:
    tracer = provider.get_tracer("bench")
    step = ow.step(name="plain")(work)
    captured_step = ow.step(name="captured", capture=True)(work)
    signature = inspect.signature(work)
    args_of = argument_capturer(work)
    result_of = result_capturer()

    def sdk_span() -> None:
        tracer.start_span("work").end()

    def capture_per_call() -> None:
        bound = signature.bind_partial(1, "abc").arguments
        capture_arguments(bound).to_json()
        capture(2).to_json()

    def capture_precomputed() -> None:
        args_of((1, "abc"), {}).to_json()
        result_of(2).to_json()

    return {
        "sdk span": sdk_span,
        "@ow.step": lambda: step(1, "abc"),
        "@ow.step(capture=True)": lambda: captured_step(1, "abc"),
        "capture work, per call": capture_per_call,
        "capture work, precomputed": capture_precomputed,
    }


def measure(funcs: dict[str, Callable[[], Any]]) -> dict[str, float]:
    best = dict.fromkeys(funcs, float("inf"))
    for _ in range(ROUNDS):
        for name, func in funcs.items():
            gc.collect()
            started = time.perf_counter_ns()
            for _ in range(CALLS):
                func()
            best[name] = min(best[name], (time.perf_counter_ns() - started) / CALLS)
    return best


ADVERSARIAL = {
    "64 KiB letters then ://": "a" * 65_536 + "://",
    "1 MB of prose": "The quick brown fox: jumps over=the lazy dog & co. " * 20_000,
    "50 MB string": "x" * 50_000_000,
    "pwd=x& repeated": "pwd=x&" * 30_000,
}


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NullExporter(), max_queue_size=1 << 16))
    RUNTIME.use_tracer_provider(provider)
    results = measure(variants(provider))
    base = results["sdk span"]
    step = results["@ow.step"]
    print(f"{'variant':32} {'ns/call':>9} {'x sdk span':>10} {'x @ow.step':>10}")
    for name, ns in results.items():
        print(f"{name:32} {ns:9.0f} {ns / base:10.2f} {ns / step:10.2f}")
    projected = (step + results["capture work, precomputed"]) / step
    print(f"\n@ow.step + precomputed capture work, projected: {projected:.2f}x @ow.step")
    print(f"\n{'capture of':32} {'ms/call':>9}")
    for name, text in ADVERSARIAL.items():
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            capture({"value": text})
            best = min(best, time.perf_counter() - started)
        print(f"{name:32} {best * 1000:9.3f}")
    provider.shutdown()


if __name__ == "__main__":
    main()
