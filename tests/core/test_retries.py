"""Step retries: each attempt its own span, sync and async."""

from __future__ import annotations

import asyncio

import pytest

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow.testing import TelemetryCapture


def test_sync_retries_until_success(ow_telemetry: TelemetryCapture) -> None:
    """A step failing twice with a retryable error succeeds on the third attempt."""
    calls = []

    @ow.step(name="flaky", retries=3, retry_on=(TimeoutError,))
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TimeoutError("slow")
        return "done"

    assert flaky() == "done"
    spans = ow_telemetry.step_spans("flaky")
    spans.sort(key=lambda s: s.attributes[semconv.STEP_ATTEMPT])
    assert [s.attributes[semconv.STEP_ATTEMPT] for s in spans] == [1, 2, 3]
    statuses = [s.attributes.get(semconv.WORKFLOW_STATUS, "ok") for s in spans]
    assert statuses == ["retried", "retried", "ok"]
    step_label = {semconv.LABEL_STEP: "flaky"}
    assert ow_telemetry.counter(semconv.METRIC_STEP_EXECUTIONS, **step_label) == 3
    retried = {**step_label, semconv.LABEL_STATUS: semconv.STATUS_RETRIED}
    assert ow_telemetry.counter(semconv.METRIC_STEP_EXECUTIONS, **retried) == 2
    failed = {**step_label, semconv.LABEL_STATUS: semconv.STATUS_ERROR}
    assert ow_telemetry.counter(semconv.METRIC_STEP_EXECUTIONS, **failed) == 0
    # A recovered step has no failure to count.
    assert ow_telemetry.counter(semconv.METRIC_STEP_ERRORS, **step_label) == 0


def test_retried_attempt_keeps_its_exception_event(ow_telemetry: TelemetryCapture) -> None:
    """A retried attempt records what went wrong, without an ERROR span status."""
    calls = []

    @ow.step(name="once_more", retries=1, retry_on=TimeoutError)
    def once_more() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise TimeoutError("slow")
        return "ok"

    assert once_more() == "ok"
    first = min(ow_telemetry.step_spans("once_more"),
                key=lambda s: s.attributes[semconv.STEP_ATTEMPT])  # fmt: skip
    assert first.attributes[semconv.ERROR_TYPE] == "TimeoutError"
    assert [e.name for e in first.events] == ["exception"]
    assert first.status.status_code.name == "UNSET"


def test_retries_exhausted_raises_last_error(ow_telemetry: TelemetryCapture) -> None:
    """After the last attempt the final exception reaches the caller."""
    errors = [TimeoutError(str(i)) for i in range(3)]

    @ow.step(name="always", retries=2, retry_on=TimeoutError)
    def always() -> None:
        raise errors.pop(0)

    with pytest.raises(TimeoutError) as caught:
        always()
    assert str(caught.value) == "2"
    spans = sorted(ow_telemetry.step_spans("always"),
                   key=lambda s: s.attributes[semconv.STEP_ATTEMPT])  # fmt: skip
    statuses = [s.attributes[semconv.WORKFLOW_STATUS] for s in spans]
    assert statuses == ["retried", "retried", "error"]
    # Only the final failure counts as an error.
    assert ow_telemetry.counter(semconv.METRIC_STEP_ERRORS, **{semconv.LABEL_STEP: "always"}) == 1


def test_non_retryable_error_is_not_retried(ow_telemetry: TelemetryCapture) -> None:
    """An exception outside retry_on fails at once."""

    @ow.step(name="strict", retries=5, retry_on=TimeoutError)
    def strict() -> None:
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        strict()
    assert len(ow_telemetry.step_spans("strict")) == 1


def test_async_retries(ow_telemetry: TelemetryCapture) -> None:
    """Async steps retry too, each attempt its own span."""
    attempts = []

    @ow.step(name="aflaky", retries=1, backoff=0)
    async def aflaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("reset")
        return 7

    assert asyncio.run(aflaky()) == 7
    assert len(ow_telemetry.step_spans("aflaky")) == 2


def test_backoff_callable_gets_attempt_numbers(ow_telemetry: TelemetryCapture) -> None:
    """A callable backoff is asked for the delay after each failed attempt."""
    asked = []

    def backoff(attempt: int) -> float:
        asked.append(attempt)
        return 0.0

    @ow.step(name="counted", retries=2, backoff=backoff)
    def counted() -> None:
        raise OSError("down")

    with pytest.raises(OSError):
        counted()
    assert asked == [1, 2]
