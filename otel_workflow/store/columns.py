"""The store's tables and columns, defined once.

Everything else is derived from :data:`TABLES`: the migrations' ``CREATE TABLE`` and
``ALTER TABLE ... ADD COLUMN`` statements (:mod:`.schema`), the writer's ``INSERT``
(:func:`insert_sql`), the readers' ``SELECT`` lists and the export columns
(:func:`export_columns`).  A column records the schema version that added it, so the
migration that created an old file is generated exactly as it was; the v1 fixture in
``tests/store/fixtures`` pins that history.

Rules for a change: columns are only ever *added*, at the end of a table, with a new
``since`` version and a nullable type (``ALTER TABLE`` cannot add ``NOT NULL`` without a
default); a column's name, type and version never change once released.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One column: SQL name, SQL declaration, the version that added it, its export name."""

    name: str
    decl: str
    since: int = 1
    export: str | None = None
    """Name in CSV/JSON exports; ``None``: the column name; ``""``: not exported.

    An export name carries the unit of a number whose column name does not
    (``duration_seconds``), as every CSV/JSON output of the project does."""

    @property
    def export_name(self) -> str:
        return self.name if self.export is None else self.export


@dataclass(frozen=True)
class Table:
    """One table: its name, columns in order, and the version that created it."""

    name: str
    columns: tuple[Column, ...]
    since: int = 1

    def column_names(self, version: int | None = None) -> tuple[str, ...]:
        """Names of the columns that exist at ``version`` (default: the current one)."""
        return tuple(
            c.name for c in self.columns if version is None or c.since <= version
        )


_ID = Column("id", "INTEGER PRIMARY KEY", export="")

# Version 2: the failure of a span, as its `exception` event and status tell it, and its
# events (bounded by the writer, see otel_workflow.store.rows).
_FAILURE = (
    Column("status_description", "TEXT", since=2),
    Column("exception_type", "TEXT", since=2),
    Column("exception_message", "TEXT", since=2),
    Column("exception_stacktrace", "TEXT", since=2),
    Column("events", "TEXT", since=2),
)

EXECUTIONS = Table(
    "executions",
    (
        _ID,
        Column("trace_id", "TEXT NOT NULL"),
        Column("span_id", "TEXT NOT NULL"),
        # Not exported: a workflow's parent span is its caller's, seen through trace_id.
        Column("parent_span_id", "TEXT", export=""),
        Column("execution_id", "TEXT"),
        Column("parent_execution_id", "TEXT"),
        Column("workflow", "TEXT NOT NULL"),
        Column("workflow_type", "TEXT NOT NULL DEFAULT ''"),
        Column("workflow_version", "TEXT"),
        Column("status", "TEXT NOT NULL"),
        Column("error_type", "TEXT"),
        Column("error_category", "TEXT"),
        Column("user_id", "TEXT"),
        Column("session_id", "TEXT"),
        Column("start_ns", "INTEGER NOT NULL", export="start"),
        Column("end_ns", "INTEGER NOT NULL", export="end"),
        Column("duration", "REAL NOT NULL", export="duration_seconds"),
        Column("attributes", "TEXT"),
        *_FAILURE,
    ),
)

STEPS = Table(
    "steps",
    (
        _ID,
        Column("trace_id", "TEXT NOT NULL"),
        Column("span_id", "TEXT NOT NULL"),
        Column("parent_span_id", "TEXT"),
        Column("execution_id", "TEXT"),
        Column("workflow", "TEXT NOT NULL DEFAULT ''"),
        Column("step", "TEXT NOT NULL"),
        Column("step_index", "INTEGER"),
        Column("attempt", "INTEGER"),
        Column("status", "TEXT NOT NULL"),
        Column("error_type", "TEXT"),
        Column("error_category", "TEXT"),
        Column("user_id", "TEXT"),
        Column("session_id", "TEXT"),
        Column("start_ns", "INTEGER NOT NULL", export="start"),
        Column("end_ns", "INTEGER NOT NULL", export="end"),
        Column("duration", "REAL NOT NULL", export="duration_seconds"),
        Column("cpu_time", "REAL", export="cpu_time_seconds"),
        Column("attributes", "TEXT"),
        *_FAILURE,
    ),
)

PROCESS_SAMPLES = Table(
    "process_samples",
    (
        _ID,
        Column("ts_ns", "INTEGER NOT NULL"),
        Column("pid", "INTEGER NOT NULL"),
        Column("rss_bytes", "INTEGER"),
        Column("cpu_seconds", "REAL"),
    ),
)

DROPS = Table(
    "drops",
    (
        _ID,
        Column("ts_ns", "INTEGER NOT NULL", since=2),
        Column("pid", "INTEGER NOT NULL", since=2),
        Column("reason", "TEXT NOT NULL", since=2),
        Column("row_count", "INTEGER NOT NULL", since=2),
    ),
    since=2,
)
"""Rows a writer could not store (a full queue, a failed write), appended as they happen."""

COMPONENT_VERSIONS = Table(
    "component_versions",
    (
        Column("component", "TEXT NOT NULL", since=2),
        Column("version", "INTEGER NOT NULL", since=2),
        Column("applied_ns", "INTEGER NOT NULL", since=2),
    ),
    since=2,
)
"""Schema versions of the features' own tables (see :class:`otel_workflow.store.Component`)."""

TABLES: tuple[Table, ...] = (EXECUTIONS, STEPS, PROCESS_SAMPLES, DROPS, COMPONENT_VERSIONS)
"""Every table of the store's core schema, in creation order."""

SPAN_TABLES: tuple[Table, ...] = (EXECUTIONS, STEPS)
"""The tables with one row per stored span."""


def table(name: str) -> Table:
    """The table called ``name``; ValueError naming the known ones otherwise."""
    for candidate in TABLES:
        if candidate.name == name:
            return candidate
    raise ValueError(
        f"unknown store table {name!r}: expected one of {', '.join(t.name for t in TABLES)}"
    )


def insert_columns(spec: Table) -> tuple[str, ...]:
    """The columns a writer supplies, in order (all but the row id)."""
    return tuple(c.name for c in spec.columns if c.name != "id")


def insert_sql(spec: Table) -> str:
    """``INSERT INTO <table> (...) VALUES (?, ...)`` for :func:`insert_columns`."""
    names = insert_columns(spec)
    return (
        f"INSERT INTO {spec.name} ({', '.join(names)}) "
        f"VALUES ({', '.join('?' for _ in names)})"
    )


def exported(spec: Table) -> tuple[Column, ...]:
    """The columns that appear in exports, in order."""
    return tuple(c for c in spec.columns if c.export_name)


def export_columns(spec: Table) -> tuple[str, ...]:
    """Column names of ``executions``/``steps`` exports, in order."""
    return tuple(c.export_name for c in exported(spec))


def select_list(spec: Table) -> str:
    """The SQL select list of the exported columns (in :func:`export_columns` order)."""
    return ", ".join(c.name for c in exported(spec))


__all__ = [
    "COMPONENT_VERSIONS",
    "DROPS",
    "EXECUTIONS",
    "PROCESS_SAMPLES",
    "SPAN_TABLES",
    "STEPS",
    "TABLES",
    "Column",
    "Table",
    "export_columns",
    "exported",
    "insert_columns",
    "insert_sql",
    "select_list",
    "table",
]
