"""The store's span processor: every ended workflow/step span, sampled or not, reaches the store.

The SDK's ``BatchSpanProcessor`` skips unsampled spans and holds 2,048 spans: a CPU-bound
burst (eight threads of short steps) overflows it while its export thread waits for the
GIL, and nine rows in ten were lost.  :class:`StoreSpanProcessor` instead:

- takes every ended span whose ``workflow.span.kind`` is set, whatever its sampling flag
  (unsampled traces are ``RECORD_ONLY`` spans; the store sees every execution);
- keeps, per span, only a small record (:class:`~otel_workflow.store.rows.SpanRecord`,
  about :data:`RECORD_BYTES` bytes for a typical step span, more with large captured
  attributes) in an unlocked queue, so ``on_end`` stays cheap on the caller's thread;
- holds up to ``max_queue_size`` records (default :data:`DEFAULT_MAX_QUEUE_SIZE`, so about
  40 MB at the very most, and only while a burst is being written: a whole burst of
  46,000 steps fits even if nothing is written meanwhile); a span beyond that is dropped
  and counted, both in the
  ``otel_workflow.spans.dropped`` self-metric (reason ``queue_full``) and in the store
  file itself (see :func:`otel_workflow.store.dropped_rows`);
- writes from one background thread in transactions of up to ``max_batch_size`` rows,
  at least every ``schedule_delay`` seconds, at once when ``max_batch_size`` records wait;
  a failed write is counted the same way (reason ``export_failed``).

``force_flush`` writes everything queued; ``shutdown`` does too, then closes the store.
"""

from __future__ import annotations

import collections
import os
import threading
import time
import weakref
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_workflow._guard import report_internal_error
from otel_workflow.exporters.drops import REASON_EXPORT_FAILED, REASON_QUEUE_FULL, count_dropped
from otel_workflow.store.rows import SpanRecord, record
from otel_workflow.store.writer import COMPONENT, SQLiteSpanExporter

DEFAULT_MAX_QUEUE_SIZE = 65_536
"""Records held at most while the writer catches up (a burst of 46,000 steps fits whole)."""

DEFAULT_MAX_BATCH_SIZE = 4096
"""Rows per write transaction: large batches are cheaper per row."""

DEFAULT_SCHEDULE_DELAY = 1.0
"""Seconds between writes when fewer than ``max_batch_size`` records wait."""

RECORD_BYTES = 600
"""Memory of one queued record of a typical step span, attributes included (measured with
tracemalloc: 570 bytes for a step with the decorator's ten attributes)."""


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"StoreSpanProcessor: {name} must be a positive int, got {value!r}")
    return value


class StoreSpanProcessor(SpanProcessor):
    """Queue every ended workflow/step span (sampled or not) and write it to the store."""

    def __init__(
        self,
        exporter: SQLiteSpanExporter,
        *,
        max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        schedule_delay: float = DEFAULT_SCHEDULE_DELAY,
    ) -> None:
        if not isinstance(exporter, SQLiteSpanExporter):
            raise TypeError(
                "StoreSpanProcessor: exporter must be a SQLiteSpanExporter, got "
                f"{type(exporter).__name__}"
            )
        if isinstance(schedule_delay, bool) or not isinstance(schedule_delay, (int, float)) or (
            schedule_delay <= 0
        ):
            raise ValueError(
                "StoreSpanProcessor: schedule_delay must be a positive number of seconds, "
                f"got {schedule_delay!r}"
            )
        self._exporter = exporter
        self._max_queue = _positive_int("max_queue_size", max_queue_size)
        self._max_batch = _positive_int("max_batch_size", max_batch_size)
        self._delay = float(schedule_delay)
        # deque.append/popleft are atomic: on_end takes no lock.
        self._queue: collections.deque[SpanRecord] = collections.deque()
        self._wake = threading.Event()
        self._drain_lock = threading.Lock()
        # Queue-full drops are counted here and handed to the writer by the writer thread,
        # so on_end never waits for the writer's lock (held during a whole transaction).
        self._drop_lock = threading.Lock()
        self._dropped = 0
        self._stopped = False
        self._start_worker()
        # A forked child starts its own writer thread on an empty queue (like the SDK's).
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reinit(ref))

    @property
    def exporter(self) -> SQLiteSpanExporter:
        """The writer this processor feeds."""
        return self._exporter

    def queued(self) -> int:
        """Records waiting to be written."""
        return len(self._queue)

    # --- SpanProcessor -----------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        # No sampling check: RECORD_ONLY spans are stored too.
        if self._stopped:
            return
        try:
            rec = record(span)
        except Exception as exc:
            report_internal_error(COMPONENT, exc)
            return
        if rec is None:
            return
        queue = self._queue
        if len(queue) >= self._max_queue:
            count_dropped(REASON_QUEUE_FULL, 1)
            with self._drop_lock:
                self._dropped += 1
            return
        queue.append(rec)
        if len(queue) >= self._max_batch and not self._wake.is_set():
            self._wake.set()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Write every queued record; False if that took longer than the timeout."""
        deadline = time.monotonic() + timeout_millis / 1000
        while self._queue:
            self._drain_once()
            if time.monotonic() > deadline:
                return not self._queue
        # A batch the worker took before this call may still be in flight.
        with self._drain_lock:
            pass
        return True

    def shutdown(self) -> None:
        """Write everything queued, stop the writer thread and close the store."""
        if self._stopped:
            return
        self._stopped = True
        self._wake.set()
        self._worker.join()
        while self._queue:
            self._drain_once()
        self._hand_over_drops()
        self._exporter.shutdown()

    # --- writer thread -----------------------------------------------------------------
    def _start_worker(self) -> None:
        self._worker = threading.Thread(
            target=self._run, name="otel-workflow-store-writer", daemon=True
        )
        self._worker.start()

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self._delay)
            self._wake.clear()
            while len(self._queue) >= self._max_batch and not self._stopped:
                self._drain_once()
            if self._queue and not self._stopped:
                self._drain_once()

    def _hand_over_drops(self) -> None:
        with self._drop_lock:
            dropped, self._dropped = self._dropped, 0
        self._exporter.note_dropped(REASON_QUEUE_FULL, dropped)

    def _drain_once(self) -> None:
        with self._drain_lock:
            self._hand_over_drops()
            queue = self._queue
            batch: list[SpanRecord] = []
            try:
                for _ in range(min(len(queue), self._max_batch)):
                    batch.append(queue.popleft())
            except IndexError:  # emptied meanwhile by another drainer
                pass
            if not batch:
                return
            try:
                result = self._exporter.write_records(batch)
            except Exception as exc:  # write_records never raises; belt and braces
                report_internal_error(COMPONENT, exc)
                result = SpanExportResult.FAILURE
            if result is not SpanExportResult.SUCCESS:
                count_dropped(REASON_EXPORT_FAILED, len(batch))
                self._exporter.note_dropped(REASON_EXPORT_FAILED, len(batch))

    def _at_fork_reinit(self) -> None:
        self._queue.clear()
        self._wake = threading.Event()
        self._drain_lock = threading.Lock()
        self._drop_lock = threading.Lock()
        self._dropped = 0
        if not self._stopped:
            self._start_worker()


def _reinit(ref: weakref.ref[StoreSpanProcessor]) -> None:
    processor = ref()
    if processor is not None:
        processor._at_fork_reinit()


__all__ = [
    "DEFAULT_MAX_BATCH_SIZE",
    "DEFAULT_MAX_QUEUE_SIZE",
    "DEFAULT_SCHEDULE_DELAY",
    "RECORD_BYTES",
    "StoreSpanProcessor",
]
