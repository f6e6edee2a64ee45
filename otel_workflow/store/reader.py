"""The store's read side: a read-only view of a store file, for analytics and features.

>>> from otel_workflow.store import StoreReader
>>> with StoreReader("otel-workflow.db") as store:                  # doctest: +SKIP
...     print(store.dropped_rows())         # {'queue_full': 12}: rows this store lost
...     for row in store.rows("steps"):     # dicts keyed by export column name
...         ...

A reader never creates, migrates or writes the file (see :func:`open_reader` for the
errors it raises on a missing, older, newer or corrupt store).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any

from otel_workflow.store.columns import DROPS, SPAN_TABLES, Table, export_columns, select_list
from otel_workflow.store.connection import StorePath, open_reader
from otel_workflow.store.schema import Component, read_version

_JSON_COLUMNS = frozenset({"attributes", "events"})


def span_table(kind: str) -> Table:
    """The ``executions`` or ``steps`` table; ValueError for any other kind."""
    for spec in SPAN_TABLES:
        if spec.name == kind:
            return spec
    raise ValueError(f"unknown row kind {kind!r}: expected 'executions' or 'steps'")


def decode(columns: Sequence[str], row: Sequence[Any]) -> list[Any]:
    """A stored row's JSON text columns (``attributes``, ``events``) as Python values."""
    values = list(row)
    for i, name in enumerate(columns):
        if name in _JSON_COLUMNS:
            text = values[i]
            if name == "attributes":
                values[i] = json.loads(text) if text else {}
            else:
                values[i] = json.loads(text) if text else []
    return values


def dropped_rows_of(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows the writers of this store could not store, by reason (empty: none lost)."""
    rows = conn.execute(
        f"SELECT reason, sum(row_count) FROM {DROPS.name} GROUP BY reason ORDER BY reason"
    ).fetchall()
    return {str(reason): int(total) for reason, total in rows if total}


def dropped_rows(path: StorePath) -> dict[str, int]:
    """Rows the store at ``path`` lost (full queue, failed writes), by reason.

    For a CLI or a report to say "this store dropped N rows": ``sum(dropped_rows(p).values())``.
    """
    with StoreReader(path) as store:
        return store.dropped_rows()


class StoreReader:
    """A read-only connection to a store file, with the queries every reader needs."""

    def __init__(self, path: StorePath, *, components: Sequence[Component] = ()) -> None:
        self._conn = open_reader(path, components=components)

    @property
    def connection(self) -> sqlite3.Connection:
        """The read-only SQLite connection, for a feature's own queries."""
        return self._conn

    @property
    def schema_version(self) -> int:
        return read_version(self._conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def dropped_rows(self) -> dict[str, int]:
        """Rows this store lost, by reason (see :func:`dropped_rows`)."""
        return dropped_rows_of(self._conn)

    def select(
        self, kind: str, where: str = "", params: Sequence[Any] = ()
    ) -> tuple[tuple[str, ...], Iterator[list[Any]]]:
        """Export column names and a lazy iterator of decoded ``kind`` rows.

        ``where`` is an SQL suffix over the table's columns (``" WHERE start_ns >= ?"``);
        rows come in ``start_ns, id`` order, times as nanoseconds.
        """
        spec = span_table(kind)
        columns = export_columns(spec)
        cursor = self._conn.execute(
            f"SELECT {select_list(spec)} FROM {spec.name}{where} ORDER BY start_ns, id", params
        )
        return columns, (decode(columns, row) for row in cursor)

    def rows(self, kind: str) -> Iterator[dict[str, Any]]:
        """Every ``kind`` row as a dict keyed by export column name."""
        columns, rows = self.select(kind)
        return (dict(zip(columns, row, strict=True)) for row in rows)


__all__ = ["StoreReader", "decode", "dropped_rows", "dropped_rows_of", "span_table"]
