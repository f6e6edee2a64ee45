"""The store's SQLite schema, its migrations, and opening a store file safely.

The schema is versioned: ``schema_version`` holds one row with the version, and
:data:`MIGRATIONS` lists the SQL that takes a store from version ``n - 1`` to ``n``.
Opening a store applies the missing migrations in one ``BEGIN IMMEDIATE`` transaction
(so two processes opening a new file at once migrate it once).  A store of a newer
version than this code knows is refused with :class:`SchemaVersionError` and never
modified.  A file that is not a readable SQLite database raises :class:`CorruptStoreError`
and is left exactly as it was.

Later features add tables by appending migrations (breakpoints, snapshots and error
groups are planned as versions 2, 3, ...); a migration never rewrites existing rows in a
way older readers cannot read.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for another process's write lock before giving up."""

# Version 1: workflow executions, steps, process samples.  Column names are the export
# column names (see otel_workflow.analytics.exports) except the *_ns timestamps.
# The *_duration indexes cover the statistics queries (count, sum, min, max and exact
# percentiles by ORDER BY duration LIMIT/OFFSET, per group and time range) so they never
# touch the table; the partial *_failed indexes count failures without a table scan.
_V1 = """
CREATE TABLE executions (
    id INTEGER PRIMARY KEY,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    execution_id TEXT,
    parent_execution_id TEXT,
    workflow TEXT NOT NULL,
    workflow_type TEXT NOT NULL DEFAULT '',
    workflow_version TEXT,
    status TEXT NOT NULL,
    error_type TEXT,
    error_category TEXT,
    user_id TEXT,
    session_id TEXT,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    duration REAL NOT NULL,
    attributes TEXT
);
CREATE INDEX ix_executions_start ON executions (start_ns);
CREATE INDEX ix_executions_duration ON executions (workflow, workflow_type, duration, start_ns);
CREATE INDEX ix_executions_failed ON executions (workflow, workflow_type, status, start_ns)
    WHERE status != 'ok';
CREATE TABLE steps (
    id INTEGER PRIMARY KEY,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    execution_id TEXT,
    workflow TEXT NOT NULL DEFAULT '',
    step TEXT NOT NULL,
    step_index INTEGER,
    attempt INTEGER,
    status TEXT NOT NULL,
    error_type TEXT,
    error_category TEXT,
    user_id TEXT,
    session_id TEXT,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    duration REAL NOT NULL,
    cpu_time REAL,
    attributes TEXT
);
CREATE INDEX ix_steps_start ON steps (start_ns);
CREATE INDEX ix_steps_duration ON steps (workflow, step, duration, start_ns, cpu_time);
CREATE INDEX ix_steps_failed ON steps (workflow, step, status, start_ns) WHERE status != 'ok';
CREATE TABLE process_samples (
    id INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    rss_bytes INTEGER,
    cpu_seconds REAL
);
CREATE INDEX ix_process_samples_ts ON process_samples (ts_ns);
"""

MIGRATIONS: tuple[str, ...] = (_V1,)
"""``MIGRATIONS[n - 1]`` takes a store from version ``n - 1`` to ``n``."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The version this code writes and reads."""


class StoreError(OSError):
    """The store file cannot be used (see the message for why and what to do)."""


class SchemaVersionError(StoreError):
    """The store was written by a newer otel-workflow; it is refused and left untouched."""


class CorruptStoreError(StoreError):
    """The file is not a readable SQLite store; it is left untouched."""


def _corrupt(path: Path, exc: BaseException) -> CorruptStoreError:
    return CorruptStoreError(
        f"{path} is not a readable otel-workflow store ({exc}); the file was left untouched: "
        "move it aside (or restore a backup) and a new store will be created"
    )


def read_version(conn: sqlite3.Connection) -> int:
    """The schema version of an open store (0 for an empty database)."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if row is None:
        return 0
    version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    return int(version or 0)


def _check_not_newer(path: Path, version: int, known: int) -> None:
    if version > known:
        raise SchemaVersionError(
            f"{path} has store schema version {version}, newer than the version {known} "
            "this otel-workflow understands; upgrade otel-workflow to use it "
            "(the store was not modified)"
        )


def _migrate(conn: sqlite3.Connection, path: Path, migrations: Sequence[str]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read inside the write lock: another process may have migrated meanwhile.
        version = read_version(conn)
        _check_not_newer(path, version, len(migrations))
        if version == 0:
            conn.execute(
                "CREATE TABLE schema_version ("
                "version INTEGER NOT NULL, applied_ns INTEGER NOT NULL)"
            )
        for target in range(version + 1, len(migrations) + 1):
            for statement in migrations[target - 1].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_ns) VALUES (?, ?)",
                (target, time.time_ns()),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def open_store(
    path: str | os.PathLike[str],
    *,
    create: bool = True,
    migrations: Sequence[str] = MIGRATIONS,
) -> sqlite3.Connection:
    """Open (and create or migrate) the store at ``path``; returns a connection in WAL mode.

    ``create=False`` refuses a missing file with FileNotFoundError instead of creating
    one (readers use it so a typo in a path does not leave an empty store behind).
    The connection is in autocommit mode: callers open their own transactions.
    ``migrations`` is for tests of the mechanism; everything else uses the default.
    """
    store = Path(path)
    if not create and not store.exists():
        raise FileNotFoundError(f"no otel-workflow store at {store}")
    if store.exists() and store.is_dir():
        raise StoreError(f"{store} is a directory, not an otel-workflow store file")
    try:
        conn = sqlite3.connect(
            store, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the otel-workflow store {store}: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Reading the version first touches the header: a non-database fails here,
        # before anything could be written to it.
        version = read_version(conn)
        _check_not_newer(store, version, len(migrations))
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"cannot switch {store} to WAL mode (journal mode is {mode})")
        # NORMAL is durable across application crashes in WAL mode and much faster.
        conn.execute("PRAGMA synchronous = NORMAL")
        # A larger page cache keeps the index pages hot while batches are inserted and
        # statistics scan the covering indexes (the default is only 2 MiB).
        conn.execute("PRAGMA cache_size = -65536")
        # Checkpoint the WAL every ~40 MiB instead of every 4 MiB: index pages touched by
        # many batches are copied into the database once rather than many times (+15 %
        # ingest); readers are unaffected.
        conn.execute("PRAGMA wal_autocheckpoint = 10000")
        if version < len(migrations):
            _migrate(conn, store, migrations)
    except sqlite3.OperationalError as exc:
        # Locked, read-only, disk full...: the file may be fine, so do not call it corrupt.
        conn.close()
        raise StoreError(f"cannot open the otel-workflow store {store}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise _corrupt(store, exc) from exc
    except BaseException:
        conn.close()
        raise
    return conn


__all__ = [
    "BUSY_TIMEOUT_MS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "CorruptStoreError",
    "SchemaVersionError",
    "StoreError",
    "open_store",
    "read_version",
]
