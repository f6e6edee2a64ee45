"""Breakpoints: what they match, and bdb's hit semantics at the level of workflows and steps.

A breakpoint matches a step by name (optionally only inside one workflow), a workflow
execution by workflow name, or any span (from any instrumentation) by a name glob plus
attribute values.  Every reach of an enabled breakpoint counts a hit first; then, as in
CPython's ``bdb.effective``:

- a condition that is false ends there (no stop, the ignore count untouched);
- a condition that *raises* stops (reported once; a temporary breakpoint is kept);
- the ignore count is spent only by hits whose condition is true (or that have none);
- the hit condition, in the Debug Adapter Protocol's syntax (``5``/``==5``, ``>5``,
  ``>=5``, ``<5``, ``<=5``, ``%5``), is tested against the hit count;
- a temporary breakpoint is removed at its first stop; a hit limit disables the
  breakpoint when the hit count reaches it.
"""

from __future__ import annotations

import fnmatch
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_workflow.debugger.expressions import (
    EvaluationError,
    Expression,
    Template,
    compile_expression,
    compile_template,
)

ACTIONS = ("pause", "snapshot", "log")
DEFAULT_RATE = 1.0
"""Snapshot and log breakpoints act at most this many times per second (Datadog: 1/s)."""
DEFAULT_TTL = 24 * 3600.0
"""Snapshot and log breakpoints disable themselves after this many seconds (Google: 24 h)."""

_HIT_CONDITION = re.compile(r"^\s*(==|>=|<=|>|<|%)?\s*(\d+)\s*$")
_GLOB = re.compile(r"[*?\[]")


def parse_hit_condition(text: str) -> Callable[[int], bool]:
    """DAP hit condition syntax to a test of the hit count; raises ValueError when malformed.

    >>> parse_hit_condition(">=3")(2), parse_hit_condition("%2")(4)
    (False, True)
    """
    match = _HIT_CONDITION.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"hit_condition {text!r} is not one of N, ==N, >N, >=N, <N, <=N, %N")
    op, number = match.group(1) or "==", int(match.group(2))
    if op == "%" and number == 0:
        raise ValueError("hit_condition '%0' divides by zero")
    tests: dict[str, Callable[[int], bool]] = {
        "==": lambda n: n == number, ">": lambda n: n > number, ">=": lambda n: n >= number,
        "<": lambda n: n < number, "<=": lambda n: n <= number, "%": lambda n: n % number == 0,
    }  # fmt: skip
    return tests[op]


@dataclass
class Breakpoint:
    """One breakpoint.  Create them with :meth:`WorkflowDebugger.set_breakpoint`."""

    step: str | None = None
    workflow: str | None = None
    span: str | None = None  # a name glob for spans of any instrumentation
    attributes: dict[str, Any] = field(default_factory=dict)
    condition: str | None = None
    hit_condition: str | None = None
    ignore_count: int = 0
    temporary: bool = False
    action: str = "pause"
    message: str | None = None  # the log template of a "log" breakpoint
    hit_limit: int | None = None
    rate_limit: float = DEFAULT_RATE
    ttl: float | None = DEFAULT_TTL
    enabled: bool = True
    hit_count: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    created_at: float = field(default_factory=time.time)
    disabled_reason: str | None = None
    condition_error: str | None = None
    # compiled forms, set by validate()
    _condition: Expression | None = field(default=None, repr=False, compare=False)
    _hit_test: Callable[[int], bool] | None = field(default=None, repr=False, compare=False)
    _template: Template | None = field(default=None, repr=False, compare=False)
    _last_action: float = field(default=0.0, repr=False, compare=False)
    # The ignore count last written to / read from the store: a reload keeps this
    # process's consumed count unless another process changed the stored one.
    _stored_ignore: int = field(default=-1, repr=False, compare=False)

    def validate(self) -> Breakpoint:
        """Check every option and compile the expressions; raises TypeError/ValueError."""
        if self.step is None and self.workflow is None and self.span is None:
            raise ValueError("a breakpoint needs step=, workflow= or span=")
        for name in ("step", "workflow", "span", "condition", "hit_condition", "message"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"breakpoint {name} must be a str, got {type(value).__name__}")
        if self.action not in ACTIONS:
            raise ValueError(f"breakpoint action must be one of {ACTIONS}, got {self.action!r}")
        if not isinstance(self.attributes, Mapping):
            raise TypeError("breakpoint attributes must be a mapping of attribute values")
        for name in ("ignore_count", "hit_limit"):
            value = getattr(self, name)
            if value is None and name == "hit_limit":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"breakpoint {name} must be an int >= 0, got {value!r}")
        if not isinstance(self.rate_limit, (int, float)) or self.rate_limit <= 0:
            raise ValueError(
                f"breakpoint rate_limit must be > 0 per second, got {self.rate_limit!r}"
            )
        if self.ttl is not None and (not isinstance(self.ttl, (int, float)) or self.ttl <= 0):
            raise ValueError(f"breakpoint ttl must be > 0 seconds or None, got {self.ttl!r}")
        self._condition = compile_expression(self.condition) if self.condition else None
        self._hit_test = parse_hit_condition(self.hit_condition) if self.hit_condition else None
        if self.action == "log":
            if not self.message:
                raise ValueError("a log breakpoint needs message= (a template like 'total={x}')")
            self._template = compile_template(self.message)
        return self

    # -- matching ---------------------------------------------------------------------
    @property
    def is_span_breakpoint(self) -> bool:
        return self.span is not None

    def keys(self) -> tuple[str, ...]:
        """The call names this breakpoint is indexed under (empty: matched by glob)."""
        target = self.step if self.step is not None else self.workflow
        if self.span is not None or target is None or _GLOB.search(target):
            return ()
        return (target,)

    def matches_call(self, kind: str, name: str, workflow: str) -> bool:
        if self.span is not None:
            return False
        if self.step is not None:
            return (
                kind == "step"
                and fnmatch.fnmatchcase(name, self.step)
                and (self.workflow is None or fnmatch.fnmatchcase(workflow, self.workflow))
            )
        return kind == "workflow" and fnmatch.fnmatchcase(name, self.workflow or "")

    def matches_span(self, name: str, attributes: Mapping[str, Any]) -> bool:
        if self.span is None or not fnmatch.fnmatchcase(name, self.span):
            return False
        return all(str(attributes.get(k)) == str(v) for k, v in self.attributes.items())

    # -- persistence ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "step": self.step, "workflow": self.workflow, "span": self.span,
            "attributes": dict(self.attributes), "condition": self.condition,
            "hit_condition": self.hit_condition, "ignore_count": self.ignore_count,
            "temporary": self.temporary, "action": self.action, "message": self.message,
            "hit_limit": self.hit_limit, "rate_limit": self.rate_limit, "ttl": self.ttl,
            "enabled": self.enabled, "hit_count": self.hit_count,
            "created_at": self.created_at, "disabled_reason": self.disabled_reason,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Breakpoint:
        known = {k: v for k, v in data.items() if k in _FIELDS}
        return cls(**known).validate()

    def where(self) -> str:
        """What it matches: ``step charge in checkout``, ``workflow checkout``, ``span s``."""
        if self.span:
            return f"span {self.span}"
        if self.step:
            return f"step {self.step}" + (f" in {self.workflow}" if self.workflow else "")
        return f"workflow {self.workflow}"

    def conditions(self) -> str:
        """Its condition and hit condition (``if total > 3 hits >=2``; empty when none)."""
        extra = [f"if {self.condition}"] if self.condition else []
        if self.hit_condition:
            extra.append(f"hits {self.hit_condition}")
        return " ".join(extra)

    def state(self) -> str:
        return "enabled" if self.enabled else f"disabled ({self.disabled_reason or 'by user'})"

    def describe(self) -> str:
        return (
            f"{self.id} {self.action} at {self.where()} {self.conditions()} "
            f"[{self.state()}, {self.hit_count} hits]"
        )


_FIELDS = frozenset(Breakpoint.to_dict(Breakpoint(step="x")).keys())


@dataclass(frozen=True)
class Decision:
    """What one hit of a breakpoint decided."""

    stop: bool
    delete: bool = False  # a temporary breakpoint's first stop
    disable: str | None = None  # why the breakpoint disables itself now
    condition_error: str | None = None  # first failure of its condition, to report


_NO = Decision(False)


class HitCounter:
    """Applies bdb's rules to a breakpoint, thread-safely (one lock for all breakpoints)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def hit(self, bp: Breakpoint, namespace: Callable[[], Mapping[str, Any]]) -> Decision:
        """Count a hit and decide; ``namespace`` builds the captured data only if needed."""
        with self._lock:
            if not bp.enabled:
                return _NO
            bp.hit_count += 1
            hits = bp.hit_count
        error = None
        if bp._condition is not None:
            try:
                ok = bool(bp._condition.evaluate(namespace()))
            except EvaluationError as exc:
                ok = True  # bdb: a condition that raises stops
                error = str(exc)
            if not ok:
                return self._limit(bp, hits, False, None)
        if error is not None:
            # bdb: stop at once, spend no ignore count, keep a temporary breakpoint.
            with self._lock:
                first = bp.condition_error is None
                bp.condition_error = error
            return self._limit(bp, hits, True, error if first else None)
        with self._lock:
            if bp.ignore_count > 0:
                bp.ignore_count -= 1
                return self._limit(bp, hits, False, None)
        if bp._hit_test is not None and not bp._hit_test(hits):
            return self._limit(bp, hits, False, None)
        return self._limit(bp, hits, True, None, delete=bp.temporary)

    def _limit(
        self, bp: Breakpoint, hits: int, stop: bool, error: str | None, *, delete: bool = False
    ) -> Decision:
        disable = None
        if bp.hit_limit is not None and hits >= bp.hit_limit:
            disable = f"hit limit {bp.hit_limit} reached"
        elif bp.action != "pause" and bp.ttl is not None and time.time() - bp.created_at > bp.ttl:
            disable, stop = f"time to live of {bp.ttl:g}s expired", False
        if stop and bp.action != "pause":
            # Non-breaking actions are rate limited per breakpoint.
            now = time.monotonic()
            with self._lock:
                if now - bp._last_action < 1.0 / bp.rate_limit:
                    stop = False
                else:
                    bp._last_action = now
        if not stop and disable is None and error is None:
            return _NO
        return Decision(stop, delete and stop, disable, error)
