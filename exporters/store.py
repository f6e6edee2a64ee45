"""The embedded span store's writer, re-exported from :mod:`otel_workflow.store`.

The store (schema, writer, reader) is one package, :mod:`otel_workflow.store`; this module
keeps ``otel_workflow.exporters.store.SQLiteSpanExporter`` importable for existing callers.
"""

from __future__ import annotations

from otel_workflow.store import (
    COMPONENT,
    SCHEMA_VERSION,
    CorruptStoreError,
    SchemaOutdatedError,
    SchemaVersionError,
    SQLiteSpanExporter,
    StoreError,
    StoreSpanProcessor,
    open_store,
)

__all__ = [
    "COMPONENT",
    "SCHEMA_VERSION",
    "CorruptStoreError",
    "SQLiteSpanExporter",
    "SchemaOutdatedError",
    "SchemaVersionError",
    "StoreError",
    "StoreSpanProcessor",
    "open_store",
]
