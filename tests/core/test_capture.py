"""Opt-in capture: bounded, scrubbed, never raising, truncation flagged."""

from __future__ import annotations

import inspect
import json
import re
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow.capture import (
    DEFAULT_LIMITS,
    REDACTED,
    TRUNCATED_MARK,
    CaptureLimits,
    argument_capturer,
    capture,
    capture_arguments,
    result_capturer,
)
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
        "user": "ada",
        "password": REDACTED,
    }
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


# --- bounded in time (issue 9 item 1) -------------------------------------------------------

_ADVERSARIAL = {
    "letters then ://": "a" * 65_536 + "://",
    "many ://@": "://@" * 20_000,
    "many eyJ": "eyJ" * 30_000,
    "many name=": "a=" * 50_000,
    "many colons": ":" * 100_000,
    "many Bearer": "Bearer " * 20_000,
    "many BEGIN": "-----BEGIN PRIVATE KEY-----" * 3_000,
    "1 MB of prose": "The quick brown fox: jumps over=the lazy dog & co. " * 20_000,
    "50 MB": "x" * 50_000_000,
}


@pytest.mark.parametrize("text", list(_ADVERSARIAL.values()), ids=list(_ADVERSARIAL))
def test_capture_time_is_bounded_whatever_the_string(text: str) -> None:
    """Capturing an adversarial or huge string stays far under a generous 20 ms bound."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        result = capture({"value": text, "items": [text, (text, text)]})
        best = min(best, time.perf_counter() - started)
    assert result.truncated
    assert len(result.to_json()) <= DEFAULT_LIMITS.max_total + 64
    assert best < 0.020, f"capture took {best * 1000:.1f} ms"


def test_capture_of_huge_containers_is_bounded() -> None:
    """A 5-million-item set, list and dict are read only up to max_items, in bounded time."""
    big = range(5_000_000)
    values = [set(big), list(big), dict.fromkeys(big)]
    best = float("inf")
    for _ in range(3):  # best of three: a bound on our work, not on the machine's load
        started = time.perf_counter()
        for value in values:
            result = capture(value)
            assert result.truncated and len(result.data) == DEFAULT_LIMITS.max_items + 1
        best = min(best, time.perf_counter() - started)
    assert best < 0.050, f"capture took {best * 1000:.1f} ms"


def test_empty_containers_spend_the_budget() -> None:
    """Nested empty containers cannot make capture walk more than max_total allows."""
    nested = [[[[] for _ in range(32)] for _ in range(32)] for _ in range(32)]
    result = capture(nested, CaptureLimits(max_total=400))
    assert result.truncated
    assert result.to_json().count("[]") < 400


def test_output_is_valid_json_for_odd_numbers() -> None:
    """NaN, infinities and a 10,000-digit int still give valid, bounded JSON."""
    result = capture([float("nan"), float("inf"), 10**10_000, 3])
    data = json.loads(result.to_json())
    assert data[:2] == ["nan", "inf"] and data[3] == 3
    assert data[2].startswith("<int ") and result.truncated


def test_secret_straddling_the_cut_is_redacted() -> None:
    """A URL password cut in half by max_string is still redacted, not half-leaked."""
    text = "x" * 500 + "postgres://admin:s3cretpassword@db/x"
    data = capture(text, CaptureLimits(max_string=512)).data
    assert "s3cr" not in data and data.endswith(TRUNCATED_MARK)


# --- records, pairs, and other objects whose repr shows fields (issue 9 item 2) -------------


class _Creds(NamedTuple):
    user: str
    password: str


@dataclass
class _Config:
    host: str
    api_token: str


class _Reprs:
    def __repr__(self) -> str:
        return "Login(user='ada', password='hunter2', pin=1234)"


def test_records_are_captured_field_by_field() -> None:
    """namedtuple, SimpleNamespace and dataclass fields are walked and redacted by name."""
    data = capture([_Creds("ada", "hunter2"), SimpleNamespace(api_key="k1", n=1),
                    _Config("db", "t0k")]).data  # fmt: skip
    assert data == [{"user": "ada", "password": REDACTED}, {"api_key": REDACTED, "n": 1},
                    {"host": "db", "api_token": REDACTED}]  # fmt: skip


def test_repr_showing_fields_is_scrubbed() -> None:
    """An object whose repr lists name=value pairs has its secret-named values redacted."""
    text = capture(_Reprs()).data
    assert "hunter2" not in text and "1234" not in text and "user='ada'" in text


def test_header_pairs_redacted_by_name() -> None:
    """Headers given as (name, value) pairs have secret-named values redacted."""
    headers = [("Accept", "json"), ("X-Api-Key", "k"), ["Authorization", "Basic abc"]]
    assert capture(headers).data == [["Accept", "json"], ["X-Api-Key", REDACTED],
                                     ["Authorization", REDACTED]]  # fmt: skip


def test_extra_secret_pattern_only_adds() -> None:
    """CaptureLimits.secret_pattern redacts more keys; the defaults still apply."""
    limits = CaptureLimits(secret_pattern=re.compile("^internal_"))
    data = capture({"internal_id": 1, "password": "p", "id": 2}, limits).data
    assert data == {"internal_id": REDACTED, "password": REDACTED, "id": 2}


def test_secret_pattern_must_be_compiled() -> None:
    """A plain string as secret_pattern is refused with an error naming the option."""
    with pytest.raises(TypeError, match="secret_pattern"):
        CaptureLimits(secret_pattern="token")  # type: ignore[arg-type]


def test_hostile_node_spoils_only_itself() -> None:
    """An object whose fields raise is a placeholder; its siblings are still captured."""

    class Hostile:
        @property
        def __attrs_attrs__(self) -> object:
            raise RuntimeError("boom")

    class Meta(type):
        def __getattr__(cls, name: str) -> object:
            raise RuntimeError(name)

    class Weird(metaclass=Meta):
        pass

    data = capture({"a": 1, "weird": Weird(), "b": "two"}).data
    assert data["a"] == 1 and data["b"] == "two" and "capture failed" in data["weird"]


# --- decoration-time capturers (issue 11 item 6) --------------------------------------------


def _login(user: str, password: str, retries: int = 1, *rest: Any, **extra: Any) -> None:
    """A function to capture the arguments of."""


_CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((1, "abc"), {}),
    (("ada", "hunter2"), {"retries": 3}),
    (("ada",), {"password": "p", "retries": 2.5}),
    (("a" * 30, "x", None, True), {}),
    (("ada", "x", 1, 2, 3), {"mode": "fast"}),
    (("https://u:pw@h/x",), {}),
    (({"token": "t"},), {"password": "p"}),
    ((), {"user": "é", "retries": float("nan")}),
    ((10**30,), {}),
]


@pytest.mark.parametrize(("args", "kwargs"), _CALLS)
def test_argument_capturer_matches_capture_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """The precomputed capturer gives exactly what binding plus capture_arguments gives."""
    bound = inspect.signature(_login).bind_partial(*args, **kwargs).arguments
    expected = capture_arguments(bound)
    got = argument_capturer(_login)(args, kwargs)
    assert (got.data, got.truncated) == (expected.data, expected.truncated)
    assert got.to_json() == expected.to_json()


def test_argument_capturer_skips_self_of_bound_calls() -> None:
    """With the wrapt instance given, the method's self is not captured as the first argument."""

    class Repo:
        def save(self, name: str, pin: int) -> None:
            """Save something."""

    capturer = argument_capturer(Repo.save)
    assert json.loads(capturer(("n1",), {"pin": 1234}, Repo()).to_json()) == {
        "name": "n1",
        "pin": REDACTED,
    }
    assert list(capturer((Repo(), "n2"), {}).data) == ["self", "name"]


def test_argument_capturer_limits_stay_strict() -> None:
    """Tight limits disable the fast path rather than let a value past them."""
    capturer = argument_capturer(_login, CaptureLimits(max_string=2, max_total=30))
    got = capturer(("abcdef", "x"), {"retries": 1})
    assert got.truncated and "abcdef" not in got.to_json()


def test_argument_capturer_of_unsignable_callable() -> None:
    """A callable without a signature is captured as args/kwargs, still scrubbed."""
    got = argument_capturer(print)(("Bearer abcdefghijkl",), {"token": "t"})
    assert "abcdefghijkl" not in got.to_json() and got.data["kwargs"] == {"token": REDACTED}


_RESULTS = [1, -7, 2.5, True, None, "abc", "x" * 40, "AKIAIOSFODNN7EXAMPLE", 2**70,
            float("inf"), {"k": 1}, [1, "Bearer abcdefghijk"]]  # fmt: skip


@pytest.mark.parametrize("value", _RESULTS)
def test_result_capturer_matches_capture(value: Any) -> None:
    """result_capturer's fast path gives exactly what capture gives."""
    got, expected = result_capturer()(value), capture(value)
    assert (got.data, got.truncated, got.to_json()) == (
        expected.data,
        expected.truncated,
        expected.to_json(),
    )
