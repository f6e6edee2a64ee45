"""Opening a store file: writers create and migrate it, readers only read it.

- :func:`open_store` (writers): creates the file, switches it to WAL, applies the missing
  migrations of the core and of the given components in one ``BEGIN IMMEDIATE``
  transaction (two processes opening a new file at once migrate it once).
- :func:`open_reader` (readers): a read-only connection; never creates, migrates or
  writes.  An older schema is refused with :class:`SchemaOutdatedError` saying how to
  upgrade, a newer one with :class:`SchemaVersionError`.
- :func:`migrate`: upgrade a file in place (what the reader's message asks for).

A file that is not a readable SQLite database raises :class:`CorruptStoreError` and is left
exactly as it was.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from otel_workflow.store.schema import (
    MIGRATIONS,
    Component,
    Migration,
    StoreError,
    check_current,
    check_not_newer,
    corrupt,
    read_component_version,
    read_version,
)

BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for another process's write lock before giving up."""

StorePath = str | os.PathLike[str]


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception) on a store connection.

    IMMEDIATE takes the write lock up front, so concurrent writers queue on the busy
    timeout instead of failing on a read-to-write upgrade.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _apply(conn: sqlite3.Connection, statements: Migration) -> None:
    for statement in statements:
        conn.execute(statement)


def _migrate(
    conn: sqlite3.Connection,
    path: Path,
    migrations: Sequence[Migration],
    components: Sequence[Component],
) -> None:
    with transaction(conn):
        # Re-read inside the write lock: another process may have migrated meanwhile.
        version = read_version(conn)
        check_not_newer(path, "store", version, len(migrations))
        if version == 0:
            conn.execute(
                "CREATE TABLE schema_version ("
                "version INTEGER NOT NULL, applied_ns INTEGER NOT NULL)"
            )
        for target in range(version + 1, len(migrations) + 1):
            _apply(conn, migrations[target - 1])
            conn.execute(
                "INSERT INTO schema_version (version, applied_ns) VALUES (?, ?)",
                (target, time.time_ns()),
            )
        for component in components:
            have = read_component_version(conn, component.name)
            check_not_newer(path, f"{component.name!r}", have, component.version)
            for target in range(have + 1, component.version + 1):
                _apply(conn, component.migrations[target - 1])
                conn.execute(
                    "INSERT INTO component_versions (component, version, applied_ns) "
                    "VALUES (?, ?, ?)",
                    (component.name, target, time.time_ns()),
                )


def _needs_migration(
    conn: sqlite3.Connection, migrations: Sequence[Migration], components: Sequence[Component]
) -> bool:
    if read_version(conn) < len(migrations):
        return True
    return any(read_component_version(conn, c.name) < c.version for c in components)


def _connect(store: Path, *, read_only: bool) -> sqlite3.Connection:
    if store.exists() and store.is_dir():
        raise StoreError(f"{store} is a directory, not an otel-workflow store file")
    try:
        if read_only:
            uri = f"file:{quote(str(store.resolve()))}?mode=ro"
            return sqlite3.connect(
                uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=False,
            )  # fmt: skip
        return sqlite3.connect(
            store, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the otel-workflow store {store}: {exc}") from exc


@contextmanager
def _classified(conn: sqlite3.Connection, store: Path) -> Iterator[None]:
    """Close ``conn`` and turn SQLite errors into StoreError/CorruptStoreError."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        # Locked, read-only, disk full...: the file may be fine, so do not call it corrupt.
        conn.close()
        raise StoreError(f"cannot open the otel-workflow store {store}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise corrupt(store, exc) from exc
    except BaseException:
        conn.close()
        raise


def open_store(
    path: StorePath,
    *,
    create: bool = True,
    components: Sequence[Component] = (),
    migrations: Sequence[Migration] = MIGRATIONS,
) -> sqlite3.Connection:
    """Open (and create or migrate) the store at ``path`` for writing; WAL mode, autocommit.

    ``create=False`` refuses a missing file with FileNotFoundError instead of creating one.
    ``components`` are features whose tables are created or migrated too.  The connection
    is in autocommit mode: use :func:`transaction` around writes.  ``migrations`` is for
    tests of the mechanism; everything else uses the default.
    """
    store = Path(path)
    if not create and not store.exists():
        raise FileNotFoundError(f"no otel-workflow store at {store}")
    conn = _connect(store, read_only=False)
    with _classified(conn, store):
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Reading the version first touches the header: a non-database fails here,
        # before anything could be written to it.
        check_not_newer(store, "store", read_version(conn), len(migrations))
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
        if _needs_migration(conn, migrations, components):
            _migrate(conn, store, migrations, components)
    return conn


def open_reader(
    path: StorePath,
    *,
    components: Sequence[Component] = (),
    migrations: Sequence[Migration] = MIGRATIONS,
) -> sqlite3.Connection:
    """A read-only connection to the store at ``path``; it never creates or modifies it.

    Raises FileNotFoundError (no file), :class:`SchemaOutdatedError` (an older schema,
    with what to do), :class:`SchemaVersionError` (a newer one), :class:`CorruptStoreError`.
    ``components`` must be at exactly the version this code knows, like the core.
    """
    store = Path(path)
    if not store.exists():
        raise FileNotFoundError(f"no otel-workflow store at {store}")
    conn = _connect(store, read_only=True)
    with _classified(conn, store):
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        check_current(store, "store", read_version(conn), len(migrations))
        for component in components:
            check_current(
                store,
                f"{component.name!r}",
                read_component_version(conn, component.name),
                component.version,
            )
        conn.execute("PRAGMA cache_size = -65536")
    return conn


def migrate(path: StorePath, *, components: Sequence[Component] = ()) -> tuple[int, int]:
    """Upgrade the existing store at ``path`` in place; returns (version before, after).

    Every row is kept.  Refuses a newer store (:class:`SchemaVersionError`) and a missing
    file (FileNotFoundError) without creating or changing anything.
    """
    store = Path(path)
    if not store.exists():
        raise FileNotFoundError(f"no otel-workflow store at {store}")
    probe = _connect(store, read_only=True)
    with _classified(probe, store):
        before = read_version(probe)
    probe.close()
    conn = open_store(store, create=False, components=components)
    try:
        return before, read_version(conn)
    finally:
        conn.close()


__all__ = [
    "BUSY_TIMEOUT_MS",
    "StorePath",
    "migrate",
    "open_reader",
    "open_store",
    "transaction",
]
