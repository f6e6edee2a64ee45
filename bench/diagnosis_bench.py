"""What the diagnosis costs a *successful* step: recorder processor and hook vs neither.

Three variants of one plain ``@ow.step`` with an empty body, measured interleaved (round
robin, best of several rounds) in one run:

- ``baseline``: a provider with a batch processor to a null exporter;
- ``+processor``: the same plus :class:`DiagnosisSpanProcessor` on a real store file;
- ``+processor+hook``: also the on_error :class:`DiagnosisHook` registered (a registered
  hook moves every call off the step machine's fast path, whatever the hook does).

Prints ns per call and ratios against the baseline; never asserted anywhere.

    .venv/bin/python bench/diagnosis_bench.py
"""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import otel_workflow as ow
from otel_workflow._runtime import RUNTIME
from otel_workflow.diagnosis.live import DiagnosisHook
from otel_workflow.diagnosis.recording import DiagnosisSpanProcessor

CALLS = 20_000
ROUNDS = 7


class NullExporter(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def provider(*extra: Any) -> TracerProvider:
    p = TracerProvider()
    p.add_span_processor(BatchSpanProcessor(NullExporter(), max_queue_size=1 << 16))
    for processor in extra:
        p.add_span_processor(processor)
    return p


@ow.step
def work() -> None:
    pass


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter_ns()
    for _ in range(CALLS):
        fn()
    return (time.perf_counter_ns() - start) / CALLS


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        recorder = DiagnosisSpanProcessor(Path(tmp) / "bench.db")
        plain, recording = provider(), provider(recorder)
        hook = DiagnosisHook()
        setups: dict[str, tuple[TracerProvider, bool]] = {
            "baseline": (plain, False), "+processor": (recording, False),
            "+processor+hook": (recording, True),
        }  # fmt: skip
        best = dict.fromkeys(setups, float("inf"))
        RUNTIME.set_enabled(True)
        for _ in range(ROUNDS):
            for name, (prov, with_hook) in setups.items():
                RUNTIME.use_tracer_provider(prov)
                if with_hook:
                    ow.register_hook(hook)  # type: ignore[arg-type]
                try:
                    timed(work)  # warm
                    best[name] = min(best[name], timed(work))
                finally:
                    if with_hook:
                        ow.unregister_hook(hook)  # type: ignore[arg-type]
        RUNTIME.use_tracer_provider(None)
        recorder.shutdown()
        base = best["baseline"]
        print(f"successful @ow.step, {CALLS:,} calls x {ROUNDS} rounds (best round)")
        for name, ns in best.items():
            print(f"  {name:<18} {ns:8.0f} ns/call   {ns / base:5.2f}x baseline")
        print(f"  recorded failures: {recorder.recorded} (a successful step writes nothing)")


if __name__ == "__main__":
    main()
