"""The store's schema versions and migrations, and the errors of an unusable store file.

A migration is a *list of statements* (never a string split on ``;``: a trigger body holds
semicolons).  ``MIGRATIONS[n - 1]`` takes the core schema from version ``n - 1`` to ``n``;
its ``CREATE TABLE`` / ``ADD COLUMN`` statements are generated from :mod:`.columns`, its
indexes and anything else are listed here.

Features keep their own tables in the same file, each under a :class:`Component` with its
own version track (the ``component_versions`` table), so the debugger and the diagnosis
can add tables independently of each other and of the core::

    from otel_workflow.store import Component, open_store, open_reader, transaction

    DEBUGGER = Component("debugger", migrations=[
        ["CREATE TABLE debugger_breakpoints (id INTEGER PRIMARY KEY, spec TEXT NOT NULL)"],
        ["ALTER TABLE debugger_breakpoints ADD COLUMN hits INTEGER"],
    ])
    conn = open_store(path, components=[DEBUGGER])        # writer: creates and migrates
    with transaction(conn):
        conn.execute("INSERT INTO debugger_breakpoints (spec) VALUES (?)", ("step == 'x'",))
    reader = open_reader(path, components=[DEBUGGER])    # reader: never migrates

A component's tables are prefixed with its name (``debugger_*``); a component's migration
only adds (tables, columns, indexes, triggers) so older readers of other parts are unaffected.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from otel_workflow.store.columns import SPAN_TABLES, TABLES, Table

Migration = Sequence[str]
"""One migration: SQL statements run in order, in one transaction with the others."""


def _create(spec: Table, version: int) -> str:
    columns = ",\n    ".join(f"{c.name} {c.decl}" for c in spec.columns if c.since <= version)
    return f"CREATE TABLE {spec.name} (\n    {columns}\n)"


# Indexes and other statements per version, after that version's tables and columns.
# The *_duration indexes cover the statistics queries (count, sum, min, max and exact
# percentiles by ORDER BY duration LIMIT/OFFSET, per group and time range) so they never
# touch the table; the partial *_failed indexes count failures without a table scan.
_EXTRA: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE INDEX ix_executions_start ON executions (start_ns)",
        "CREATE INDEX ix_executions_duration "
        "ON executions (workflow, workflow_type, duration, start_ns)",
        "CREATE INDEX ix_executions_failed ON executions (workflow, workflow_type, status, "
        "start_ns) WHERE status != 'ok'",
        "CREATE INDEX ix_steps_start ON steps (start_ns)",
        "CREATE INDEX ix_steps_duration ON steps (workflow, step, duration, start_ns, cpu_time)",
        "CREATE INDEX ix_steps_failed ON steps (workflow, step, status, start_ns) "
        "WHERE status != 'ok'",
        "CREATE INDEX ix_process_samples_ts ON process_samples (ts_ns)",
    ),
    2: (
        "CREATE UNIQUE INDEX ix_component_versions ON component_versions (component, version)",
    ),
}


def migration(version: int) -> tuple[str, ...]:
    """The statements that take the core schema from ``version - 1`` to ``version``."""
    statements: list[str] = []
    for spec in TABLES:
        if spec.since == version:
            statements.append(_create(spec, version))
        elif spec.since < version:
            statements.extend(
                f"ALTER TABLE {spec.name} ADD COLUMN {c.name} {c.decl}"
                for c in spec.columns
                if c.since == version
            )
    statements.extend(_EXTRA.get(version, ()))
    return tuple(statements)


SCHEMA_VERSION = 2
"""The core schema version this code writes and reads."""

MIGRATIONS: tuple[tuple[str, ...], ...] = tuple(
    migration(v) for v in range(1, SCHEMA_VERSION + 1)
)
"""``MIGRATIONS[n - 1]`` takes a store from version ``n - 1`` to ``n``."""

assert all(c.since <= SCHEMA_VERSION for t in TABLES for c in t.columns)
assert {t.name for t in SPAN_TABLES} <= {t.name for t in TABLES}


@dataclass(frozen=True)
class Component:
    """A feature's own tables: a name (also their prefix) and its list of migrations."""

    name: str
    migrations: Sequence[Migration]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier() or self.name == "core":
            raise ValueError(
                f"component name must be an identifier other than 'core', got {self.name!r}"
            )
        for i, step in enumerate(self.migrations, 1):
            if isinstance(step, str) or not all(isinstance(s, str) for s in step):
                raise TypeError(
                    f"component {self.name!r} migration {i} must be a list of SQL statements, "
                    f"got {step!r}"
                )

    @property
    def version(self) -> int:
        """The version this code knows: the number of migrations."""
        return len(self.migrations)


class StoreError(OSError):
    """The store file cannot be used (see the message for why and what to do)."""


class SchemaVersionError(StoreError):
    """The store was written by a newer otel-workflow; it is refused and left untouched."""


class SchemaOutdatedError(StoreError):
    """A reader met a store of an older schema: it must be migrated by a writer first."""


class CorruptStoreError(StoreError):
    """The file is not a readable SQLite store; it is left untouched."""


def corrupt(path: Path, exc: BaseException) -> CorruptStoreError:
    """The error for a file that is not a readable store."""
    return CorruptStoreError(
        f"{path} is not a readable otel-workflow store ({exc}); the file was left untouched: "
        "move it aside (or restore a backup) and a new store will be created"
    )


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def read_version(conn: sqlite3.Connection) -> int:
    """The core schema version of an open store (0 for an empty database)."""
    if not _has_table(conn, "schema_version"):
        return 0
    version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    return int(version or 0)


def read_component_version(conn: sqlite3.Connection, name: str) -> int:
    """The version of component ``name``'s tables (0 when it has none yet)."""
    if not _has_table(conn, "component_versions"):
        return 0
    version = conn.execute(
        "SELECT max(version) FROM component_versions WHERE component = ?", (name,)
    ).fetchone()[0]
    return int(version or 0)


def check_not_newer(path: Path, what: str, version: int, known: int) -> None:
    """Refuse a store part written by a newer otel-workflow."""
    if version > known:
        raise SchemaVersionError(
            f"{path} has {what} schema version {version}, newer than the version {known} "
            "this otel-workflow understands; upgrade otel-workflow to use it "
            "(the store was not modified)"
        )


def check_current(path: Path, what: str, version: int, known: int) -> None:
    """For readers: refuse a newer part, and tell how to upgrade an older one."""
    check_not_newer(path, what, version, known)
    if version < known:
        raise SchemaOutdatedError(
            f"{path} has {what} schema version {version}; this otel-workflow reads version "
            f"{known}. Readers never modify a store: upgrade it in place first with "
            f"`python -m otel_workflow.store migrate {path}` (or "
            "otel_workflow.store.migrate(path)); any writer, such as an application "
            "configured with this store, also upgrades it when it opens it. Every row is kept."
        )


__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Component",
    "CorruptStoreError",
    "Migration",
    "SchemaOutdatedError",
    "SchemaVersionError",
    "StoreError",
    "check_current",
    "check_not_newer",
    "corrupt",
    "migration",
    "read_component_version",
    "read_version",
]
