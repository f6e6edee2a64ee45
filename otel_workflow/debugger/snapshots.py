"""Snapshots of an execution's state, and their structured diff.

A snapshot holds captured data only (bounded, scrubbed by :func:`otel_workflow.capture`):
the workflow's input, each finished step's output as far as the debugger saw it, and the
variables at the step boundary where it was taken.  ``writers`` names, for each top-level
path, the step that wrote it, so a diff can say which step changed what.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from otel_workflow.capture import CaptureLimits

SNAPSHOT_LIMITS = CaptureLimits(max_string=256, max_depth=5, max_items=25, max_total=32_768)
"""Google's snapshot debugger's bounds: values 256 chars, 25 items, depth 5, 32 KB."""


@dataclass
class Snapshot:
    """A stored copy of an execution's state at one step boundary."""

    execution_id: str
    workflow: str
    step: str
    step_index: int | None
    state: dict[str, Any]
    writers: dict[str, str] = field(default_factory=dict)
    breakpoint_id: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    ts: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "execution_id": self.execution_id, "workflow": self.workflow,
            "step": self.step, "step_index": self.step_index, "state": self.state,
            "writers": self.writers, "breakpoint_id": self.breakpoint_id, "ts": self.ts,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        return cls(
            execution_id=data["execution_id"], workflow=data.get("workflow") or "",
            step=data.get("step") or "", step_index=data.get("step_index"),
            state=data.get("state") or {}, writers=data.get("writers") or {},
            breakpoint_id=data.get("breakpoint_id"), id=data["id"], ts=data["ts"],
        )  # fmt: skip


@dataclass(frozen=True)
class Change:
    """One path that differs between two snapshots."""

    path: str
    kind: str  # added | removed | changed
    before: Any
    after: Any
    step: str | None  # the step that wrote the newer value (or removed it)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf values by path: ``steps.charge.total``, ``input.order.items[0]``."""
    out: dict[str, Any] = {}
    if isinstance(value, dict) and value:
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list) and value:
        for n, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{n}]"))
    else:
        out[prefix] = value
    return out


def _writer(path: str, writers: dict[str, str]) -> str | None:
    best: str | None = None
    best_len = -1
    for prefix, step in writers.items():
        if (path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")) \
                and len(prefix) > best_len:  # fmt: skip
            best, best_len = step, len(prefix)
    return best


def compare(a: Snapshot, b: Snapshot) -> list[Change]:
    """Paths added, removed and changed from ``a`` to ``b``, each with the step that wrote it."""
    flat_a, flat_b = flatten(a.state), flatten(b.state)
    changes = []
    for path in sorted(flat_a.keys() | flat_b.keys()):
        if path not in flat_a:
            changes.append(Change(path, "added", None, flat_b[path], _writer(path, b.writers)))
        elif path not in flat_b:
            changes.append(Change(path, "removed", flat_a[path], None, _writer(path, a.writers)))
        elif flat_a[path] != flat_b[path]:
            changes.append(Change(path, "changed", flat_a[path], flat_b[path],
                                  _writer(path, b.writers)))  # fmt: skip
    return changes
