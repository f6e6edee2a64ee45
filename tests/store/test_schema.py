"""The store file: versioned schema, migrations, readers that never write, refusals."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from otel_workflow.analytics import AnalyticsEngine
from otel_workflow.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Component,
    CorruptStoreError,
    SchemaOutdatedError,
    SchemaVersionError,
    SQLiteSpanExporter,
    StoreError,
    StoreReader,
    migrate,
    open_reader,
    open_store,
    read_component_version,
    read_version,
    transaction,
)
from otel_workflow.store.columns import TABLES

from .conftest import V1_FIXTURE, SpanFactory


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def _table_info(path: Path, table: str) -> list[tuple[object, ...]]:
    # immutable: reading the committed fixture leaves no -shm/-wal beside it
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return [tuple(r) for r in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


def _dump(path: Path, table: str, columns: tuple[str, ...]) -> list[tuple[object, ...]]:
    # immutable: reading the committed fixture leaves no -shm/-wal beside it
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id").fetchall()
    finally:
        conn.close()


def test_new_store_has_current_schema_in_wal_mode(tmp_path: Path) -> None:
    """A new store gets every table, the current schema version and WAL journaling."""
    path = tmp_path / "s.db"
    SQLiteSpanExporter(path).shutdown()
    assert {"schema_version", *(t.name for t in TABLES)} <= _tables(path)
    with sqlite3.connect(path) as conn:
        assert read_version(conn) == SCHEMA_VERSION == 2
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_tables_have_exactly_the_listed_columns(tmp_path: Path) -> None:
    """Every table of a new store has the columns of the one column list, in order."""
    path = tmp_path / "s.db"
    SQLiteSpanExporter(path).shutdown()
    for spec in TABLES:
        assert [r[1] for r in _table_info(path, spec.name)] == list(spec.column_names())


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


def test_generated_v1_migration_matches_the_v1_file(tmp_path: Path) -> None:
    """The v1 migration generated from the column list builds the tables the v1 code built."""
    path = tmp_path / "fresh_v1.db"
    open_store(path, migrations=MIGRATIONS[:1]).close()
    for table in ("executions", "steps", "process_samples"):
        assert _table_info(path, table) == _table_info(V1_FIXTURE, table)


def test_v1_file_migrates_to_v2_keeping_every_row(v1_store: Path) -> None:
    """A store written by the v1 code is upgraded in place with every row and value kept."""
    v1_columns = {t: t_spec.column_names(1) for t_spec in TABLES if t_spec.since == 1
                  for t in [t_spec.name]}  # fmt: skip
    before = {t: _dump(v1_store, t, cols) for t, cols in v1_columns.items()}
    assert len(before["executions"]) == 20 and len(before["steps"]) == 36
    assert migrate(v1_store) == (1, 2)
    after = {t: _dump(v1_store, t, cols) for t, cols in v1_columns.items()}
    assert after == before
    with StoreReader(v1_store) as store:
        assert store.schema_version == 2
        steps = list(store.rows("steps"))
    assert len(steps) == 36
    assert all(s["exception_type"] is None and s["events"] == [] for s in steps)
    assert AnalyticsEngine.from_store(v1_store).workflow_stats()[0].count == 20


def test_reader_on_an_old_store_says_what_to_do_and_changes_nothing(v1_store: Path) -> None:
    """A reader refuses a v1 store with the command that upgrades it, and leaves it as is."""
    before = v1_store.read_bytes()
    with pytest.raises(SchemaOutdatedError, match=r"version 1.*reads version 2.*migrate"):
        open_reader(v1_store)
    with pytest.raises(SchemaOutdatedError):
        AnalyticsEngine.from_store(v1_store)
    assert v1_store.read_bytes() == before
    assert not Path(f"{v1_store}-wal").exists() or Path(f"{v1_store}-wal").stat().st_size == 0


def test_migrate_command_upgrades_a_store(v1_store: Path) -> None:
    """`python -m otel_workflow.store migrate PATH` upgrades the file so readers accept it."""
    done = subprocess.run(
        [sys.executable, "-m", "otel_workflow.store", "migrate", str(v1_store)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "from store schema version 1 to 2" in done.stdout
    open_reader(v1_store).close()


def test_reader_cannot_write(tmp_path: Path, factory: SpanFactory) -> None:
    """A reader's connection is read-only: a write through it fails and changes nothing."""
    factory.execution("order", 0, 1.0)
    path = factory.write(tmp_path / "s.db")
    with StoreReader(path) as store:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.connection.execute("DELETE FROM executions")
        assert store.connection.execute("SELECT count(*) FROM executions").fetchone()[0] == 1


def test_migration_adds_a_version_and_keeps_rows(tmp_path: Path, factory: SpanFactory) -> None:
    """A later migration upgrades an existing store in place and keeps its rows."""
    path = tmp_path / "s.db"
    factory.execution("order", 0, 1.0)
    factory.write(path)
    later = (*MIGRATIONS, ("CREATE TABLE breakpoints (id INTEGER PRIMARY KEY, spec TEXT)",))
    conn = open_store(path, migrations=later)
    try:
        assert read_version(conn) == len(MIGRATIONS) + 1
        assert conn.execute("SELECT count(*) FROM executions").fetchone()[0] == 1
    finally:
        conn.close()
    assert "breakpoints" in _tables(path)


_TRIGGER = Component(
    "audit",
    migrations=[
        [
            "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, execution TEXT, note TEXT)",
            # A trigger body holds semicolons: a migration split on ';' would break it.
            "CREATE TRIGGER audit_failed AFTER INSERT ON executions "
            "WHEN NEW.status != 'ok' BEGIN "
            "INSERT INTO audit_log (execution, note) VALUES (NEW.execution_id, 'failed'); "
            "INSERT INTO audit_log (execution, note) VALUES (NEW.execution_id, 'again'); "
            "END",
        ]
    ],
)


def test_a_migration_holding_a_trigger_works(tmp_path: Path, factory: SpanFactory) -> None:
    """A component's migration with a multi-statement trigger applies and the trigger fires."""
    path = tmp_path / "s.db"
    open_store(path, components=[_TRIGGER]).close()
    factory.execution("order", 0, 1.0, status="error")
    factory.execution("order", 5, 1.0)
    factory.write(path)
    conn = open_reader(path, components=[_TRIGGER])
    try:
        notes = conn.execute("SELECT note FROM audit_log ORDER BY id").fetchall()
        assert read_component_version(conn, "audit") == 1
    finally:
        conn.close()
    assert notes == [("failed",), ("again",)]


def test_component_versions_are_checked_by_readers(tmp_path: Path) -> None:
    """A reader refuses a component's tables that are older or newer than it knows."""
    path = tmp_path / "s.db"
    first = Component("debugger", [["CREATE TABLE debugger_bp (id INTEGER PRIMARY KEY)"]])
    second = Component("debugger", [*first.migrations, ["ALTER TABLE debugger_bp ADD x TEXT"]])
    open_store(path, components=[first]).close()
    with pytest.raises(SchemaOutdatedError, match="'debugger' schema version 1"):
        open_reader(path, components=[second])
    conn = open_store(path, components=[second])
    with transaction(conn):
        conn.execute("INSERT INTO debugger_bp (x) VALUES ('kept')")
    conn.close()
    with pytest.raises(SchemaVersionError, match="'debugger' schema version 2, newer"):
        open_reader(path, components=[first])
    open_reader(path, components=[second]).close()


def test_a_migration_must_be_a_list_of_statements() -> None:
    """A migration given as one string is refused: statements are never split on ';'."""
    with pytest.raises(TypeError, match="list of SQL statements"):
        Component("x", ["CREATE TABLE x_a (id INTEGER); CREATE TABLE x_b (id INTEGER)"])
    with pytest.raises(ValueError, match="identifier"):
        Component("core", [])


def test_newer_store_is_refused_and_untouched(tmp_path: Path, factory: SpanFactory) -> None:
    """A store written by a newer version is refused with a clear error and not modified."""
    path = tmp_path / "s.db"
    factory.execution("order", 0, 1.0)
    factory.write(path)
    later = (*MIGRATIONS, ("CREATE TABLE snapshots (id INTEGER PRIMARY KEY)",))
    open_store(path, migrations=later).close()
    before = path.read_bytes()
    with pytest.raises(SchemaVersionError, match=r"newer than the version 2.*upgrade"):
        SQLiteSpanExporter(path)
    with pytest.raises(SchemaVersionError):
        AnalyticsEngine.from_store(path)
    with pytest.raises(SchemaVersionError):
        migrate(path)
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
    """Reading or migrating a store that does not exist fails and leaves no file behind."""
    path = tmp_path / "absent.db"
    with pytest.raises(FileNotFoundError, match=r"absent\.db"):
        AnalyticsEngine.from_store(path)
    with pytest.raises(FileNotFoundError):
        migrate(path)
    assert not path.exists()


def test_directory_is_refused(tmp_path: Path) -> None:
    """A directory given as the store path is refused with a clear error."""
    with pytest.raises(StoreError, match="is a directory"):
        SQLiteSpanExporter(tmp_path)
