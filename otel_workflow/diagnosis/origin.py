"""Origin across a cascade: which step's failure started a failed workflow.

A workflow execution and its nested executions (``parent_execution_id`` chains) are read
from the store.  A failed step attempt *recovered* when a later attempt of the same call
(same execution, step and parent span, a higher attempt number) succeeded; those are
listed apart and never named the origin.  The origin is the earliest-ending failed
attempt that did not recover — a later step that fails because an earlier one did points
back to the earlier one, and a nested workflow's failing step is found inside it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from otel_workflow.diagnosis.model import Origin

MAX_EXECUTIONS = 200


def _executions(conn: sqlite3.Connection, execution_id: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    frontier = [execution_id]
    while frontier and len(found) < MAX_EXECUTIONS:
        marks = ", ".join("?" for _ in frontier)
        rows = conn.execute(
            "SELECT execution_id, parent_execution_id, workflow, status FROM executions"
            f" WHERE execution_id IN ({marks})", frontier).fetchall()  # fmt: skip
        for eid, parent, workflow, status in rows:
            found[eid] = {"parent": parent, "workflow": workflow, "status": status}
        children = conn.execute(
            "SELECT execution_id FROM executions"
            f" WHERE parent_execution_id IN ({marks})", frontier).fetchall()  # fmt: skip
        frontier = [c[0] for c in children if c[0] not in found]
    return found


def execution_exists(conn: sqlite3.Connection, execution_id: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM executions WHERE execution_id = ? LIMIT 1", (execution_id,)
    ).fetchone()
    return row is not None


def origin(conn: sqlite3.Connection, execution_id: str, *, has_exceptions: bool = True) -> Origin | None:  # noqa: E501
    """The origin of ``execution_id``'s failure, or None when it has no failed step."""
    executions = _executions(conn, execution_id)
    if not executions:
        return None
    marks = ", ".join("?" for _ in executions)
    extra = ", exception_type, exception_message" if has_exceptions else ", error_type, NULL"
    rows = conn.execute(
        "SELECT execution_id, workflow, step, attempt, status, start_ns, end_ns, span_id,"
        f" parent_span_id{extra} FROM steps WHERE execution_id IN ({marks})"
        " ORDER BY end_ns, id", list(executions)).fetchall()  # fmt: skip
    ok_attempts: dict[tuple[Any, ...], list[int]] = {}
    for eid, _wf, step, attempt, status, *_rest in rows:
        if status == "ok":
            ok_attempts.setdefault((eid, step, _rest[3]), []).append(int(attempt or 1))
    recovered: list[dict[str, Any]] = []
    first: tuple[Any, ...] | None = None
    for row in rows:
        eid, workflow, step, attempt, status, _start, _end, span_id, parent, etype, _msg = row
        if status in ("ok", "cancelled"):
            continue
        later_ok = [a for a in ok_attempts.get((eid, step, parent), []) if a > int(attempt or 1)]
        if later_ok:
            recovered.append({"step": step, "workflow": workflow, "execution_id": eid,
                              "attempt": attempt, "recovered_on_attempt": min(later_ok),
                              "error_type": etype, "span_id": span_id})  # fmt: skip
            continue
        if first is None:
            first = row
    if first is None:
        return Origin(None, None, None, None, None, None, recovered, [])
    eid, workflow, step, _a, _s, _st, _e, span_id, _p, etype, emsg = first
    path = [step]
    current: str | None = eid
    while current is not None and current in executions:
        path.insert(0, executions[current]["workflow"])
        current = executions[current]["parent"]
    return Origin(step, eid, workflow, span_id, etype, emsg, recovered, path)
