"""The embedded SQLite store: schema and migrations, the writer, and the reader API.

- Schema: :mod:`.columns` (every table and column, defined once) and :mod:`.schema`
  (versions, generated migrations, :class:`Component` for a feature's own tables).
- Opening: :func:`open_store` (writers: create, migrate), :func:`open_reader` (readers:
  read-only, never migrate), :func:`migrate`, :func:`transaction`.
- Writing: :class:`SQLiteSpanExporter` (spans to rows) fed by :class:`StoreSpanProcessor`
  (every ended workflow/step span, sampled or not; bounded queue; drops counted).
- Reading: :class:`StoreReader` and :func:`dropped_rows`.

Upgrade an old store in place with ``python -m otel_workflow.store migrate PATH``.
"""

from __future__ import annotations

from otel_workflow.store.connection import (
    BUSY_TIMEOUT_MS,
    migrate,
    open_reader,
    open_store,
    transaction,
)
from otel_workflow.store.processor import DEFAULT_MAX_QUEUE_SIZE, StoreSpanProcessor
from otel_workflow.store.reader import StoreReader, dropped_rows
from otel_workflow.store.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Component,
    CorruptStoreError,
    SchemaOutdatedError,
    SchemaVersionError,
    StoreError,
    read_component_version,
    read_version,
)
from otel_workflow.store.writer import COMPONENT, SQLiteSpanExporter

__all__ = [
    "BUSY_TIMEOUT_MS",
    "COMPONENT",
    "DEFAULT_MAX_QUEUE_SIZE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Component",
    "CorruptStoreError",
    "SQLiteSpanExporter",
    "SchemaOutdatedError",
    "SchemaVersionError",
    "StoreError",
    "StoreReader",
    "StoreSpanProcessor",
    "dropped_rows",
    "migrate",
    "open_reader",
    "open_store",
    "read_component_version",
    "read_version",
    "transaction",
]
