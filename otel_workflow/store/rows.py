"""From finished spans to store rows (in the column order of :mod:`.columns`).

Only spans carrying ``workflow.span.kind`` (``workflow`` or ``step``) become rows; other
spans are skipped.  A failed span's exception comes from its (last) ``exception`` event,
whoever recorded it (our decorators or any other instrumentation calling
``span.record_exception``); without one, ``error.type`` is the type.

Bounds, so one odd span cannot bloat the store: exception message
:data:`MAX_MESSAGE_CHARS`, stack trace :data:`MAX_STACKTRACE_CHARS` (the end is kept:
the innermost frames and the exception line), status description
:data:`MAX_MESSAGE_CHARS`; events: the last :data:`MAX_EVENTS`, each attribute value cut
to :data:`MAX_EVENT_VALUE_CHARS`, at most :data:`MAX_EVENTS_CHARS` of JSON in all, with
``{"dropped": n}`` appended when some were left out.  The ``exception`` event's stack
trace is not repeated in ``events`` (it has its own column).

The stored duration excludes time spent paused in a debugger hook (the span attribute
``workflow.pause.duration``, seconds).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from otel_workflow import semconv
from otel_workflow.scrub import scrub_attributes, scrub_text

MAX_MESSAGE_CHARS = 4096
MAX_STACKTRACE_CHARS = 16384
MAX_EVENTS = 32
MAX_EVENT_VALUE_CHARS = 512
MAX_EVENTS_CHARS = 16384

_EXECUTION_KEYS = frozenset(
    {
        semconv.WORKFLOW_SPAN_KIND,
        semconv.WORKFLOW_NAME,
        semconv.WORKFLOW_TYPE,
        semconv.WORKFLOW_VERSION,
        semconv.WORKFLOW_EXECUTION_ID,
        semconv.WORKFLOW_PARENT_EXECUTION_ID,
        semconv.WORKFLOW_STATUS,
        semconv.ERROR_TYPE,
        semconv.ERROR_CATEGORY,
        semconv.USER_ID,
        semconv.SESSION_ID,
    }
)
_STEP_KEYS = _EXECUTION_KEYS | {
    semconv.STEP_NAME,
    semconv.STEP_INDEX,
    semconv.STEP_ATTEMPT,
    semconv.STEP_CPU_TIME,
}


class SpanRecord(NamedTuple):
    """What the store keeps of a finished span until it is written (cheap to take)."""

    name: str
    attributes: Mapping[str, Any]
    trace_id: int
    span_id: int
    parent_span_id: int | None
    start_ns: int
    end_ns: int
    failed: bool
    status_description: str | None
    events: Sequence[Any]


_RECORD = functools.partial(tuple.__new__, SpanRecord)


def attribute_dict(span: ReadableSpan) -> Mapping[str, Any]:
    """The span's attributes, read without copying when possible."""
    # The public view (a mappingproxy over BoundedAttributes) costs a Python-level call
    # per key, a third of the writer's time; a finished span's attributes are frozen,
    # so its backing dict is read directly when the SDK has one, else the view is copied.
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(inner) is dict:
        return inner
    raw = span.attributes
    return dict(raw) if raw else {}


def record(span: ReadableSpan) -> SpanRecord | None:
    """The record of a workflow or step span; None for any other span."""
    try:
        # The SDK's own fields, read directly: on_end runs on the caller's thread for every
        # span, and the public properties cost a Python call each (events: a tuple copy).
        attrs = span._attributes._dict  # type: ignore[union-attr]
        if type(attrs) is not dict:
            raise AttributeError("_dict")
        if semconv.WORKFLOW_SPAN_KIND not in attrs:
            return None
        name, ctx, parent, status = span._name, span._context, span._parent, span._status
        events, start, end = span._events, span._start_time, span._end_time
    except AttributeError:
        # Another ReadableSpan implementation: the public (slower) way.
        attrs = attribute_dict(span)
        if semconv.WORKFLOW_SPAN_KIND not in attrs:
            return None
        name, ctx, parent, status = span.name, span.context, span.parent, span.status
        events, start, end = span.events, span.start_time, span.end_time
    start = start or 0
    return _RECORD(
        (
            name,
            attrs,
            ctx.trace_id if ctx is not None else 0,
            ctx.span_id if ctx is not None else 0,
            parent.span_id if parent is not None else None,
            start,
            end or start,
            status.status_code is StatusCode.ERROR,
            status.description,
            tuple(events) if events else (),
        )
    )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _opt_float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _cut(text: Any, limit: int, *, keep_end: bool = False) -> str | None:
    if text is None:
        return None
    value = str(text)
    if len(value) <= limit:
        return value
    marker = "…"
    return marker + value[-(limit - 1) :] if keep_end else value[: limit - 1] + marker


_CAPTURED = frozenset({semconv.CAPTURE_INPUT, semconv.CAPTURE_OUTPUT})
MAX_ATTRIBUTE_CHARS = 1024
"""Longest string value of an extra attribute kept (captured values have their own bound)."""

# Extra attributes repeat from span to span (code.* of the same function, a few custom
# keys), so their JSON text is cached by content; bounded so odd values cannot grow it.
_EXTRAS_CACHE: dict[tuple[tuple[str, Any], ...], str] = {}
_EXTRAS_CACHE_LIMIT = 4096


def _extras(attributes: Mapping[str, Any], known: frozenset[str]) -> str | None:
    extra = [(k, v) for k, v in attributes.items() if k not in known]
    if not extra:
        return None
    key = tuple(extra)
    try:
        return _EXTRAS_CACHE[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable value: no caching
        key = ()
    # Scrubbed here too: a span's attributes may come from anyone's set_attribute, not only
    # through ow.attributes (scrubbed at the source); captured values are scrubbed already.
    captured = {k: v for k, v in extra if k in _CAPTURED}
    cleaned = {**scrub_attributes({k: v for k, v in extra if k not in _CAPTURED},
                                  MAX_ATTRIBUTE_CHARS), **captured}  # fmt: skip
    text = json.dumps(
        {k: (list(v) if isinstance(v, tuple) else v) for k, v in cleaned.items()},
        sort_keys=True,
    )
    if key and len(_EXTRAS_CACHE) < _EXTRAS_CACHE_LIMIT:
        _EXTRAS_CACHE[key] = text
    return text


def _scrubbed(text: str | None) -> str | None:
    # Already cut to its bound, so scrub_text's own cut never shortens it further.  An
    # empty text (an exception raised without a message) has nothing to scrub.
    return text if not text else scrub_text(text, len(text))


def _event_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value, MAX_EVENT_VALUE_CHARS)  # cut first, then scrubbed
    if isinstance(value, (tuple, list)):
        return [_event_value(v) for v in value[:MAX_EVENTS]]
    return value


def _events_json(events: Sequence[Any]) -> str | None:
    if not events:
        return None
    kept = list(events)[-MAX_EVENTS:]
    dropped = len(events) - len(kept)
    out: list[dict[str, Any]] = []
    size = 2
    for event in kept:
        attrs = {
            k: _event_value(v)
            for k, v in (event.attributes or {}).items()
            if k != semconv.EXCEPTION_STACKTRACE
        }
        item = {"name": event.name, "time_ns": event.timestamp, "attributes": attrs}
        text = json.dumps(item, sort_keys=True, default=str)
        if size + len(text) + 1 > MAX_EVENTS_CHARS:
            dropped += len(kept) - len(out)
            break
        size += len(text) + 1
        out.append(item)
    if dropped:
        out.append({"dropped": dropped})
    return json.dumps(out, sort_keys=True, default=str)


def _exception(
    events: Sequence[Any],
) -> tuple[str | None, str | None, str | None]:
    for event in reversed(events):
        if event.name == semconv.EXCEPTION_EVENT:
            attrs = event.attributes or {}
            # Recorded by anyone (another instrumentation's record_exception too): bounded,
            # then scrubbed of secrets by shape.
            return (
                _opt_str(attrs.get(semconv.EXCEPTION_TYPE)),
                _scrubbed(_cut(attrs.get(semconv.EXCEPTION_MESSAGE), MAX_MESSAGE_CHARS)),
                _scrubbed(_cut(attrs.get(semconv.EXCEPTION_STACKTRACE), MAX_STACKTRACE_CHARS,
                               keep_end=True)),
            )  # fmt: skip
    return None, None, None


def _status(attrs: Mapping[str, Any], rec: SpanRecord) -> str:
    status = attrs.get(semconv.WORKFLOW_STATUS)
    if status is not None:
        return str(status)
    # A span from another producer without workflow.status: fall back to the span status.
    return semconv.STATUS_ERROR if rec.failed else semconv.STATUS_OK


def _duration(attrs: Mapping[str, Any], start: int, end: int) -> float:
    seconds = (end - start) / 1e9
    paused = attrs.get(semconv.WORKFLOW_PAUSE_DURATION)
    if paused is None:
        return seconds
    try:
        pause = float(paused)
    except (TypeError, ValueError):
        return seconds
    # A pause longer than the span (clock skew, a bad value) never makes it negative.
    return max(seconds - pause, 0.0) if pause > 0 else seconds


Row = tuple[Any, ...]


def rows(records: Iterable[SpanRecord]) -> tuple[list[Row], list[Row]]:
    """(executions, steps) rows, each in :func:`~.columns.insert_columns` order.

    Built positionally for speed; tests/store checks every column by name.
    """
    executions: list[Row] = []
    steps: list[Row] = []
    for rec in records:
        attrs = rec.attributes
        kind = attrs.get(semconv.WORKFLOW_SPAN_KIND)
        start, end = rec.start_ns, rec.end_ns
        status = _status(attrs, rec)
        failed = status != semconv.STATUS_OK or rec.failed
        error_type = _opt_str(attrs.get(semconv.ERROR_TYPE))
        if failed:
            exc_type, message, stack = _exception(rec.events)
            exc_type = exc_type or error_type
            description = _scrubbed(_cut(rec.status_description, MAX_MESSAGE_CHARS))
        else:
            exc_type = message = stack = description = None
        ids = (
            format(rec.trace_id, "032x"),
            format(rec.span_id, "016x"),
            format(rec.parent_span_id, "016x") if rec.parent_span_id is not None else None,
            _opt_str(attrs.get(semconv.WORKFLOW_EXECUTION_ID)),
        )
        # Status to duration: the same columns in the same order in both tables.
        outcome = (
            status,
            error_type,
            _opt_str(attrs.get(semconv.ERROR_CATEGORY)),
            _opt_str(attrs.get(semconv.USER_ID)),
            _opt_str(attrs.get(semconv.SESSION_ID)),
            start,
            end,
            _duration(attrs, start, end),
        )
        failure = (description, exc_type, message, stack, _events_json(rec.events))
        if kind == semconv.SPAN_KIND_WORKFLOW:
            executions.append(
                (
                    *ids,
                    _opt_str(attrs.get(semconv.WORKFLOW_PARENT_EXECUTION_ID)),
                    str(attrs.get(semconv.WORKFLOW_NAME) or rec.name),
                    str(attrs.get(semconv.WORKFLOW_TYPE) or ""),
                    _opt_str(attrs.get(semconv.WORKFLOW_VERSION)),
                    *outcome,
                    _extras(attrs, _EXECUTION_KEYS),
                    *failure,
                )
            )
        elif kind == semconv.SPAN_KIND_STEP:
            steps.append(
                (
                    *ids,
                    str(attrs.get(semconv.WORKFLOW_NAME) or ""),
                    str(attrs.get(semconv.STEP_NAME) or rec.name),
                    _opt_int(attrs.get(semconv.STEP_INDEX)),
                    _opt_int(attrs.get(semconv.STEP_ATTEMPT)),
                    *outcome,
                    _opt_float(attrs.get(semconv.STEP_CPU_TIME)),
                    _extras(attrs, _STEP_KEYS),
                    *failure,
                )
            )
    return executions, steps



__all__ = [
    "MAX_EVENTS",
    "MAX_EVENTS_CHARS",
    "MAX_EVENT_VALUE_CHARS",
    "MAX_MESSAGE_CHARS",
    "MAX_STACKTRACE_CHARS",
    "Row",
    "SpanRecord",
    "attribute_dict",
    "record",
    "rows",
]
