"""Fill a real SQLite store with workflow and step spans made by the OpenTelemetry SDK.

The spans carry the semantic attributes the decorators set, with chosen start times and
durations, so reports have known content.  Names include HTML and markdown syntax on
purpose: a report must show them as text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from otel_workflow import semconv
from otel_workflow.diagnosis.categories import categorize, error_type_name

HOSTILE_WORKFLOW = 'billing <script>alert("x")</script> | *bold* & co'
"""A workflow name full of HTML and markdown syntax."""


@dataclass(frozen=True)
class _Kind:
    workflow: str
    workflow_type: str
    steps: tuple[str, ...]
    errors: tuple[type[BaseException], ...]


_KINDS = (
    _Kind("order", "commerce", ("validate", "charge", "ship"), (ValueError, TimeoutError)),
    _Kind(HOSTILE_WORKFLOW, "finance <b>", ("invoice", "send <mail>"), (ConnectionError,)),
)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


def fill_store(
    path: Path,
    *,
    executions: int = 120,
    now: datetime | None = None,
    hours: float = 3.0,
    seed: int = 7,
) -> None:
    """Write ``executions`` executions spread over the ``hours`` before ``now`` into ``path``."""
    from otel_workflow.exporters.store import SQLiteSpanExporter

    exporter = SQLiteSpanExporter(path)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.report")
    rng = random.Random(seed)
    end_of_range = (now or datetime.now(timezone.utc)) - timedelta(minutes=1)
    try:
        for i in range(executions):
            kind = _KINDS[i % 3 // 2]  # two orders for every billing run
            start = end_of_range - timedelta(hours=hours) * rng.random()
            _execution(tracer, kind, i, start, rng)
    finally:
        provider.shutdown()


def _execution(
    tracer: trace.Tracer,
    kind: _Kind,
    index: int,
    start: datetime,
    rng: random.Random,
    *,
    failure_rate: float = 0.06,
) -> None:
    attrs = {
        semconv.WORKFLOW_SPAN_KIND: semconv.SPAN_KIND_WORKFLOW,
        semconv.WORKFLOW_NAME: kind.workflow,
        semconv.WORKFLOW_TYPE: kind.workflow_type,
        semconv.WORKFLOW_VERSION: "1",
        semconv.WORKFLOW_EXECUTION_ID: f"exec-{index}",
        semconv.USER_ID: f"user-{index % 5}",
    }
    root = tracer.start_span(kind.workflow, start_time=_ns(start), attributes=attrs)
    ctx = trace.set_span_in_context(root)
    moment = start
    failure: BaseException | None = None
    for position, step in enumerate(kind.steps):
        duration = timedelta(seconds=rng.lognormvariate(-3.0 + position, 0.8))
        fails = failure is None and rng.random() < failure_rate
        error = rng.choice(kind.errors)("boom") if fails else None
        span = tracer.start_span(
            step, context=ctx, start_time=_ns(moment),
            attributes={
                semconv.WORKFLOW_SPAN_KIND: semconv.SPAN_KIND_STEP,
                semconv.STEP_NAME: step,
                semconv.WORKFLOW_NAME: kind.workflow,
                semconv.WORKFLOW_EXECUTION_ID: f"exec-{index}",
                semconv.STEP_INDEX: position,
                semconv.STEP_ATTEMPT: 1,
                semconv.STEP_CPU_TIME: duration.total_seconds() / 3,
                semconv.USER_ID: f"user-{index % 5}",
            },
        )  # fmt: skip
        _finish(span, error, moment + duration)
        moment += duration
        if error is not None:
            failure = error
            break
    _finish(root, failure, moment + timedelta(milliseconds=1))


def _finish(span: trace.Span, error: BaseException | None, end: datetime) -> None:
    if error is None:
        span.set_attribute(semconv.WORKFLOW_STATUS, semconv.STATUS_OK)
    else:
        span.set_attribute(semconv.WORKFLOW_STATUS, semconv.STATUS_ERROR)
        span.set_attribute(semconv.ERROR_TYPE, error_type_name(error))
        span.set_attribute(semconv.ERROR_CATEGORY, str(categorize(error)))
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, str(error)))
    span.end(end_time=_ns(end))


def fill_many_workflows(path: Path, count: int, *, now: datetime | None = None) -> list[str]:
    """Write one quick execution for each of ``count`` distinct workflows; returns the names."""
    from otel_workflow.exporters.store import SQLiteSpanExporter

    exporter = SQLiteSpanExporter(path)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.report")
    rng = random.Random(3)
    start = (now or datetime.now(timezone.utc)) - timedelta(hours=1)
    names = [f"wf-{i:02d}" for i in range(count)]
    try:
        for i, name in enumerate(names):
            kind = _Kind(name, "bulk", ("only",), (ValueError,))
            _execution(tracer, kind, i, start + timedelta(seconds=i), rng)
    finally:
        provider.shutdown()
    return names


def fill_short_run(
    path: Path, *, seconds: float = 3.0, executions: int = 40, now: datetime | None = None
) -> None:
    """Write ``executions`` executions started within ``seconds`` (a demo-like run) to ``path``."""
    from otel_workflow.exporters.store import SQLiteSpanExporter

    exporter = SQLiteSpanExporter(path)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.report")
    rng = random.Random(11)
    start = (now or datetime.now(timezone.utc)) - timedelta(minutes=2)
    try:
        for i in range(executions):
            moment = start + timedelta(seconds=seconds * i / executions)
            _execution(tracer, _KINDS[0], i, moment, rng, failure_rate=0.15)
    finally:
        provider.shutdown()
