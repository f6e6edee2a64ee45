"""Opt-in capture: bounded, scrubbed, never raising, truncation flagged."""

from __future__ import annotations

import json

import pytest

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow.capture import REDACTED, CaptureLimits, capture
from otel_workflow.testing import TelemetryCapture


def test_secrets_scrubbed_inside_longer_keys() -> None:
    """Keys like db_password, X-Api-Key, refresh_token and Cookie are redacted."""
    data = capture({"db_password": "p", "X-Api-Key": "k", "refresh_token": "t", "Cookie": "c",
                    "Authorization": "a", "private_key": "pk", "session": "s",
                    "credentials": {"u": 1}, "user": "ada"}).data  # fmt: skip
    assert data.pop("user") == "ada"
    assert set(data.values()) == {REDACTED}


def test_secrets_in_values_scrubbed() -> None:
    """Credentials inside URLs and bearer tokens inside strings are redacted."""
    data = capture(["postgres://admin:s3cret@db:5432/x", "Bearer abcdefghijklmnop"]).data
    assert "s3cret" not in json.dumps(data) and "abcdefghijklmnop" not in json.dumps(data)


def test_limits_bound_everything() -> None:
    """Strings, depth, items and total size are capped and truncation is flagged."""
    limits = CaptureLimits(max_string=10, max_depth=2, max_items=3, max_total=200)
    result = capture({"s": "x" * 100, "deep": {"a": {"b": {"c": 1}}}, "many": list(range(50))},
                     limits)  # fmt: skip
    assert result.truncated
    assert len(result.data["s"]) == 11
    assert result.data["many"][-1].endswith("47 more")
    assert len(result.to_json()) < 400


def test_cycles_and_hostile_objects_never_raise() -> None:
    """Self-referencing containers and objects that raise everywhere are captured safely."""
    loop: list[object] = []
    loop.append(loop)

    class Evil:
        def __repr__(self) -> str:
            raise ValueError

        def __iter__(self) -> object:
            raise ValueError

    result = capture({"loop": loop, "evil": Evil()})
    assert result.data["loop"] == ["<cycle>"]
    assert "repr failed" in result.data["evil"]


def test_invalid_limits_rejected() -> None:
    """CaptureLimits with a non-positive bound is refused with a clear error."""
    with pytest.raises(ValueError, match="max_depth"):
        CaptureLimits(max_depth=0)


def test_capture_is_opt_in(ow_telemetry: TelemetryCapture) -> None:
    """Without capture= nothing about arguments or results lands on spans."""

    @ow.step(name="quiet")
    def quiet(password: str) -> str:
        return "result"

    quiet("hunter2")
    (span,) = ow_telemetry.step_spans("quiet")
    assert semconv.CAPTURE_INPUT not in span.attributes
    assert semconv.CAPTURE_OUTPUT not in span.attributes


def test_capture_arguments_and_result(ow_telemetry: TelemetryCapture) -> None:
    """capture=True records bound arguments (scrubbed) and the return value as JSON."""

    @ow.step(name="login", capture=True)
    def login(user: str, password: str, retries: int = 1) -> dict[str, str]:
        return {"user": user, "token": "abc"}

    login("ada", password="hunter2")
    (span,) = ow_telemetry.step_spans("login")
    assert json.loads(span.attributes[semconv.CAPTURE_INPUT]) == {
        "user": "ada", "password": REDACTED}
    assert json.loads(span.attributes[semconv.CAPTURE_OUTPUT]) == {"user": "ada", "token": REDACTED}


def test_capture_truncation_flagged_on_span(ow_telemetry: TelemetryCapture) -> None:
    """A huge argument is cut and workflow.capture.truncated is set."""

    @ow.workflow(name="big", capture="args", capture_limits=CaptureLimits(max_string=16))
    def big(blob: str) -> int:
        return len(blob)

    assert big("y" * 10_000) == 10_000
    (span,) = ow_telemetry.workflow_spans("big")
    assert span.attributes[semconv.CAPTURE_TRUNCATED] is True
    assert len(span.attributes[semconv.CAPTURE_INPUT]) < 64


def test_capture_default_from_environment(
    ow_telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_WORKFLOW_CAPTURE=result makes decorators capture results by default."""
    monkeypatch.setenv("OTEL_WORKFLOW_CAPTURE", "result")

    @ow.step(name="env_capture")
    def env_capture(x: int) -> int:
        return x + 1

    env_capture(1)
    (span,) = ow_telemetry.step_spans("env_capture")
    assert span.attributes[semconv.CAPTURE_OUTPUT] == "2"
    assert semconv.CAPTURE_INPUT not in span.attributes
