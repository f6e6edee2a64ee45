"""Recording failures: a SpanProcessor that hands failed spans to a background writer.

``on_end`` runs on the caller's thread, so it does one status check for a successful
span and, for a failed one, appends it to a bounded queue; a daemon thread turns queued
spans into occurrences (fingerprint, category, sample with the live locals when the hook
saw the failure) and writes them to the store's diagnosis tables.  Spans that the sampler
did not sample are recording (RECORD_ONLY) and reach ``on_end`` too.

A failure propagating from a span to its parent (a library's span inside a step, a step
inside its workflow) is one occurrence: the parent's failure with the same type and
message is recognised by the child's parent span id, and the occurrence takes the step's
name when it was first recorded from a library's span.  Each retried attempt is a span of
its own, so it is an occurrence of its own, in the same group.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import replace
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from otel_workflow import semconv
from otel_workflow._guard import report_internal_error
from otel_workflow.diagnosis.categories import classify_record
from otel_workflow.diagnosis.fingerprint import default_components, fingerprint, template
from otel_workflow.diagnosis.history import Occurrence, open_writer, reattribute, write_occurrences
from otel_workflow.diagnosis.live import FINGERPRINT_ATTRIBUTE, LIVE, LiveFailures
from otel_workflow.diagnosis.model import ErrorInfo, ExceptionEntry, Frame
from otel_workflow.diagnosis.rules import RULES, rule_for_name
from otel_workflow.diagnosis.tracebacks import parse_stacktrace
from otel_workflow.store.connection import StorePath

COMPONENT = "diagnosis.recorder"
DEFAULT_MAX_QUEUE = 10_000
_PROPAGATION_MEMORY = 4096


def error_info_from_event(attrs: Any, fallback_type: str, fallback_message: str) -> ErrorInfo:
    """An :class:`ErrorInfo` from ``exception.*`` attributes (a span event, a log record)."""
    type_name = str(attrs.get(semconv.EXCEPTION_TYPE) or fallback_type or "Exception")
    message = str(attrs.get(semconv.EXCEPTION_MESSAGE) or fallback_message or "")
    stack = attrs.get(semconv.EXCEPTION_STACKTRACE)
    if stack:
        return parse_stacktrace(str(stack), type_name, message)
    return ErrorInfo((ExceptionEntry(type_name, message),))


def error_info_from_span(span: ReadableSpan) -> ErrorInfo:
    """The failure a finished span records (its last ``exception`` event, else its status)."""
    attrs = span.attributes or {}
    for event in reversed(span.events or ()):
        if event.name == semconv.EXCEPTION_EVENT:
            return error_info_from_event(event.attributes or {}, "", "")
    description = (span.status.description or "") if span.status else ""
    type_name = str(attrs.get(semconv.ERROR_TYPE) or "")
    if not type_name and ": " in description:
        type_name, _, description = description.partition(": ")
    return ErrorInfo((ExceptionEntry(type_name or "Error", description),))


def merge_locals(info: ErrorInfo, frames: list[Any]) -> ErrorInfo:
    """``info`` with the hook's captured locals put on the matching frames of the top entry."""
    by_place = {(f.filename, f.lineno, f.function): f.locals for f in frames}
    top = info.top
    merged = tuple(
        replace(fr, locals=by_place.get((fr.filename, fr.lineno, fr.function), fr.locals))
        for fr in top.frames
    )
    if not top.frames and frames:  # no stack text (bounded away): the live frames stand in
        from otel_workflow.diagnosis.tracebacks import module_from_path

        merged = tuple(Frame(f.filename, f.lineno, f.function, module_from_path(f.filename),
                             f.source_line, f.in_app, f.locals) for f in frames)  # fmt: skip
    return ErrorInfo((replace(top, frames=merged), *info.chain[1:]), info.stacktrace)


def override_for(info: ErrorInfo, attrs: Any) -> str | tuple[str, ...] | None:
    """A fingerprint override: the span's attribute, else a matching rule's string/list."""
    value = attrs.get(FINGERPRINT_ATTRIBUTE) if attrs else None
    if isinstance(value, str) and value:
        return value
    if RULES:
        rule = rule_for_name(info.type_name)
        spec = rule.fingerprint if rule is not None else None
        if isinstance(spec, str):
            return spec
        if isinstance(spec, tuple):
            return spec
    return None


def sample_of(info: ErrorInfo, context: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "message": info.message[:2048],
        "chain": [e.to_dict() for e in info.chain],
        "context": context or {},
    }


def occurrence_from_span(span: ReadableSpan, live: LiveFailures = LIVE) -> Occurrence:
    """What a failed span contributes to the history (pure: no store access)."""
    attrs = span.attributes or {}
    ctx = span.get_span_context()
    span_id = f"{ctx.span_id:016x}" if ctx is not None else None
    trace_id = f"{ctx.trace_id:032x}" if ctx is not None else None
    info = error_info_from_span(span)
    failure = live.for_span(span_id) if span_id else None
    if failure is not None:
        info = merge_locals(info, failure.frames)
    verdict = classify_record(info.type_name, info.message, info.causes())
    category = str(attrs.get(semconv.ERROR_CATEGORY) or verdict.category.value)
    kind = attrs.get(semconv.WORKFLOW_SPAN_KIND)
    is_step = kind == semconv.SPAN_KIND_STEP
    step = str(attrs.get(semconv.STEP_NAME) or span.name) if is_step else None
    workflow = attrs.get(semconv.WORKFLOW_NAME)
    if workflow is None and kind == semconv.SPAN_KIND_WORKFLOW:
        workflow = span.name
    attempt = attrs.get(semconv.STEP_ATTEMPT)
    root = info.root_frame()
    context = dict(failure.context) if failure is not None else {}
    override = override_for(info, attrs)
    return Occurrence(
        fingerprint=fingerprint(info, override), ts_ns=int(span.end_time or time.time_ns()),
        type_name=info.type_name, template=template(info), category=category,
        retryable=verdict.retryable, trace_id=trace_id, span_id=span_id,
        execution_id=_opt(attrs.get(semconv.WORKFLOW_EXECUTION_ID)),
        workflow=_opt(workflow), step=step,
        attempt=int(attempt) if isinstance(attempt, int) else None,
        message=info.message, root_frame=(f"{root.module}.{root.function}: {root.source_line}"
                                         if root is not None else None),
        components=default_components(info), sample=sample_of(info, context),
    )  # fmt: skip


def _opt(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


_ERROR = StatusCode.ERROR


class DiagnosisSpanProcessor(SpanProcessor):
    """Record every failed span into the store's diagnosis tables, off the caller's thread.

    >>> provider.add_span_processor(DiagnosisSpanProcessor("otel-workflow.db"))  # doctest: +SKIP
    """

    def __init__(self, store: StorePath, *, max_queue_size: int = DEFAULT_MAX_QUEUE,
                 live: LiveFailures = LIVE) -> None:  # fmt: skip
        if isinstance(max_queue_size, bool) or not isinstance(max_queue_size, int) or max_queue_size <= 0:  # noqa: E501
            raise ValueError(f"max_queue_size must be a positive int, got {max_queue_size!r}")
        # Opened here so a corrupt or newer store is refused now, with the store's message.
        self._conn = open_writer(store)
        self.store_path = str(store)
        self._live = live
        self._max_queue = max_queue_size
        self._queue: deque[ReadableSpan] = deque()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stopped = False
        self.dropped = 0
        self.recorded = 0
        # (trace id, span id the failure will reach next, type, message) -> where recorded
        self._propagation: OrderedDict[tuple[str, str, str, str], tuple[int, bool]] = OrderedDict()
        self._thread = threading.Thread(target=self._run, name="otel-workflow-diagnosis",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    # --- SpanProcessor: the caller's thread -----------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        # Every span of the process passes here: a success must cost next to nothing.
        # The SDK span's own fields are read directly (the public properties copy and
        # lock), and a span with no events cannot be a retried failure.
        try:
            code = span._status.status_code
            events = span._events
        except AttributeError:  # another SDK's ReadableSpan
            code = span.status.status_code
            events = span.events
        if code is not _ERROR:
            if not events:
                return
            # A retried attempt failed too, but leaves the span status unset (the call
            # goes on): the step machine marks it workflow.status="retried".
            attrs = span.attributes
            if not attrs or attrs.get(semconv.WORKFLOW_STATUS) != semconv.STATUS_RETRIED:
                return
        if self._stopped:
            return
        if len(self._queue) >= self._max_queue:
            self.dropped += 1
            return
        self._idle.clear()
        self._queue.append(span)
        self._wake.set()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until every queued failure is written (False on timeout)."""
        self._wake.set()
        deadline = time.monotonic() + timeout_millis / 1000
        while self._queue or not self._idle.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._idle.wait(min(remaining, 0.05))
            self._wake.set()
        return True

    def shutdown(self) -> None:
        if self._stopped:
            return
        self.force_flush(5000)
        self._stopped = True
        self._wake.set()
        self._thread.join(5)
        try:
            self._conn.close()
        except Exception as exc:  # closing a connection another thread broke
            report_internal_error(COMPONENT, exc)

    # --- the writer thread ------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(0.5)
            self._wake.clear()
            batch: list[ReadableSpan] = []
            while self._queue and len(batch) < 512:
                batch.append(self._queue.popleft())
            if batch:
                try:
                    self._write(batch)
                except Exception as exc:  # the store failed: counted, the app carries on
                    report_internal_error(COMPONENT, exc)
            if not self._queue:
                self._idle.set()
            else:
                self._wake.set()

    def _write(self, batch: list[ReadableSpan]) -> None:
        fresh: list[tuple[Occurrence, tuple[str, str, str, str] | None, bool]] = []
        for span in batch:
            try:
                occ = occurrence_from_span(span, self._live)
            except Exception as exc:  # one odd span must not lose the batch
                report_internal_error(COMPONENT, exc)
                continue
            is_step = occ.step is not None
            key = (occ.trace_id or "", occ.span_id or "", occ.type_name.rsplit(".", 1)[-1],
                   occ.message[:512])  # fmt: skip
            parent = span.parent.span_id if span.parent is not None else None
            next_key = (key[0], f"{parent:016x}", key[2], key[3]) if parent else None
            seen = self._propagation.pop(key, None)
            if seen is not None:  # the failure propagated from a child span
                row_id, has_step = seen
                if is_step and not has_step:
                    if row_id < 0:
                        index = -row_id - 1
                        fresh[index] = (_attributed(fresh[index][0], occ), *fresh[index][1:])
                    else:
                        reattribute(self._conn, row_id, span_id=occ.span_id,
                                    execution_id=occ.execution_id, workflow=occ.workflow,
                                    step=occ.step, attempt=occ.attempt)  # fmt: skip
                if next_key is not None:
                    self._remember(next_key, (row_id, has_step or is_step))
                continue
            fresh.append((occ, next_key, is_step))
            if next_key is not None:
                self._remember(next_key, (-len(fresh), is_step))
        if not fresh:
            return
        ids = write_occurrences(self._conn, [f[0] for f in fresh])
        self.recorded += len(ids)
        # Pending (negative) references become row ids for the next batches.
        for key, (row_id, has_step) in list(self._propagation.items()):
            if row_id < 0 and -row_id - 1 < len(ids):
                self._propagation[key] = (ids[-row_id - 1], has_step)

    def _remember(self, key: tuple[str, str, str, str], value: tuple[int, bool]) -> None:
        self._propagation[key] = value
        while len(self._propagation) > _PROPAGATION_MEMORY:
            self._propagation.popitem(last=False)


def _attributed(first: Occurrence, step_occ: Occurrence) -> Occurrence:
    return replace(first, span_id=step_occ.span_id, execution_id=step_occ.execution_id,
                   workflow=step_occ.workflow, step=step_occ.step, attempt=step_occ.attempt,
                   sample=step_occ.sample if step_occ.sample.get("context")
                   else first.sample)  # fmt: skip
