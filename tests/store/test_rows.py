"""What a stored row holds: every column by name, failures from the exception event, bounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode

from otel_workflow import semconv
from otel_workflow.store import SQLiteSpanExporter, StoreReader, StoreSpanProcessor
from otel_workflow.store.columns import EXECUTIONS, STEPS, export_columns
from otel_workflow.store.rows import (
    MAX_EVENTS,
    MAX_EVENTS_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_STACKTRACE_CHARS,
)

from .conftest import SpanFactory

_STEP = {semconv.WORKFLOW_SPAN_KIND: semconv.SPAN_KIND_STEP, semconv.WORKFLOW_NAME: "order"}


class _Spans:
    """A provider writing straight into a store, for spans built by hand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.provider = TracerProvider()
        self.provider.add_span_processor(StoreSpanProcessor(SQLiteSpanExporter(path)))
        self.tracer = self.provider.get_tracer("tests.store")

    def steps(self) -> list[dict[str, Any]]:
        self.provider.shutdown()
        with StoreReader(self.path) as store:
            return list(store.rows("steps"))


def test_every_column_is_stored_by_name(tmp_path: Path, factory: SpanFactory) -> None:
    """A failed step's row has each export column filled from the span, by name."""
    factory.execution(
        "order", 10, 2.0, workflow_type="commerce", status=semconv.STATUS_ERROR, user_id="ann",
        steps=[{"name": "charge", "duration": 0.5, "cpu": 0.25, "status": semconv.STATUS_ERROR,
                "error_type": "TimeoutError", "category": "timeout"}],
        extra={"tenant": "acme"},
    )  # fmt: skip
    path = factory.write(tmp_path / "s.db")
    spans = {s.name: s for s in factory.spans()}
    with StoreReader(path) as store:
        (execution,) = store.rows("executions")
        (step,) = store.rows("steps")
    assert list(execution) == list(export_columns(EXECUTIONS))
    assert list(step) == list(export_columns(STEPS))
    root, child = spans["order"], spans["charge"]
    assert execution["trace_id"] == format(root.context.trace_id, "032x")
    assert execution["span_id"] == format(root.context.span_id, "016x")
    assert (execution["workflow"], execution["workflow_type"], execution["user_id"]) == (
        "order", "commerce", "ann"
    )
    assert (execution["status"], execution["error_type"], execution["duration_seconds"]) == (
        "error", "ValueError", 2.0
    )
    assert execution["start"] == root.start_time and execution["end"] == root.end_time
    assert execution["attributes"] == {"code.function.name": "run_order", "tenant": "acme"}
    assert step["parent_span_id"] == format(root.context.span_id, "016x")
    assert (step["step"], step["step_index"], step["attempt"], step["cpu_time_seconds"]) == (
        "charge", 0, 1, 0.25
    )
    assert (step["error_type"], step["error_category"], step["duration_seconds"]) == (
        "TimeoutError", "timeout", 0.5
    )
    assert step["execution_id"] == execution["execution_id"]
    assert child.context.trace_id == root.context.trace_id
    # No exception event: the type comes from error.type, there is no message or trace.
    assert (step["exception_type"], step["exception_message"]) == ("TimeoutError", None)


def test_exception_event_from_other_instrumentation_is_stored(tmp_path: Path) -> None:
    """A failure recorded with span.record_exception (no error.type) gives type, message, trace."""
    spans = _Spans(tmp_path / "s.db")
    with spans.tracer.start_as_current_span(
        "charge", attributes=_STEP, record_exception=False, set_status_on_exception=False
    ) as span:
        try:
            raise KeyError("card 4242 not on file")
        except KeyError as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, "card lookup failed"))
    (row,) = spans.steps()
    assert row["status"] == semconv.STATUS_ERROR and row["error_type"] is None
    assert row["exception_type"] == "KeyError"
    assert row["exception_message"] == "'card 4242 not on file'"
    assert "raise KeyError" in row["exception_stacktrace"]
    assert row["status_description"] == "card lookup failed"
    (event,) = row["events"]
    assert event["name"] == "exception"
    assert semconv.EXCEPTION_STACKTRACE not in event["attributes"]
    assert event["attributes"][semconv.EXCEPTION_TYPE] == "KeyError"


def test_successful_span_has_no_failure_columns(tmp_path: Path) -> None:
    """An ok span keeps its events but carries no exception or status description."""
    spans = _Spans(tmp_path / "s.db")
    with spans.tracer.start_as_current_span("charge", attributes=_STEP) as span:
        span.add_event("retry", {"attempt": 2})
    (row,) = spans.steps()
    assert row["status"] == semconv.STATUS_OK
    assert (row["exception_type"], row["exception_stacktrace"], row["status_description"]) == (
        None, None, None
    )
    assert [(e["name"], e["attributes"]) for e in row["events"]] == [("retry", {"attempt": 2})]


def test_failure_text_and_events_are_bounded(tmp_path: Path) -> None:
    """Huge messages, traces and many events are cut to the documented bounds."""
    spans = _Spans(tmp_path / "s.db")
    with spans.tracer.start_as_current_span("charge", attributes=_STEP) as span:
        for i in range(MAX_EVENTS * 3):
            span.add_event(f"tick-{i}", {"blob": "x" * 5000})
        span.add_event(semconv.EXCEPTION_EVENT, {
            semconv.EXCEPTION_TYPE: "ValueError",
            semconv.EXCEPTION_MESSAGE: "m" * (MAX_MESSAGE_CHARS * 3),
            semconv.EXCEPTION_STACKTRACE: "Traceback\n" + "  frame\n" * 20000 + "ValueError: m",
        })  # fmt: skip
        span.set_status(Status(StatusCode.ERROR, "d" * (MAX_MESSAGE_CHARS * 2)))
    (row,) = spans.steps()
    assert len(row["exception_message"]) == MAX_MESSAGE_CHARS
    assert len(row["status_description"]) == MAX_MESSAGE_CHARS
    trace = row["exception_stacktrace"]
    assert len(trace) == MAX_STACKTRACE_CHARS and trace.endswith("ValueError: m")
    events = row["events"]
    kept = [e for e in events if "name" in e]
    assert 0 < len(kept) <= MAX_EVENTS
    assert events[-1]["dropped"] == MAX_EVENTS * 3 + 1 - len(kept)
    with StoreReader(spans.path) as store:
        (text,) = store.connection.execute("SELECT events FROM steps").fetchone()
    assert len(text) <= MAX_EVENTS_CHARS + 64


def test_paused_time_is_not_part_of_the_duration(tmp_path: Path) -> None:
    """A span paused in a debugger hook stores its duration minus workflow.pause.duration."""
    spans = _Spans(tmp_path / "s.db")
    span = spans.tracer.start_span(
        "charge", attributes={**_STEP, semconv.WORKFLOW_PAUSE_DURATION: 7.25}, start_time=10**18
    )
    span.end(end_time=10**18 + 10 * 10**9)
    other = spans.tracer.start_span("other", attributes=_STEP, start_time=10**18)
    other.end(end_time=10**18 + 3 * 10**9)
    rows = {r["step"]: r for r in spans.steps()}
    assert rows["charge"]["duration_seconds"] == 10 - 7.25
    assert rows["other"]["duration_seconds"] == 3.0


def test_secrets_set_by_other_code_are_scrubbed_in_the_store(tmp_path: Path) -> None:
    """Attributes, exception text, status and events from anyone reach the file scrubbed."""
    path = tmp_path / "s.db"
    spans = _Spans(path)
    with spans.tracer.start_as_current_span(
        "charge", attributes=_STEP, record_exception=False, set_status_on_exception=False
    ) as span:
        span.set_attribute("db.password", "pl4nted-pw-1")
        span.set_attribute("http.url", "https://user:pl4nted-pw-2@api.example/v1")
        span.add_event("retrying", {"header": "Authorization: Bearer pl4ntedtoken3xyz"})
        try:
            raise ConnectionError("no route to postgres://app:pl4nted-pw-4@db/orders")
        except ConnectionError as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, "redis://:pl4nted-pw-5@cache failed"))
    (row,) = spans.steps()
    assert row["attributes"]["db.password"] == "[REDACTED]"
    assert row["attributes"]["http.url"].endswith("@api.example/v1")  # the URL stays
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for marker in (b"pl4nted-pw-1", b"pl4nted-pw-2", b"pl4ntedtoken3xyz", b"pl4nted-pw-4",
                   b"pl4nted-pw-5"):  # fmt: skip
        assert marker not in stored, marker
