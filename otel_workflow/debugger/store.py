"""The debugger's tables in the SQLite store: breakpoints, watches, snapshots, traces.

Every change is one ``BEGIN IMMEDIATE`` transaction that also bumps a generation counter,
so writes are atomic and several processes share one store's breakpoints.  A process
notices another's change without a restart at the cost of one cheap read at most every
``check_interval`` seconds: ``PRAGMA data_version`` (answered from SQLite's page cache,
no query), and only when that moved, the one-row generation counter.

The tables are the store's ``debugger`` component (:data:`DEBUGGER`, its own version
track: see :class:`otel_workflow.store.schema.Component`), created or migrated by
:func:`otel_workflow.store.open_store` in one ``BEGIN IMMEDIATE`` transaction, so two
processes opening a new file at once agree.  They are prefixed ``debugger_`` and never
touch the span tables.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from otel_workflow._guard import report_internal_error
from otel_workflow.store import Component, open_store

CHECK_INTERVAL = 0.25
"""Seconds between two checks for changes made by other processes."""

DEBUGGER = Component(
    "debugger",
    migrations=[[
        "CREATE TABLE debugger_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        "INSERT INTO debugger_meta (key, value) VALUES ('generation', 0)",
        "CREATE TABLE debugger_breakpoints (id TEXT PRIMARY KEY, spec TEXT NOT NULL,"
        " updated REAL NOT NULL)",
        "CREATE TABLE debugger_watches (id TEXT PRIMARY KEY, spec TEXT NOT NULL,"
        " updated REAL NOT NULL)",
        "CREATE TABLE debugger_watch_events (id INTEGER PRIMARY KEY, watch_id TEXT NOT NULL,"
        " execution_id TEXT, step TEXT, ts REAL NOT NULL, payload TEXT NOT NULL)",
        "CREATE INDEX ix_debugger_watch_events_watch ON debugger_watch_events (watch_id, id)",
        "CREATE TABLE debugger_snapshots (id TEXT PRIMARY KEY, execution_id TEXT,"
        " workflow TEXT, step TEXT, step_index INTEGER, breakpoint_id TEXT, ts REAL NOT NULL,"
        " expires REAL, payload TEXT NOT NULL)",
        "CREATE INDEX ix_debugger_snapshots_execution ON debugger_snapshots (execution_id, ts)",
        "CREATE TABLE debugger_traces (id INTEGER PRIMARY KEY, execution_id TEXT NOT NULL,"
        " seq INTEGER NOT NULL, ts REAL NOT NULL, payload TEXT NOT NULL)",
        "CREATE INDEX ix_debugger_traces_execution ON debugger_traces (execution_id, seq)",
        "CREATE TABLE debugger_trace_requests (id TEXT PRIMARY KEY, spec TEXT NOT NULL,"
        " updated REAL NOT NULL)",
    ]],
)  # fmt: skip
"""The debugger's component of the store: its migrations, applied when a debugger opens it."""

_KINDS = {"breakpoint": "debugger_breakpoints", "watch": "debugger_watches",
          "trace": "debugger_trace_requests"}  # fmt: skip


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


class DebugStore:
    """The debugger's persistent state in one SQLite file (shared with the span store)."""

    def __init__(self, path: str | Path, *, check_interval: float = CHECK_INTERVAL) -> None:
        if not isinstance(path, (str, Path)):
            raise TypeError(f"store path must be a str or Path, got {type(path).__name__}")
        self.path = Path(path)
        self.check_interval = check_interval
        self._lock = threading.Lock()
        # A writer connection (WAL, autocommit, any thread): the core schema and ours.
        self._conn = open_store(self.path, components=[DEBUGGER])
        self._data_version = -1
        self._generation = -1
        self._next_check = 0.0

    # -- transactions -----------------------------------------------------------------
    class _Tx:
        def __init__(self, store: DebugStore) -> None:
            self.store = store

        def __enter__(self) -> sqlite3.Connection:
            self.store._lock.acquire()
            self.store._conn.execute("BEGIN IMMEDIATE")
            return self.store._conn

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            try:
                self.store._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
            finally:
                self.store._lock.release()

    def _transaction(self) -> DebugStore._Tx:
        return DebugStore._Tx(self)

    def _bump(self, conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE debugger_meta SET value = value + 1 WHERE key = 'generation'")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- change detection -------------------------------------------------------------
    def changed(self, force: bool = False) -> bool:
        """True when another process changed the shared specs since the last call.

        Cheap: at most one ``PRAGMA data_version`` per ``check_interval``; the generation
        row is read only when the file changed at all (span writes move data_version too).
        """
        now = time.monotonic()
        if now < self._next_check and not force:
            return False
        self._next_check = now + self.check_interval
        with self._lock:
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            if version == self._data_version:
                return False
            self._data_version = version
            row = self._conn.execute(
                "SELECT value FROM debugger_meta WHERE key = 'generation'"
            ).fetchone()
        generation = int(row[0]) if row else 0
        if generation == self._generation:
            return False
        self._generation = generation
        return True

    # -- specs: breakpoints, watches, trace requests ------------------------------------
    def put(self, kind: str, item_id: str, spec: dict[str, Any]) -> None:
        """Insert or replace one spec, atomically."""
        with self._transaction() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO {_KINDS[kind]} (id, spec, updated) VALUES (?, ?, ?)",
                (item_id, _dumps(spec), time.time()),
            )
            self._bump(conn)

    def delete(self, kind: str, item_id: str) -> bool:
        with self._transaction() as conn:
            cursor = conn.execute(f"DELETE FROM {_KINDS[kind]} WHERE id = ?", (item_id,))
            self._bump(conn)
        return cursor.rowcount > 0

    def load(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT spec FROM {_KINDS[kind]} ORDER BY updated, id"
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    # -- snapshots ----------------------------------------------------------------------
    def add_snapshot(self, snapshot: dict[str, Any], expires: float | None) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO debugger_snapshots (id, execution_id, workflow, step, step_index, "
                "breakpoint_id, ts, expires, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (snapshot["id"], snapshot.get("execution_id"), snapshot.get("workflow"),
                 snapshot.get("step"), snapshot.get("step_index"), snapshot.get("breakpoint_id"),
                 snapshot["ts"], expires, _dumps(snapshot)),
            )  # fmt: skip
            conn.execute("DELETE FROM debugger_snapshots WHERE expires < ?", (time.time(),))

    def snapshots(self, execution_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT payload FROM debugger_snapshots WHERE (expires IS NULL OR expires >= ?)"
        params: list[Any] = [time.time()]
        if execution_id is not None:
            sql += " AND execution_id = ?"
            params.append(execution_id)
        sql += " ORDER BY ts LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [json.loads(row[0]) for row in rows]

    def snapshot(self, snapshot_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT payload FROM debugger_snapshots WHERE id = ?", (snapshot_id,)
            ).fetchone()
        return json.loads(row[0]) if row else None

    # -- traces and watch events --------------------------------------------------------
    def add_trace_events(self, events: Iterable[dict[str, Any]]) -> None:
        rows = [(e["execution_id"], e["seq"], e["ts"], _dumps(e)) for e in events]
        if not rows:
            return
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO debugger_traces (execution_id, seq, ts, payload) VALUES (?, ?, ?, ?)",
                rows,
            )

    def trace(self, execution_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT payload FROM debugger_traces WHERE execution_id = ? ORDER BY seq, id",
                (execution_id,),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def add_watch_event(self, event: dict[str, Any]) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO debugger_watch_events (watch_id, execution_id, step, ts, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                (event["watch_id"], event.get("execution_id"), event.get("step"),
                 event["ts"], _dumps(event)),
            )  # fmt: skip

    def watch_events(self, watch_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT payload FROM debugger_watch_events WHERE watch_id = ? ORDER BY id",
                (watch_id,),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    # -- executions and steps (the span store's tables, when present) ------------------------
    def executions(
        self, workflow: str | None = None, status: str | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Recent executions recorded by the span store, newest first ([] when none)."""
        sql = ("SELECT execution_id, workflow, status, start_ns, duration, error_type, trace_id "
               "FROM executions WHERE 1=1")  # fmt: skip
        params: list[Any] = []
        if workflow is not None:
            sql += " AND workflow = ?"
            params.append(workflow)
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        sql += " ORDER BY start_ns DESC LIMIT ?"
        params.append(int(limit))
        try:
            with self._lock:
                rows = self._conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # no span store in this file yet
            return []
        keys = ("execution_id", "workflow", "status", "start_ns", "duration", "error_type",
                "trace_id")  # fmt: skip
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def execution_steps(self, execution_id: str) -> list[dict[str, Any]]:
        """The recorded steps of one execution in start order, attributes decoded (the
        execution's own row first: workflow, status, duration, trace and span ids)."""
        try:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT step, step_index, attempt, status, attributes, duration, error_type "
                    "FROM steps "
                    "WHERE execution_id = ? ORDER BY start_ns, id", (execution_id,),
                ).fetchall()  # fmt: skip
                wf = self._conn.execute(
                    "SELECT workflow, status, attributes, trace_id, span_id, duration, "
                    "error_type FROM executions "
                    "WHERE execution_id = ?", (execution_id,),
                ).fetchone()  # fmt: skip
        except sqlite3.OperationalError:
            return []
        steps = [
            {"step": r[0], "step_index": r[1], "attempt": r[2], "status": r[3],
             "attributes": json.loads(r[4]) if r[4] else {}, "duration": r[5],
             "error_type": r[6]}
            for r in rows
        ]  # fmt: skip
        if wf is not None:
            steps.insert(
                0,
                {
                    "workflow": wf[0],
                    "status": wf[1],
                    "trace_id": wf[3],
                    "span_id": wf[4],
                    "duration": wf[5],
                    "error_type": wf[6],
                    "attributes": json.loads(wf[2]) if wf[2] else {},
                },
            )
        return steps


class ChangePoller:
    """A daemon thread: every ``check_interval`` one ``PRAGMA data_version``; on a change
    by another process, ``on_change()`` (the debugger reloads its specs and tells the step
    machine).  Stopped by :meth:`stop`; never keeps the process alive."""

    def __init__(self, store: DebugStore, on_change: Callable[[], None]) -> None:
        self._store, self._on_change = store, on_change
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="otel-workflow-debugger-poll", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        store = self._store
        while not self._stopped.wait(store.check_interval):
            try:
                if store.changed(force=True):
                    self._on_change()
            except Exception as exc:  # a locked or vanished file: try again next time
                if self._stopped.is_set():
                    return
                report_internal_error("debugger.poll", exc)

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
