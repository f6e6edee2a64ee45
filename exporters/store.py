"""The embedded span store: a SpanExporter writing workflow and step spans into SQLite.

>>> from opentelemetry.sdk.trace.export import BatchSpanProcessor
>>> from otel_workflow.exporters.store import SQLiteSpanExporter
>>> exporter = SQLiteSpanExporter("otel-workflow.db", retention="7d")  # doctest: +SKIP
>>> provider.add_span_processor(BatchSpanProcessor(exporter))        # doctest: +SKIP

Only spans carrying ``workflow.span.kind`` (``workflow`` or ``step``) are stored; other
spans in the batch are skipped.  Each batch is one transaction (``executemany``), and each
batch also records one ``process_samples`` row (resident memory and CPU seconds of this
process) for the memory/CPU views.  The file is in WAL mode with a busy timeout, so
several processes can write one store at once.  Retention (by age and by row count) runs
on the first batch and then at most every ``retention_interval`` seconds.

Failures never reach the SDK: they are reported through
:func:`otel_workflow._guard.report_internal_error` (component ``exporter.store``) and the
batch's export returns ``FAILURE``.  A store that cannot be used at all (corrupt, or of a
newer schema version) is refused when the exporter is created, with a clear
:class:`StoreError`, and left untouched.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from otel_workflow import semconv
from otel_workflow._guard import report_internal_error
from otel_workflow._process import cpu_seconds, resident_memory_bytes
from otel_workflow.exporters._store_schema import (
    SCHEMA_VERSION,
    CorruptStoreError,
    SchemaVersionError,
    StoreError,
    open_store,
)

COMPONENT = "exporter.store"
"""The ``otel_workflow.component`` label of this exporter's internal errors."""

_EXECUTION_KEYS = frozenset(
    {
        semconv.WORKFLOW_SPAN_KIND,
        semconv.WORKFLOW_NAME,
        semconv.WORKFLOW_TYPE,
        semconv.WORKFLOW_VERSION,
        semconv.WORKFLOW_EXECUTION_ID,
        semconv.WORKFLOW_PARENT_EXECUTION_ID,
        semconv.WORKFLOW_STATUS,
        semconv.ERROR_TYPE,
        semconv.ERROR_CATEGORY,
        semconv.USER_ID,
        semconv.SESSION_ID,
    }
)
_STEP_KEYS = _EXECUTION_KEYS | {
    semconv.STEP_NAME,
    semconv.STEP_INDEX,
    semconv.STEP_ATTEMPT,
    semconv.STEP_CPU_TIME,
}

_INSERT_EXECUTION = (
    "INSERT INTO executions (trace_id, span_id, parent_span_id, execution_id, "
    "parent_execution_id, workflow, workflow_type, workflow_version, status, error_type, "
    "error_category, user_id, session_id, start_ns, end_ns, duration, attributes) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_STEP = (
    "INSERT INTO steps (trace_id, span_id, parent_span_id, execution_id, workflow, step, "
    "step_index, attempt, status, error_type, error_category, user_id, session_id, "
    "start_ns, end_ns, duration, cpu_time, attributes) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_SAMPLE = (
    "INSERT INTO process_samples (ts_ns, pid, rss_bytes, cpu_seconds) VALUES (?, ?, ?, ?)"
)
_SPAN_TABLES = ("executions", "steps")


def _retention_delta(retention: timedelta | str | None) -> timedelta | None:
    if retention is None:
        return None
    from otel_workflow.analytics.timerange import parse_duration

    try:
        return parse_duration(retention)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid store retention {retention!r}: {exc}") from None


# Extra attributes repeat from span to span (code.* of the same function, a few custom
# keys), so their JSON text is cached by content; bounded so odd values cannot grow it.
_EXTRAS_CACHE: dict[tuple[tuple[str, Any], ...], str] = {}
_EXTRAS_CACHE_LIMIT = 4096


def _extras(attributes: dict[str, Any], known: frozenset[str]) -> str | None:
    extra = [(k, v) for k, v in attributes.items() if k not in known]
    if not extra:
        return None
    key = tuple(extra)
    try:
        return _EXTRAS_CACHE[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable value: no caching
        key = ()
    text = json.dumps(
        {k: (list(v) if isinstance(v, tuple) else v) for k, v in extra}, sort_keys=True
    )
    if key and len(_EXTRAS_CACHE) < _EXTRAS_CACHE_LIMIT:
        _EXTRAS_CACHE[key] = text
    return text


def _attribute_dict(span: ReadableSpan) -> dict[str, Any]:
    """The span's attributes as a plain dict, read without copying when possible."""
    # The public view (a mappingproxy over BoundedAttributes) costs a Python-level call
    # per key, a third of the exporter's time; a finished span's attributes are frozen,
    # so its backing dict is read directly when the SDK has one, else the view is copied.
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(inner) is dict:
        return inner
    raw = span.attributes
    return dict(raw) if raw else {}


def _status(attributes: dict[str, Any], span: ReadableSpan) -> str:
    status = attributes.get(semconv.WORKFLOW_STATUS)
    if status is not None:
        return str(status)
    # A span from another producer without workflow.status: fall back to the span status.
    return (
        semconv.STATUS_ERROR if span.status.status_code is StatusCode.ERROR else semconv.STATUS_OK
    )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _opt_float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


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
        path: str | os.PathLike[str],
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
        self._conn: sqlite3.Connection | None = open_store(self._path)

    @property
    def path(self) -> Path:
        """The store file."""
        return self._path

    # --- SpanExporter ------------------------------------------------------------------
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Store the batch's workflow and step spans in one transaction; never raises."""
        try:
            executions, steps = self._rows(spans)
            with self._lock:
                conn = self._conn
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

    def shutdown(self) -> None:
        """Close the store; later exports return FAILURE."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error as exc:
                report_internal_error(COMPONENT, exc)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here: every export is committed before it returns."""
        return True

    # --- retention ---------------------------------------------------------------------
    def apply_retention(self) -> None:
        """Run a retention pass now (the exporter also runs them on its own)."""
        with self._lock:
            if self._conn is None:
                raise StoreError(f"the store exporter for {self._path} is shut down")
            self._last_retention = time.monotonic()
            self._apply_retention(self._conn)

    def _apply_retention(self, conn: sqlite3.Connection) -> None:
        if self._retention is None and self._max_rows is None:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            if self._retention is not None:
                cutoff = time.time_ns() - int(self._retention.total_seconds() * 1e9)
                for table in _SPAN_TABLES:
                    conn.execute(f"DELETE FROM {table} WHERE start_ns < ?", (cutoff,))
                conn.execute("DELETE FROM process_samples WHERE ts_ns < ?", (cutoff,))
            if self._max_rows is not None:
                for table in _SPAN_TABLES:
                    # Row ids grow with insertion, so this keeps the newest rows.
                    conn.execute(
                        f"DELETE FROM {table} WHERE id <= "
                        f"(SELECT id FROM {table} ORDER BY id DESC LIMIT 1 OFFSET ?)",
                        (self._max_rows,),
                    )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # --- writing -----------------------------------------------------------------------
    def _rows(
        self, spans: Sequence[ReadableSpan]
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        executions: list[tuple[Any, ...]] = []
        steps: list[tuple[Any, ...]] = []
        kind_key = semconv.WORKFLOW_SPAN_KIND
        for span in spans:
            attrs = _attribute_dict(span)
            kind = attrs.get(kind_key)
            if kind is None:
                continue
            ctx = span.context
            start = span.start_time or 0
            end = span.end_time or start
            parent = span.parent
            common = (
                format(ctx.trace_id, "032x"),
                format(ctx.span_id, "016x"),
                format(parent.span_id, "016x") if parent is not None else None,
                _opt_str(attrs.get(semconv.WORKFLOW_EXECUTION_ID)),
            )
            # Status to duration: the same columns in the same order in both tables.
            outcome = (
                _status(attrs, span),
                _opt_str(attrs.get(semconv.ERROR_TYPE)),
                _opt_str(attrs.get(semconv.ERROR_CATEGORY)),
                _opt_str(attrs.get(semconv.USER_ID)),
                _opt_str(attrs.get(semconv.SESSION_ID)),
                start,
                end,
                (end - start) / 1e9,
            )
            if kind == semconv.SPAN_KIND_WORKFLOW:
                executions.append(
                    (
                        *common,
                        _opt_str(attrs.get(semconv.WORKFLOW_PARENT_EXECUTION_ID)),
                        str(attrs.get(semconv.WORKFLOW_NAME) or span.name),
                        str(attrs.get(semconv.WORKFLOW_TYPE) or ""),
                        _opt_str(attrs.get(semconv.WORKFLOW_VERSION)),
                        *outcome,
                        _extras(attrs, _EXECUTION_KEYS),
                    )
                )
            elif kind == semconv.SPAN_KIND_STEP:
                steps.append(
                    (
                        *common,
                        str(attrs.get(semconv.WORKFLOW_NAME) or ""),
                        str(attrs.get(semconv.STEP_NAME) or span.name),
                        _opt_int(attrs.get(semconv.STEP_INDEX)),
                        _opt_int(attrs.get(semconv.STEP_ATTEMPT)),
                        *outcome,
                        _opt_float(attrs.get(semconv.STEP_CPU_TIME)),
                        _extras(attrs, _STEP_KEYS),
                    )
                )
        return executions, steps

    def _write(
        self,
        conn: sqlite3.Connection,
        executions: list[tuple[Any, ...]],
        steps: list[tuple[Any, ...]],
    ) -> None:
        sample = (time.time_ns(), self._pid, resident_memory_bytes(), cpu_seconds())
        # IMMEDIATE takes the write lock up front, so concurrent writers queue on the
        # busy timeout instead of failing on a read-to-write upgrade.
        conn.execute("BEGIN IMMEDIATE")
        try:
            if executions:
                conn.executemany(_INSERT_EXECUTION, executions)
            if steps:
                conn.executemany(_INSERT_STEP, steps)
            conn.execute(_INSERT_SAMPLE, sample)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


__all__ = [
    "COMPONENT",
    "SCHEMA_VERSION",
    "CorruptStoreError",
    "SQLiteSpanExporter",
    "SchemaVersionError",
    "StoreError",
    "open_store",
]
