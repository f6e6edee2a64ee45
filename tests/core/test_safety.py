"""Never break the user's code: disabled, suppressed, no SDK, internal failures."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import context as context_api
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow._runtime import RUNTIME
from otel_workflow.testing import TelemetryCapture


@ow.step(name="double")
def double(x: int) -> int:
    return 2 * x


@ow.workflow(name="wrapper_flow")
def wrapper_flow(x: int) -> int:
    return double(x)


def test_disabled_records_nothing(ow_telemetry: TelemetryCapture) -> None:
    """ow.disable() turns decorators into plain calls; ow.enable() turns them back on."""
    ow.disable()
    try:
        assert wrapper_flow(2) == 4
        assert ow_telemetry.spans() == []
        assert ow_telemetry.counter(semconv.METRIC_STEP_EXECUTIONS) == 0
    finally:
        ow.enable()
    wrapper_flow(2)
    assert len(ow_telemetry.spans()) == 2


def test_suppression_context_respected(ow_telemetry: TelemetryCapture) -> None:
    """OpenTelemetry's suppress-instrumentation context silences our decorators."""
    token = context_api.attach(context_api.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        assert wrapper_flow(3) == 6
    finally:
        context_api.detach(token)
    assert ow_telemetry.spans() == []


def test_no_sdk_calls_through() -> None:
    """With no provider and no metrics consumer the call simply runs."""
    assert RUNTIME.explicit_provider is None
    assert wrapper_flow(5) == 10


@pytest.mark.expect_internal_errors("decorator")
def test_internal_error_never_reaches_caller(
    ow_telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A failure inside our span code is logged once, counted, and the call still works."""

    def broken_start_span(*args: object, **kwargs: object) -> None:
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(RUNTIME.tracer, "start_span", broken_start_span)
    with caplog.at_level(logging.WARNING, logger="otel_workflow"):
        assert [double(i) for i in range(3)] == [0, 2, 4]
        assert wrapper_flow(1) == 2
    assert ow_telemetry.internal_errors()["decorator"] == 5
    logged = [r for r in caplog.records if "internal error" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert ow_telemetry.counter(semconv.METRIC_SELF_ERRORS,
                                **{semconv.LABEL_COMPONENT: "decorator"}) == 5  # fmt: skip


@pytest.mark.expect_internal_errors("hook")
def test_failing_hook_does_not_break_call(ow_telemetry: TelemetryCapture) -> None:
    """A debugger/diagnosis hook that raises is contained; hooks see args and results."""
    seen: list[tuple[str, object]] = []

    class Hook:
        def before(self, call: ow.CallInfo) -> None:
            seen.append(("before", call.args))
            raise RuntimeError("hook bug")

        def after(self, call: ow.CallInfo, result: object) -> None:
            seen.append(("after", result))

        def on_error(self, call: ow.CallInfo, exc: BaseException) -> None:
            seen.append(("error", exc))

    hook = Hook()
    ow.register_hook(hook)
    try:
        assert double(4) == 8
    finally:
        ow.unregister_hook(hook)
    assert seen == [("before", (4,)), ("after", 8)]
    assert ow_telemetry.internal_errors()["hook"] == 1


def test_unserialisable_argument_with_capture(ow_telemetry: TelemetryCapture) -> None:
    """An argument whose repr raises is captured as a placeholder; the call works."""

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr for you")

    @ow.step(name="takes_hostile", capture=True)
    def takes_hostile(obj: Hostile) -> str:
        return "fine"

    assert takes_hostile(Hostile()) == "fine"
    (span,) = ow_telemetry.step_spans("takes_hostile")
    assert "repr failed" in span.attributes[semconv.CAPTURE_INPUT]


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")


def test_exception_whose_str_raises_keeps_its_telemetry(ow_telemetry: TelemetryCapture) -> None:
    """An exception whose __str__ raises still ends the span as an error, with an event."""
    raised = _Unprintable()

    @ow.step(name="unprintable")
    def unprintable() -> None:
        raise raised

    with pytest.raises(_Unprintable) as info:
        unprintable()
    assert info.value is raised
    (span,) = ow_telemetry.step_spans("unprintable")
    assert span.attributes[semconv.WORKFLOW_STATUS] == semconv.STATUS_ERROR
    assert span.attributes[semconv.ERROR_TYPE].endswith("_Unprintable")
    assert [e.name for e in span.events] == ["exception"]
    assert ow_telemetry.internal_errors() == {}
