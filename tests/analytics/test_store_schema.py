"""The store file: versioned schema, migrations, refusal of newer and corrupt files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from otel_workflow.analytics import AnalyticsEngine
from otel_workflow.exporters._store_schema import MIGRATIONS, open_store, read_version
from otel_workflow.exporters.store import (
    SCHEMA_VERSION,
    CorruptStoreError,
    SchemaVersionError,
    SQLiteSpanExporter,
    StoreError,
)

from .conftest import SpanFactory


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def test_new_store_has_current_schema_in_wal_mode(tmp_path: Path) -> None:
    """A new store gets every table, the current schema version and WAL journaling."""
    path = tmp_path / "s.db"
    SQLiteSpanExporter(path).shutdown()
    assert {"schema_version", "executions", "steps", "process_samples"} <= _tables(path)
    with sqlite3.connect(path) as conn:
        assert read_version(conn) == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_indexes_cover_time_name_and_duration(tmp_path: Path) -> None:
    """Executions and steps are indexed by start time and by name with duration."""
    path = tmp_path / "s.db"
    SQLiteSpanExporter(path).shutdown()
    with sqlite3.connect(path) as conn:
        for table in ("executions", "steps"):
            columns = [
                [c[2] for c in conn.execute(f"PRAGMA index_info({ix[1]})")]
                for ix in conn.execute(f"PRAGMA index_list({table})")
            ]
            assert ["start_ns"] in columns
            assert any(c[0] == "workflow" and "duration" in c for c in columns)


def test_migration_adds_a_version_and_keeps_rows(tmp_path: Path, factory: SpanFactory) -> None:
    """A later migration upgrades an existing store in place and keeps its rows."""
    path = tmp_path / "s.db"
    factory.execution("order", 0, 1.0)
    factory.write(path)
    later = (*MIGRATIONS, "CREATE TABLE breakpoints (id INTEGER PRIMARY KEY, spec TEXT)")
    conn = open_store(path, migrations=later)
    try:
        assert read_version(conn) == len(MIGRATIONS) + 1
        assert conn.execute("SELECT count(*) FROM executions").fetchone()[0] == 1
    finally:
        conn.close()
    assert "breakpoints" in _tables(path)


def test_newer_store_is_refused_and_untouched(tmp_path: Path, factory: SpanFactory) -> None:
    """A store written by a newer version is refused with a clear error and not modified."""
    path = tmp_path / "s.db"
    factory.execution("order", 0, 1.0)
    factory.write(path)
    later = (*MIGRATIONS, "CREATE TABLE snapshots (id INTEGER PRIMARY KEY)")
    open_store(path, migrations=later).close()
    before = path.read_bytes()
    with pytest.raises(SchemaVersionError, match=r"newer than the version 1.*upgrade"):
        SQLiteSpanExporter(path)
    with pytest.raises(SchemaVersionError):
        AnalyticsEngine.from_store(path)
    assert path.read_bytes() == before


def test_corrupt_file_is_refused_and_untouched(tmp_path: Path) -> None:
    """A file that is not a SQLite store gives a clear error and keeps its bytes."""
    path = tmp_path / "s.db"
    junk = b"this is not a database, but somebody's notes\n" * 200
    path.write_bytes(junk)
    with pytest.raises(CorruptStoreError, match="not a readable otel-workflow store"):
        SQLiteSpanExporter(path)
    with pytest.raises(CorruptStoreError):
        AnalyticsEngine.from_store(path)
    assert path.read_bytes() == junk
    assert isinstance(CorruptStoreError("x"), StoreError)


def test_missing_store_for_reading_is_not_created(tmp_path: Path) -> None:
    """Reading a store that does not exist fails and leaves no empty file behind."""
    path = tmp_path / "absent.db"
    with pytest.raises(FileNotFoundError, match=r"absent\.db"):
        AnalyticsEngine.from_store(path)
    assert not path.exists()


def test_directory_is_refused(tmp_path: Path) -> None:
    """A directory given as the store path is refused with a clear error."""
    with pytest.raises(StoreError, match="is a directory"):
        SQLiteSpanExporter(tmp_path)
