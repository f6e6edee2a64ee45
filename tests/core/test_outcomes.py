"""Outcomes the step machine must get right whatever the exception does."""

from __future__ import annotations

import sys

import pytest

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow.testing import TelemetryCapture


class Unprintable(Exception):
    """An exception whose __str__ raises (seen in the wild with lazy ORM messages)."""

    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def test_exception_whose_str_raises_keeps_its_telemetry(ow_telemetry: TelemetryCapture) -> None:
    """The span ends, the failure is counted and the active gauge comes back down."""

    @ow.step(name="bad_str")
    def bad_str() -> None:
        raise Unprintable()

    @ow.workflow(name="bad_flow")
    def bad_flow() -> None:
        bad_str()

    for _ in range(3):
        with pytest.raises(Unprintable):
            bad_flow()
    assert len(ow_telemetry.workflow_spans("bad_flow")) == 3
    assert len(ow_telemetry.step_spans("bad_str")) == 3
    wf = {semconv.LABEL_WORKFLOW: "bad_flow"}
    assert ow_telemetry.counter(semconv.METRIC_WORKFLOW_ACTIVE, **wf) == 0
    assert ow_telemetry.counter(semconv.METRIC_STEP_ERRORS, **{semconv.LABEL_STEP: "bad_str"}) == 3
    span = ow_telemetry.step_spans("bad_str")[0]
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"].endswith("Unprintable")
    assert "str failed" in event.attributes["exception.message"]


def test_huge_exception_message_is_bounded(ow_telemetry: TelemetryCapture) -> None:
    """A 50 MB message reaches the caller whole but the span keeps a bounded copy."""
    message = "x" * 50_000_000

    @ow.step(name="huge")
    def huge() -> None:
        raise ValueError(message)

    with pytest.raises(ValueError) as caught:
        huge()
    assert len(str(caught.value)) == 50_000_000
    (span,) = ow_telemetry.step_spans("huge")
    (event,) = [e for e in span.events if e.name == "exception"]
    assert len(event.attributes["exception.message"]) <= 2048
    assert len(event.attributes["exception.stacktrace"]) <= 16_384
    assert len(span.status.description or "") <= 512


def test_exception_message_secrets_are_scrubbed(ow_telemetry: TelemetryCapture) -> None:
    """A DSN with a password inside an exception message never reaches the span."""

    @ow.step(name="connect")
    def connect() -> None:
        raise ConnectionError("could not connect to postgres://app:s3cr3t-pw@db:5432/orders")

    with pytest.raises(ConnectionError):
        connect()
    (span,) = ow_telemetry.step_spans("connect")
    texts = [str(v) for e in span.events for v in e.attributes.values()]
    texts.append(span.status.description or "")
    assert texts and not any("s3cr3t-pw" in t for t in texts)


@pytest.mark.parametrize("code", [0, None])
def test_clean_system_exit_is_not_a_failure(ow_telemetry: TelemetryCapture, code: object) -> None:
    """SystemExit(0) inside a step propagates but is counted as ok, not as an error."""

    @ow.step(name="exits")
    def exits() -> None:
        sys.exit(code)  # type: ignore[arg-type]

    with pytest.raises(SystemExit):
        exits()
    (span,) = ow_telemetry.step_spans("exits")
    assert span.attributes.get(semconv.WORKFLOW_STATUS, "ok") == "ok"
    assert ow_telemetry.counter(semconv.METRIC_STEP_ERRORS) == 0
    ok = {semconv.LABEL_STEP: "exits", semconv.LABEL_STATUS: "ok"}
    assert ow_telemetry.counter(semconv.METRIC_STEP_EXECUTIONS, **ok) == 1


def test_failing_system_exit_is_an_error(ow_telemetry: TelemetryCapture) -> None:
    """SystemExit(2) is a failed exit and is counted as one."""

    @ow.step(name="exits_badly")
    def exits_badly() -> None:
        sys.exit(2)

    with pytest.raises(SystemExit):
        exits_badly()
    (span,) = ow_telemetry.step_spans("exits_badly")
    assert span.attributes[semconv.WORKFLOW_STATUS] == "error"
