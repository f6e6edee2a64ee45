"""The diagnosis's tables in the store: groups, occurrences, resolutions.

They live in the span store's file as the ``diagnosis`` component (its own version track,
see :class:`otel_workflow.store.schema.Component`), so one file holds the spans the
evidence is computed from and the history of every error group.

- ``diagnosis_groups``: one row per fingerprint; counts, first/last seen, the template,
  the components hashed (for ``errors show``) and a sample (stack with the failing frame's
  locals, from the hook path when the failure was live).
- ``diagnosis_occurrences``: one row per failed attempt (execution id, trace id, attempt).
- ``diagnosis_resolutions``: notes from :func:`otel_workflow.diagnosis.resolve`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from otel_workflow.store.connection import StorePath, open_reader, open_store, transaction
from otel_workflow.store.schema import Component, read_component_version

DIAGNOSIS = Component(
    "diagnosis",
    migrations=[[
        "CREATE TABLE diagnosis_groups ("
        " fingerprint TEXT PRIMARY KEY, type_name TEXT NOT NULL, template TEXT NOT NULL,"
        " category TEXT NOT NULL, retryable INTEGER NOT NULL, workflow TEXT, step TEXT,"
        " root_frame TEXT, components TEXT NOT NULL, sample TEXT NOT NULL,"
        " count INTEGER NOT NULL, first_seen_ns INTEGER NOT NULL, last_seen_ns INTEGER NOT NULL)",
        "CREATE INDEX ix_diagnosis_groups_last ON diagnosis_groups (last_seen_ns)",
        "CREATE TABLE diagnosis_occurrences ("
        " id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, ts_ns INTEGER NOT NULL,"
        " trace_id TEXT, span_id TEXT, execution_id TEXT, workflow TEXT, step TEXT,"
        " attempt INTEGER, message TEXT)",
        "CREATE INDEX ix_diagnosis_occurrences_fp ON diagnosis_occurrences (fingerprint, ts_ns)",
        "CREATE INDEX ix_diagnosis_occurrences_exec ON diagnosis_occurrences (execution_id)",
        "CREATE INDEX ix_diagnosis_occurrences_ts ON diagnosis_occurrences (ts_ns)",
        "CREATE TABLE diagnosis_resolutions ("
        " id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, ts_ns INTEGER NOT NULL,"
        " note TEXT NOT NULL)",
        "CREATE INDEX ix_diagnosis_resolutions_fp ON diagnosis_resolutions (fingerprint, ts_ns)",
    ]],
)  # fmt: skip
"""The diagnosis component: its migrations, applied by any writer that opens the store."""


@dataclass(frozen=True)
class Occurrence:
    """One failed attempt, ready to record."""

    fingerprint: str
    ts_ns: int
    type_name: str
    template: str
    category: str
    retryable: bool
    trace_id: str | None
    span_id: str | None
    execution_id: str | None
    workflow: str | None
    step: str | None
    attempt: int | None
    message: str
    root_frame: str | None
    components: Sequence[str]
    sample: dict[str, Any]


@dataclass(frozen=True)
class Group:
    """One error group as stored."""

    fingerprint: str
    type_name: str
    template: str
    category: str
    retryable: bool
    workflow: str | None
    step: str | None
    root_frame: str | None
    components: list[str]
    sample: dict[str, Any]
    count: int
    first_seen_ns: int
    last_seen_ns: int


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def open_writer(path: StorePath) -> sqlite3.Connection:
    """A writer connection with the diagnosis tables created or migrated."""
    return open_store(path, components=[DIAGNOSIS])


def open_history_reader(path: StorePath) -> tuple[sqlite3.Connection, bool]:
    """A read-only connection and whether the diagnosis tables exist in it yet."""
    conn = open_reader(path)
    try:
        version = read_component_version(conn, DIAGNOSIS.name)
    except sqlite3.Error:
        version = 0
    return conn, version >= DIAGNOSIS.version


def write_occurrences(conn: sqlite3.Connection, items: Sequence[Occurrence]) -> list[int]:
    """Record ``items`` in one transaction; returns their occurrence row ids."""
    ids: list[int] = []
    with transaction(conn):
        for o in items:
            conn.execute(
                "INSERT INTO diagnosis_groups (fingerprint, type_name, template, category,"
                " retryable, workflow, step, root_frame, components, sample, count,"
                " first_seen_ns, last_seen_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)"
                " ON CONFLICT (fingerprint) DO UPDATE SET count = count + 1,"
                " last_seen_ns = max(last_seen_ns, excluded.last_seen_ns),"
                " first_seen_ns = min(first_seen_ns, excluded.first_seen_ns),"
                " sample = excluded.sample, category = excluded.category,"
                " retryable = excluded.retryable",
                (o.fingerprint, o.type_name, o.template, o.category, int(o.retryable),
                 o.workflow, o.step, o.root_frame, _dumps(list(o.components)),
                 _dumps(o.sample), o.ts_ns, o.ts_ns),
            )  # fmt: skip
            cursor = conn.execute(
                "INSERT INTO diagnosis_occurrences (fingerprint, ts_ns, trace_id, span_id,"
                " execution_id, workflow, step, attempt, message)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (o.fingerprint, o.ts_ns, o.trace_id, o.span_id, o.execution_id, o.workflow,
                 o.step, o.attempt, o.message[:2048]),
            )  # fmt: skip
            ids.append(int(cursor.lastrowid or 0))
    return ids


def reattribute(conn: sqlite3.Connection, occurrence_id: int, *, span_id: str | None,
                execution_id: str | None, workflow: str | None, step: str | None,
                attempt: int | None) -> None:  # fmt: skip
    """Give an occurrence recorded from a library's span the step it propagated through."""
    with transaction(conn):
        conn.execute(
            "UPDATE diagnosis_occurrences SET span_id = ?, execution_id = ?, workflow = ?,"
            " step = ?, attempt = ? WHERE id = ?",
            (span_id, execution_id, workflow, step, attempt, occurrence_id),
        )
        conn.execute(
            "UPDATE diagnosis_groups SET workflow = coalesce(workflow, ?),"
            " step = coalesce(step, ?) WHERE fingerprint ="
            " (SELECT fingerprint FROM diagnosis_occurrences WHERE id = ?)",
            (workflow, step, occurrence_id),
        )


def add_resolution(conn: sqlite3.Connection, fingerprint: str, note: str) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO diagnosis_resolutions (fingerprint, ts_ns, note) VALUES (?, ?, ?)",
            (fingerprint, time.time_ns(), note),
        )


def _group(row: Sequence[Any]) -> Group:
    return Group(
        fingerprint=row[0], type_name=row[1], template=row[2], category=row[3],
        retryable=bool(row[4]), workflow=row[5], step=row[6], root_frame=row[7],
        components=json.loads(row[8] or "[]"), sample=json.loads(row[9] or "{}"),
        count=int(row[10]), first_seen_ns=int(row[11]), last_seen_ns=int(row[12]),
    )  # fmt: skip


_GROUP_COLUMNS = (
    "fingerprint, type_name, template, category, retryable, workflow, step,"
    " root_frame, components, sample, count, first_seen_ns, last_seen_ns"
)


def group(conn: sqlite3.Connection, fingerprint: str) -> Group | None:
    row = conn.execute(
        f"SELECT {_GROUP_COLUMNS} FROM diagnosis_groups WHERE fingerprint = ?", (fingerprint,)
    ).fetchone()
    return None if row is None else _group(row)


def groups(conn: sqlite3.Connection, *, since_ns: int | None = None,
           workflow: str | None = None, limit: int = 1000) -> list[Group]:  # fmt: skip
    """Groups seen since ``since_ns`` (all when None), most recently seen first."""
    sql = f"SELECT {_GROUP_COLUMNS} FROM diagnosis_groups WHERE 1 = 1"
    params: list[Any] = []
    if since_ns is not None:
        sql += " AND last_seen_ns >= ?"
        params.append(since_ns)
    if workflow is not None:
        sql += (" AND fingerprint IN (SELECT fingerprint FROM diagnosis_occurrences"
                " WHERE workflow = ?)")  # fmt: skip
        params.append(workflow)
    sql += " ORDER BY last_seen_ns DESC LIMIT ?"
    params.append(limit)
    return [_group(r) for r in conn.execute(sql, params)]


def occurrence_times(conn: sqlite3.Connection, fingerprint: str, since_ns: int) -> list[int]:
    return [int(r[0]) for r in conn.execute(
        "SELECT ts_ns FROM diagnosis_occurrences WHERE fingerprint = ? AND ts_ns >= ?"
        " ORDER BY ts_ns", (fingerprint, since_ns))]  # fmt: skip


def window_count(conn: sqlite3.Connection, fingerprint: str, since_ns: int,
                 workflow: str | None = None) -> int:  # fmt: skip
    sql = "SELECT count(*) FROM diagnosis_occurrences WHERE fingerprint = ? AND ts_ns >= ?"
    params: list[Any] = [fingerprint, since_ns]
    if workflow is not None:
        sql += " AND workflow = ?"
        params.append(workflow)
    return int(conn.execute(sql, params).fetchone()[0])


def occurrences(conn: sqlite3.Connection, fingerprint: str, limit: int = 20) -> list[dict[str, Any]]:  # noqa: E501
    cols = ("ts_ns", "trace_id", "span_id", "execution_id", "workflow", "step", "attempt",
            "message")  # fmt: skip
    rows = conn.execute(
        f"SELECT {', '.join(cols)} FROM diagnosis_occurrences WHERE fingerprint = ?"
        " ORDER BY ts_ns DESC LIMIT ?", (fingerprint, limit))  # fmt: skip
    return [dict(zip(cols, r, strict=True)) for r in rows]


def occurrence_for_span(conn: sqlite3.Connection, span_id: str) -> str | None:
    row = conn.execute(
        "SELECT fingerprint FROM diagnosis_occurrences WHERE span_id = ? LIMIT 1", (span_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def resolutions(conn: sqlite3.Connection, fingerprints: Sequence[str]) -> dict[str, str]:
    """The latest resolution note of each fingerprint that has one."""
    if not fingerprints:
        return {}
    marks = ", ".join("?" for _ in fingerprints)
    rows = conn.execute(
        f"SELECT fingerprint, note FROM diagnosis_resolutions WHERE fingerprint IN ({marks})"
        " ORDER BY ts_ns", list(fingerprints))  # fmt: skip
    return {fp: note for fp, note in rows}
