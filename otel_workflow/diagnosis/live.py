"""The hook-path side of the diagnosis: the latest failures' frames, locals and context.

:class:`DiagnosisHook` is an ``on_error``-only hook: it runs on failures only, while the
span still records.  It keeps what only the live call knows — the failing frames' locals
(captured, bounded, scrubbed), the call's arguments, the workflow, step, execution and
attempt — in a small bounded map keyed by the exception and by the span id, so
``ow.diagnose(exc)`` right after a failure, and the recording processor's writer, can
attach them.  A rule's callable fingerprint is computed here (it needs the exception
object) and put on the span as ``workflow.error.fingerprint``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from otel_workflow._guard import report_internal_error
from otel_workflow.capture import capture_arguments
from otel_workflow.diagnosis.rules import RULES, rule_for

if TYPE_CHECKING:
    from otel_workflow._hooks import CallInfo
    from otel_workflow.frames import FrameSnapshot

FINGERPRINT_ATTRIBUTE = "workflow.error.fingerprint"
"""Span attribute that overrides an error's fingerprint (set by a rule or by the user)."""

MAX_LIVE = 256
"""Failures kept in memory (the newest)."""


@dataclass
class LiveFailure:
    """What the hook saw of one failed call."""

    exc_id: int
    span_id: str | None
    trace_id: str | None
    frames: list[FrameSnapshot]
    context: dict[str, Any]
    fingerprint_override: str | None = None
    ts: float = field(default_factory=time.time)


class LiveFailures:
    """A bounded, thread-safe map of the latest failures (by exception id and span id)."""

    def __init__(self, limit: int = MAX_LIVE) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._by_exc: OrderedDict[int, LiveFailure] = OrderedDict()
        self._by_span: dict[str, LiveFailure] = {}
        self._exc_refs: dict[int, BaseException] = {}

    def add(self, exc: BaseException, failure: LiveFailure) -> None:
        with self._lock:
            if failure.span_id:
                self._by_span[failure.span_id] = failure
            # The innermost call sees an exception first; an enclosing workflow that sees
            # the same object again has less specific context, so the first view is kept.
            if failure.exc_id not in self._by_exc or self._exc_refs.get(failure.exc_id) is not exc:
                self._by_exc[failure.exc_id] = failure
                # Holding the exception keeps its id() unique while the entry lives.
                self._exc_refs[failure.exc_id] = exc
            while len(self._by_exc) > self._limit:
                exc_id, _dropped = self._by_exc.popitem(last=False)
                self._exc_refs.pop(exc_id, None)
            while len(self._by_span) > self._limit:
                self._by_span.pop(next(iter(self._by_span)))

    def for_exception(self, exc: BaseException) -> LiveFailure | None:
        with self._lock:
            failure = self._by_exc.get(id(exc))
            if failure is not None and self._exc_refs.get(id(exc)) is exc:
                return failure
            return None

    def for_span(self, span_id: str) -> LiveFailure | None:
        with self._lock:
            return self._by_span.get(span_id)

    def clear(self) -> None:
        with self._lock:
            self._by_exc.clear()
            self._by_span.clear()
            self._exc_refs.clear()


LIVE = LiveFailures()
"""The process's map of recent failures."""


def _span_ids(span: Any) -> tuple[str | None, str | None]:
    if span is None:
        return None, None
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None, None
    return f"{ctx.span_id:016x}", f"{ctx.trace_id:032x}"


def rule_fingerprint(exc: BaseException) -> str | None:
    """The string a matching rule's callable fingerprint gives for ``exc``, if any."""
    if not RULES:
        return None
    rule = rule_for(exc)
    if rule is None or rule.fingerprint is None or not callable(rule.fingerprint):
        return None
    try:
        return str(rule.fingerprint(exc))[:256]
    except Exception as internal:  # the user's callable failed: default grouping
        report_internal_error("diagnosis.rule", internal)
        return None


class DiagnosisHook:
    """An ``on_error`` hook: register it with ``ow.register_hook(DiagnosisHook())``."""

    def __init__(self, failures: LiveFailures = LIVE) -> None:
        self.failures = failures

    def on_error(self, call: CallInfo, exc: BaseException) -> None:
        span_id, trace_id = _span_ids(call.span)
        try:
            arguments = capture_arguments(call.arguments()).data
        except Exception:  # unbindable arguments: the context goes without them
            arguments = None
        context = {
            "kind": call.kind, "workflow": call.workflow or None,
            "step": None if call.is_workflow else call.name,
            "execution_id": call.execution_id, "attempt": call.attempt,
            "arguments": arguments, "trace_id": trace_id, "span_id": span_id,
            "call_path": [c.name for c in call.stack()],
        }  # fmt: skip
        override = rule_fingerprint(exc)
        if override is not None and call.span is not None and call.span.is_recording():
            call.span.set_attribute(FINGERPRINT_ATTRIBUTE, override)
        self.failures.add(exc, LiveFailure(
            exc_id=id(exc), span_id=span_id, trace_id=trace_id,
            frames=call.error_frames(exc), context=context, fingerprint_override=override,
        ))  # fmt: skip
