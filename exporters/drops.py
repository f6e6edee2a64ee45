"""Count spans that never leave the process: a failed export or a full queue.

With the exporter's endpoint down the application keeps running, the batch queue stays
bounded (spans beyond it are dropped) and every drop is counted in the
``otel_workflow.spans.dropped`` self-metric, by reason.

The embedded store does not use these processors: its
:class:`otel_workflow.store.StoreSpanProcessor` takes unsampled (``RECORD_ONLY``) spans too,
holds a CPU-bound burst whole and counts its drops here and in the store file.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from otel_workflow._guard import report_internal_error

REASON_EXPORT_FAILED = "export_failed"
REASON_QUEUE_FULL = "queue_full"

_lock = threading.Lock()
_dropped: dict[str, int] = {}


def count_dropped(reason: str, spans: int) -> None:
    with _lock:
        _dropped[reason] = _dropped.get(reason, 0) + spans


def dropped_span_counts() -> dict[str, int]:
    """Spans dropped so far, by reason."""
    with _lock:
        return dict(_dropped)


class CountingSpanExporter(SpanExporter):
    """Wraps an exporter: failures (returned or raised) are counted, never raised."""

    def __init__(self, exporter: SpanExporter, component: str) -> None:
        self._exporter = exporter
        self._component = component

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._exporter.export(spans)
        except Exception as exc:
            report_internal_error(self._component, exc)
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            count_dropped(REASON_EXPORT_FAILED, len(spans))
        return result

    def shutdown(self) -> None:
        try:
            self._exporter.shutdown()
        except Exception as exc:
            report_internal_error(self._component, exc)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return bool(self._exporter.force_flush(timeout_millis))
        except Exception as exc:
            report_internal_error(self._component, exc)
            return False


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """A BatchSpanProcessor that counts the spans its full queue drops."""

    def on_end(self, span: ReadableSpan) -> None:
        if not (span.context and span.context.trace_flags.sampled):
            return  # never exported (RECORD_ONLY): not a drop
        batch = getattr(self, "_batch_processor", None)
        queue = getattr(batch, "_queue", None)
        limit = getattr(batch, "_max_queue_size", None)
        if queue is not None and limit is not None and len(queue) >= limit:
            # Counted, then skipped: the SDK's emit would log a warning for every dropped
            # span and evict the oldest queued one, so dropping cost more than exporting.
            count_dropped(REASON_QUEUE_FULL, 1)
            return
        super().on_end(span)
