"""The store's writer: a SpanExporter putting workflow and step spans into SQLite.

>>> from otel_workflow.store import SQLiteSpanExporter, StoreSpanProcessor
>>> exporter = SQLiteSpanExporter("otel-workflow.db", retention="7d")  # doctest: +SKIP
>>> provider.add_span_processor(StoreSpanProcessor(exporter))         # doctest: +SKIP

Each batch is one transaction (``executemany``) and also records one ``process_samples``
row (resident memory and CPU seconds of this process) and any rows dropped since the last
batch (the ``drops`` table, see :func:`otel_workflow.store.dropped_rows`).  The file is in
WAL mode with a busy timeout, so several processes can write one store at once.
Retention (by age and by row count) runs on the first batch and then at most every
``retention_interval`` seconds.

Failures never reach the SDK: they are reported through
:func:`otel_workflow._guard.report_internal_error` (component ``exporter.store``) and the
batch's export returns ``FAILURE``.  A store that cannot be used at all (corrupt, or of a
newer schema version) is refused when the exporter is created, with a clear
:class:`StoreError`, and left untouched.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_workflow._durations import parse_duration
from otel_workflow._guard import report_internal_error
from otel_workflow._process import cpu_seconds, resident_memory_bytes
from otel_workflow.store.columns import (
    DROPS,
    EXECUTIONS,
    PROCESS_SAMPLES,
    SPAN_TABLES,
    STEPS,
    insert_sql,
)
from otel_workflow.store.connection import StorePath, open_store, transaction
from otel_workflow.store.rows import Row, SpanRecord, record, rows
from otel_workflow.store.schema import StoreError

COMPONENT = "exporter.store"
"""The ``otel_workflow.component`` label of the writer's internal errors."""

INSERT_EXECUTION = insert_sql(EXECUTIONS)
INSERT_STEP = insert_sql(STEPS)
_INSERT_SAMPLE = insert_sql(PROCESS_SAMPLES)
_INSERT_DROPS = insert_sql(DROPS)


def _retention_delta(retention: timedelta | str | None) -> timedelta | None:
    if retention is None:
        return None
    try:
        return parse_duration(retention)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid store retention {retention!r}: {exc}") from None


class SQLiteSpanExporter(SpanExporter):
    """Write workflow and step spans into the SQLite store at ``path``.

    ``retention`` (a timedelta or ``"7d"``-style text) deletes spans and process samples
    that started longer ago; ``max_rows`` keeps at most that many newest rows in each of
    the ``executions`` and ``steps`` tables.  ``retention_interval`` is the least time in
    seconds between two retention passes.  Raises :class:`StoreError` (a corrupt file, a
    newer schema version, an unusable path) and ValueError (bad arguments) at creation.
    """

    def __init__(
        self,
        path: StorePath,
        *,
        retention: timedelta | str | None = None,
        max_rows: int | None = None,
        retention_interval: float = 60.0,
    ) -> None:
        if max_rows is not None and (
            isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1
        ):
            raise ValueError(f"max_rows must be a positive int or None, got {max_rows!r}")
        if not isinstance(retention_interval, (int, float)) or retention_interval < 0:
            raise ValueError(
                f"retention_interval must be a non-negative number, got {retention_interval!r}"
            )
        self._path = Path(path)
        self._retention = _retention_delta(retention)
        self._max_rows = max_rows
        self._retention_interval = float(retention_interval)
        self._last_retention = float("-inf")
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._pending_drops: dict[str, int] = {}
        self._conn: sqlite3.Connection | None = open_store(self._path)

    @property
    def path(self) -> Path:
        """The store file."""
        return self._path

    # --- SpanExporter ------------------------------------------------------------------
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Store the batch's workflow and step spans in one transaction; never raises."""
        try:
            records = [r for r in map(record, spans) if r is not None]
        except Exception as exc:
            report_internal_error(COMPONENT, exc)
            return SpanExportResult.FAILURE
        return self.write_records(records)

    def write_records(self, records: Iterable[SpanRecord]) -> SpanExportResult:
        """Store already-taken span records (the store processor's path); never raises."""
        try:
            executions, steps = rows(records)
            with self._lock:
                conn = self._connection()
                if conn is None:
                    return SpanExportResult.FAILURE
                self._write(conn, executions, steps)
                now = time.monotonic()
                if now - self._last_retention >= self._retention_interval:
                    self._last_retention = now
                    self._apply_retention(conn)
            return SpanExportResult.SUCCESS
        except Exception as exc:
            report_internal_error(COMPONENT, exc)
            return SpanExportResult.FAILURE

    def note_dropped(self, reason: str, count: int) -> None:
        """Count ``count`` rows that never reached the store; written with the next batch."""
        if count > 0:
            with self._lock:
                self._pending_drops[reason] = self._pending_drops.get(reason, 0) + count

    def shutdown(self) -> None:
        """Write pending drop counts and close the store; later exports return FAILURE."""
        with self._lock:
            conn = self._connection()
            if conn is not None and self._pending_drops:
                try:
                    with transaction(conn):
                        self._write_drops(conn)
                    self._pending_drops.clear()
                except sqlite3.Error as exc:
                    report_internal_error(COMPONENT, exc)
            self._conn = None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error as exc:
                report_internal_error(COMPONENT, exc)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here: every export is committed before it returns."""
        return True

    def _connection(self) -> sqlite3.Connection | None:
        """The open connection; a forked child reopens the file (SQLite forbids sharing)."""
        if self._conn is not None and os.getpid() != self._pid:
            self._pid = os.getpid()
            self._pending_drops.clear()
            self._conn = open_store(self._path)
        return self._conn

    # --- retention ---------------------------------------------------------------------
    def apply_retention(self) -> None:
        """Run a retention pass now (the exporter also runs them on its own)."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                raise StoreError(f"the store exporter for {self._path} is shut down")
            self._last_retention = time.monotonic()
            self._apply_retention(conn)

    def _apply_retention(self, conn: sqlite3.Connection) -> None:
        if self._retention is None and self._max_rows is None:
            return
        with transaction(conn):
            if self._retention is not None:
                cutoff = time.time_ns() - int(self._retention.total_seconds() * 1e9)
                for spec in SPAN_TABLES:
                    conn.execute(f"DELETE FROM {spec.name} WHERE start_ns < ?", (cutoff,))
                conn.execute("DELETE FROM process_samples WHERE ts_ns < ?", (cutoff,))
            if self._max_rows is not None:
                for spec in SPAN_TABLES:
                    # Row ids grow with insertion, so this keeps the newest rows.
                    conn.execute(
                        f"DELETE FROM {spec.name} WHERE id <= "
                        f"(SELECT id FROM {spec.name} ORDER BY id DESC LIMIT 1 OFFSET ?)",
                        (self._max_rows,),
                    )

    # --- writing -----------------------------------------------------------------------
    def _write_drops(self, conn: sqlite3.Connection) -> None:
        now = time.time_ns()
        conn.executemany(
            _INSERT_DROPS,
            [(now, self._pid, reason, n) for reason, n in sorted(self._pending_drops.items())],
        )

    def _write(self, conn: sqlite3.Connection, executions: list[Row], steps: list[Row]) -> None:
        sample = (time.time_ns(), self._pid, resident_memory_bytes(), cpu_seconds())
        with transaction(conn):
            if executions:
                conn.executemany(INSERT_EXECUTION, executions)
            if steps:
                conn.executemany(INSERT_STEP, steps)
            conn.execute(_INSERT_SAMPLE, sample)
            if self._pending_drops:
                self._write_drops(conn)
        # Only once committed: a failed batch keeps the counts for the next one.
        self._pending_drops.clear()


__all__ = ["COMPONENT", "INSERT_EXECUTION", "INSERT_STEP", "SQLiteSpanExporter"]
