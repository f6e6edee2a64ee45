"""``ow.diagnose``, ``ow.resolve``, ``ow.error_report`` and wiring the recorder in.

``diagnose`` accepts a live exception (category from the object, frames and locals from
the hook path or its traceback), a finished span (its ``exception`` event), or a string:
an execution id or a fingerprint found in the store.  The store adds history: frequency,
similar groups, resolutions, evidence from the step's runs and the origin of a failed
workflow.  Which store: the ``store=`` argument, else the one :func:`install` recorded
into, else ``configure(store=...)``'s, else ``OTEL_WORKFLOW_STORE``.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

from otel_workflow import semconv
from otel_workflow._durations import parse_duration
from otel_workflow.diagnosis import history
from otel_workflow.diagnosis.categories import classify, classify_record
from otel_workflow.diagnosis.evidence import step_evidence, step_p95
from otel_workflow.diagnosis.fingerprint import fingerprint, template
from otel_workflow.diagnosis.frequency import frequency
from otel_workflow.diagnosis.live import LIVE, DiagnosisHook, rule_fingerprint
from otel_workflow.diagnosis.model import Diagnosis, ErrorInfo, ExceptionEntry, Frame
from otel_workflow.diagnosis.origin import origin
from otel_workflow.diagnosis.recording import (
    DiagnosisSpanProcessor,
    error_info_from_event,
    error_info_from_span,
    merge_locals,
    override_for,
)
from otel_workflow.diagnosis.rules import RULES, rule_for, rule_for_name
from otel_workflow.diagnosis.similar import similar_groups
from otel_workflow.diagnosis.suggestions import retried_attempts, suggest
from otel_workflow.diagnosis.tracebacks import from_exception, parse_stacktrace
from otel_workflow.store.schema import StoreError

if TYPE_CHECKING:
    from otel_workflow._hooks import CallHook

_active_store: str | None = None


@dataclass
class _Base:
    info: ErrorInfo
    category: str
    retryable: bool
    detail: str
    status: int | None
    retry_after: float | None
    rule_suggestion: str | None
    context: dict[str, Any]
    fingerprint: str
    notes: list[str] = field(default_factory=list)


# --- wiring ------------------------------------------------------------------------------
@dataclass
class Installed:
    """What :func:`install` set up; :meth:`uninstall` undoes it."""

    processor: DiagnosisSpanProcessor
    hook: DiagnosisHook

    def uninstall(self) -> None:
        from otel_workflow._hooks import unregister_hook

        global _active_store
        # on_error only: a hook without before/after costs successful calls nothing more.
        unregister_hook(cast("CallHook", self.hook))
        self.processor.shutdown()
        if _active_store == self.processor.store_path:
            _active_store = None


def install(tracer_provider: TracerProvider, store: str | Path) -> Installed:
    """Record failures of ``tracer_provider``'s spans into ``store`` and register the hook.

    >>> installed = install(provider, "otel-workflow.db")  # doctest: +SKIP
    """
    from otel_workflow._hooks import register_hook

    global _active_store
    if not isinstance(tracer_provider, TracerProvider):
        raise TypeError("install: tracer_provider must be an SDK TracerProvider, got "
                        f"{type(tracer_provider).__name__}")  # fmt: skip
    processor = DiagnosisSpanProcessor(store)
    tracer_provider.add_span_processor(processor)
    hook = DiagnosisHook()
    register_hook(cast("CallHook", hook))
    _active_store = processor.store_path
    return Installed(processor, hook)


def store_path(store: str | Path | None) -> str | None:
    if store is not None:
        if not isinstance(store, (str, Path)):
            raise TypeError(f"store must be a path, got {type(store).__name__}")
        return str(store)
    if _active_store is not None:
        return _active_store
    from otel_workflow import settings
    from otel_workflow._runtime import RUNTIME

    handle = RUNTIME.telemetry  # what configure() set up, if anything
    configured = getattr(handle, "store_path", None)
    if configured:
        return str(configured)
    value = settings.STORE.get()
    return str(value) if value else None


def _window_ns(since: str | Any) -> int:
    try:
        return int(parse_duration(since).total_seconds() * 1e9)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"since: {exc}") from None


# --- the three kinds of target ------------------------------------------------------------
def _override(info: ErrorInfo, exc: BaseException | None, attrs: Any) -> Any:
    if exc is not None:
        computed = rule_fingerprint(exc)
        if computed is not None:
            return computed
    return override_for(info, attrs or {})


def _from_exception(exc: BaseException) -> _Base:
    failure = LIVE.for_exception(exc)
    info = from_exception(exc)
    if failure is not None:
        info = merge_locals(info, failure.frames)
    verdict = classify(exc)
    rule = rule_for(exc) if RULES else None
    context = dict(failure.context) if failure is not None else {}
    context.setdefault("time", time.time())
    return _Base(info, verdict.category.value, verdict.retryable, verdict.detail,
                 verdict.status, verdict.retry_after, rule.suggestion if rule else None,
                 context, fingerprint(info, _override(info, exc, None)))  # fmt: skip


def _from_record(info: ErrorInfo, attrs: dict[str, Any], context: dict[str, Any]) -> _Base:
    verdict = classify_record(info.type_name, info.message, info.causes())
    rule = rule_for_name(info.type_name) if RULES else None
    category = str(attrs.get(semconv.ERROR_CATEGORY) or verdict.category.value)
    return _Base(info, category, verdict.retryable, verdict.detail, verdict.status, None,
                 rule.suggestion if rule else None, context,
                 fingerprint(info, _override(info, None, attrs)))  # fmt: skip


def _span_context(attrs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    kind = attrs.get(semconv.WORKFLOW_SPAN_KIND)
    return {
        "workflow": attrs.get(semconv.WORKFLOW_NAME), "step": attrs.get(semconv.STEP_NAME)
        if kind == semconv.SPAN_KIND_STEP else None,
        "execution_id": attrs.get(semconv.WORKFLOW_EXECUTION_ID),
        "attempt": attrs.get(semconv.STEP_ATTEMPT), "user": attrs.get(semconv.USER_ID),
        "arguments": attrs.get(semconv.CAPTURE_INPUT), "attributes": attrs, **extra,
    }  # fmt: skip


def _from_span(span: ReadableSpan) -> _Base:
    attrs = dict(span.attributes or {})
    info = error_info_from_span(span)
    ctx = span.get_span_context()
    span_id = f"{ctx.span_id:016x}" if ctx else None
    failure = LIVE.for_span(span_id) if span_id else None
    if failure is not None:
        info = merge_locals(info, failure.frames)
    context = _span_context(attrs, trace_id=f"{ctx.trace_id:032x}" if ctx else None,
                            span_id=span_id, time=(span.end_time or 0) / 1e9)  # fmt: skip
    if attrs.get(semconv.WORKFLOW_SPAN_KIND) == semconv.SPAN_KIND_WORKFLOW:
        context["workflow"] = context["workflow"] or span.name
    return _from_record(info, attrs, context)


def _from_row(row: dict[str, Any], kind: str) -> _Base:
    attrs = dict(row.get("attributes") or {})
    info = parse_stacktrace(row.get("exception_stacktrace") or "",
                            row.get("exception_type") or row.get("error_type") or "",
                            row.get("exception_message") or row.get("status_description")
                            or "")  # fmt: skip
    if row.get("error_category"):
        attrs.setdefault(semconv.ERROR_CATEGORY, row["error_category"])
    context = {
        "workflow": row.get("workflow"), "step": row.get("step") if kind == "steps" else None,
        "execution_id": row.get("execution_id"), "attempt": row.get("attempt"),
        "user": row.get("user_id"), "arguments": attrs.get(semconv.CAPTURE_INPUT),
        "attributes": attrs, "trace_id": row.get("trace_id"), "span_id": row.get("span_id"),
        "time": (row.get("end") or 0) / 1e9,
    }  # fmt: skip
    return _from_record(info, attrs, context)


def _row(conn: sqlite3.Connection, table: str, where: str, params: tuple[Any, ...]) -> dict[str, Any] | None:  # noqa: E501
    from otel_workflow.store.reader import decode

    cursor = conn.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY end_ns LIMIT 1", params)
    row = cursor.fetchone()
    if row is None:
        return None
    names = [d[0] for d in cursor.description]
    values = decode(names, row)
    out = dict(zip(names, values, strict=True))
    out["end"] = out.get("end_ns")
    return out


def _from_group(group: history.Group) -> _Base:
    sample = group.sample
    chain = []
    for entry in sample.get("chain") or []:
        frames = tuple(Frame(**{k: f.get(k) for k in (
            "filename", "lineno", "function", "module", "source_line", "in_app", "locals")})
            for f in entry.get("frames") or [])  # fmt: skip
        chain.append(ExceptionEntry(entry.get("type") or group.type_name,
                                    entry.get("message") or "", frames))  # fmt: skip
    info = ErrorInfo(tuple(chain) or (ExceptionEntry(group.type_name, sample.get("message", "")),))
    context = dict(sample.get("context") or {})
    context.setdefault("workflow", group.workflow)
    context.setdefault("step", group.step)
    verdict = classify_record(info.type_name, info.message, info.causes())
    rule = rule_for_name(info.type_name) if RULES else None
    return _Base(info, group.category, group.retryable, verdict.detail, verdict.status, None,
                 rule.suggestion if rule else None, context, group.fingerprint)  # fmt: skip


def _with_sample_locals(conn: sqlite3.Connection, has_history: bool, base: _Base) -> _Base:
    """The group's sampled locals, when the sample is this very span's failure."""
    span_id = base.context.get("span_id")
    if not has_history or not span_id:
        return base
    fp = history.occurrence_for_span(conn, str(span_id))
    group = history.group(conn, fp) if fp else None
    if group is None or (group.sample.get("context") or {}).get("span_id") != span_id:
        return base
    sampled = _from_group(group)
    base.info = merge_locals(base.info, list(sampled.info.top.frames))
    base.context = {**sampled.context, **{k: v for k, v in base.context.items() if v is not None}}
    return base


def _from_id(target: str, path: str | None) -> _Base:
    if path is None:
        raise LookupError(f"{target!r} is not an exception or span, and no store is "
                          "configured to look it up as an execution id or fingerprint "
                          "(pass store=...)")  # fmt: skip
    conn, has_history = history.open_history_reader(path)
    try:
        execution = _row(conn, "executions", "execution_id = ?", (target,))
        if execution is not None:
            found = origin(conn, target)
            if found is not None and found.span_id:
                step_row = _row(conn, "steps", "span_id = ?", (found.span_id,))
                if step_row is not None:
                    return _with_sample_locals(conn, has_history, _from_row(step_row, "steps"))
            if execution.get("status") == semconv.STATUS_OK:
                raise LookupError(f"execution {target!r} did not fail: nothing to diagnose")
            return _from_row(execution, "executions")
        if has_history:
            group = history.group(conn, target)
            if group is not None:
                return _from_group(group)
    finally:
        conn.close()
    raise LookupError(f"{target!r} is neither an execution id nor an error fingerprint in "
                      f"the store {path}")  # fmt: skip


# --- enrichment from the store -------------------------------------------------------------
def _enrich(d: Diagnosis, base: _Base, path: str | None, window_ns: int) -> None:
    root = base.info.root_frame()
    step = base.context.get("step")
    workflow = base.context.get("workflow")
    occurrences: list[dict[str, Any]] = []
    p95 = None
    if path is None:
        d.notes.append("no store configured: frequency, evidence, origin and similar "
                       "errors need one (configure(store=...) or store=...)")  # fmt: skip
    else:
        try:
            conn, has_history = history.open_history_reader(path)
        except FileNotFoundError:
            d.notes.append(f"no store at {path} yet: history, evidence and origin are empty")
            conn = None
        except StoreError as exc:
            d.notes.append(str(exc))
            conn = None
        if conn is not None:
            try:
                now = time.time_ns()
                since = now - window_ns
                if step:
                    d.evidence = step_evidence(conn, workflow, str(step), since)
                    p95 = step_p95(conn, workflow, str(step), since)
                execution_id = base.context.get("execution_id")
                if execution_id:
                    d.origin = origin(conn, str(execution_id))
                if has_history:
                    _history(d, conn, base.fingerprint, now, window_ns)
                    occurrences = history.occurrences(conn, base.fingerprint, 200)
                else:
                    d.notes.append("no failures recorded in this store yet (the diagnosis "
                                   "recorder is not installed, or nothing failed)")  # fmt: skip
            except sqlite3.DatabaseError as exc:
                d.notes.append(f"the store {path} could not be read ({exc}); it was not modified")
            finally:
                conn.close()
    d.suggestions = suggest(
        category=base.category, error_type=base.info.type_name, message=base.info.message,
        root=root, status=base.status, retry_after=base.retry_after, evidence=d.evidence,
        p95=p95, retried_attempts=retried_attempts(occurrences), retryable=base.retryable,
        rule_suggestion=base.rule_suggestion, step=str(step) if step else None,
    )  # fmt: skip


def _history(d: Diagnosis, conn: sqlite3.Connection, fp: str, now: int, window_ns: int) -> None:
    group = history.group(conn, fp)
    others = history.groups(conn, limit=500)
    notes = history.resolutions(conn, [g.fingerprint for g in others] + [fp])
    d.resolution = notes.get(fp)
    if group is None:
        return
    interval = max(window_ns // 24, 60 * 10**9)
    d.frequency = frequency(
        history.occurrence_times(conn, fp, now - window_ns), total=group.count,
        first_seen_ns=group.first_seen_ns, last_seen_ns=group.last_seen_ns, now_ns=now,
        window_ns=window_ns, interval_ns=interval,
    )  # fmt: skip
    d.similar = similar_groups(group, others, notes)


def _build(base: _Base, path: str | None, window_ns: int) -> Diagnosis:
    info = base.info
    root = info.root_frame()
    d = Diagnosis(
        category=base.category, retryable=base.retryable, error_type=info.type_name,
        message=info.message, fingerprint=base.fingerprint,
        root_cause={
            "frame": root.to_dict() if root else None,
            "where": root.where() if root else None,
            "chain": [{"type": e.type_name, "message": e.message} for e in info.chain],
            "innermost": {"type": info.chain[-1].type_name, "message": info.chain[-1].message},
        },
        stack=list(info.top.frames), context=base.context, template=template(info),
        classification_detail=base.detail, chain=list(info.chain), notes=list(base.notes),
    )  # fmt: skip
    _enrich(d, base, path, window_ns)
    return d


def diagnose(target: Any, *, store: str | Path | None = None, since: str = "24h") -> Diagnosis:
    """Explain a failure: an exception, a finished span, or an execution id / fingerprint.

    >>> import otel_workflow as ow
    >>> try:
    ...     {}["sku"]
    ... except KeyError as exc:
    ...     ow.diagnose(exc).category
    'programming'

    Raises TypeError for anything else, LookupError for an id the store does not know.
    """
    window_ns = _window_ns(since)
    path = store_path(store)
    if isinstance(target, BaseException):
        base = _from_exception(target)
    elif isinstance(target, ReadableSpan):
        failed = target.status is not None and target.status.status_code.name == "ERROR"
        if not failed and not any(e.name == semconv.EXCEPTION_EVENT for e in target.events or ()):
            raise LookupError(f"span {target.name!r} did not fail: nothing to diagnose")
        base = _from_span(target)
    elif _log_attributes(target) is not None:
        return diagnose_log_record(target, store=store, since=since)
    elif isinstance(target, str):
        if not target.strip():
            raise ValueError("diagnose: an empty id")
        base = _from_id(target.strip(), path)
    else:
        raise TypeError("diagnose() takes an exception, a finished span, or an execution id "
                        f"or fingerprint string, got {type(target).__name__}")  # fmt: skip
    return _build(base, path, window_ns)


def _log_attributes(record: Any) -> tuple[Any, dict[str, Any]] | None:
    inner = getattr(record, "log_record", record)  # SDK Readable/ReadWriteLogRecord wrap it
    attrs = getattr(inner, "attributes", None)
    if attrs is None or not hasattr(attrs, "get") or not attrs.get(semconv.EXCEPTION_TYPE):
        return None
    return inner, dict(attrs)


def diagnose_log_record(record: Any, *, store: str | Path | None = None,
                        since: str = "24h") -> Diagnosis:  # fmt: skip
    """Diagnose an OpenTelemetry log record carrying ``exception.*`` attributes (the
    semantic conventions' newer home for exceptions); TypeError for any other object."""
    found = _log_attributes(record)
    if found is None:
        raise TypeError("diagnose_log_record() needs a log record with an exception.type "
                        f"attribute, got {type(record).__name__}")  # fmt: skip
    inner, attrs = found
    info = error_info_from_event(attrs, "", str(getattr(inner, "body", "") or ""))
    trace_id, span_id = getattr(inner, "trace_id", None), getattr(inner, "span_id", None)
    context = _span_context(
        attrs, trace_id=f"{trace_id:032x}" if trace_id else None,
        span_id=f"{span_id:016x}" if span_id else None,
        time=(getattr(inner, "timestamp", None) or 0) / 1e9,
    )  # fmt: skip
    return _build(_from_record(info, attrs, context), store_path(store), _window_ns(since))


def diagnose_group(group: history.Group, path: str, window_ns: int) -> Diagnosis:
    """The diagnosis of a stored group (what reports show)."""
    return _build(_from_group(group), path, window_ns)


def resolve(fingerprint_id: str, note: str, *, store: str | Path | None = None) -> None:
    """Record that the group ``fingerprint_id`` was resolved and how; later diagnoses of
    it and of similar groups show the note."""
    if not isinstance(fingerprint_id, str) or not fingerprint_id.strip():
        raise TypeError("resolve: fingerprint must be a non-empty string")
    if not isinstance(note, str) or not note.strip():
        raise ValueError("resolve: note must be a non-empty string saying what fixed it")
    path = store_path(store)
    if path is None:
        raise LookupError("resolve: no store configured (pass store=...)")
    if not Path(path).exists():
        raise FileNotFoundError(f"no otel-workflow store at {path}")
    conn = history.open_writer(path)
    try:
        if history.group(conn, fingerprint_id.strip()) is None:
            raise LookupError(f"resolve: no error group {fingerprint_id!r} in the store {path}")
        history.add_resolution(conn, fingerprint_id.strip(), note.strip())
    finally:
        conn.close()
