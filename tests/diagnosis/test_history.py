"""Recording and history: groups, occurrences per attempt, evidence, origin, resolutions."""

from __future__ import annotations

import sqlite3

import pytest

import otel_workflow as ow
from otel_workflow.diagnosis.frequency import frequency
from tests.diagnosis.conftest import Recorded


class RateMissing(Exception):
    pass


@ow.step(capture="args")
def convert(currency: str, amount: int) -> float:
    rates = {"USD": 1.0, "EUR": 0.9}
    rate = rates.get(currency)
    return amount * rate.real  # type: ignore[union-attr]


@ow.workflow
def checkout(currency: str) -> float:
    return convert(currency, 10)


def _run(currencies: list[str]) -> list[BaseException]:
    errors = []
    for currency in currencies:
        try:
            checkout(currency)
        except AttributeError as exc:
            errors.append(exc)
    return errors


def test_evidence_names_the_argument_value_that_always_fails(recorded: Recorded) -> None:
    """currency='XAU' is in every failure and no success, with the counts."""
    errors = _run(["USD", "EUR"] * 10 + ["XAU"] * 3)
    recorded.flush()
    d = ow.diagnose(errors[-1], store=recorded.path)
    assert d.category == "programming" and not d.retryable
    top = d.evidence.items[0]  # type: ignore[union-attr]
    assert (top.key, top.value, top.failures_with, top.failures, top.successes_with,
            top.successes) == ("currency", "XAU", 3, 3, 0, 20)  # fmt: skip
    assert d.stack[-1].locals["rate"] is None
    assert any("rate is None" in s.text for s in d.suggestions)
    assert d.frequency is not None and d.frequency.count == 3


def test_one_group_for_the_workflow_and_its_step(recorded: Recorded) -> None:
    """A failure propagating from step to workflow is one occurrence, attributed to the step."""
    _run(["XAU", "XAU"])
    recorded.flush()
    conn = sqlite3.connect(recorded.path)
    rows = conn.execute("SELECT workflow, step, count(*) FROM diagnosis_occurrences "
                        "GROUP BY workflow, step").fetchall()  # fmt: skip
    groups = conn.execute("SELECT count(*), sum(count) FROM diagnosis_groups").fetchone()
    conn.close()
    assert rows == [("checkout", "convert", 2)]
    assert groups == (1, 2)


def test_evidence_says_when_capture_is_off(recorded: Recorded) -> None:
    """Without argument capture the evidence has no argument items and says why."""
    @ow.step
    def parse(text: str) -> int:
        return int(text)

    for text in ["1", "2", "x", "3", "y"]:
        try:
            parse(text)
        except ValueError as exc:
            last = exc
    recorded.flush()
    d = ow.diagnose(last, store=recorded.path)
    assert d.category == "validation"
    assert d.evidence is not None and not d.evidence.capture_enabled
    assert "capture" in d.evidence.note


flaky_calls = {"n": 0}


@ow.step(retries=2, retry_on=ConnectionError, backoff=0)
def fetch_rates() -> dict[str, float]:
    flaky_calls["n"] += 1
    if flaky_calls["n"] == 1:
        raise ConnectionResetError("rates service reset the connection")
    return {"USD": 1.0}


@ow.step
def load_rates() -> dict[str, float]:
    raise RateMissing("no rates file for 2024-05-01")


@ow.step
def price(rates: dict[str, float] | None) -> float:
    return rates["USD"]  # type: ignore[index]


@ow.workflow
def quote() -> float:
    fetch_rates()
    try:
        rates = load_rates()
    except RateMissing:
        rates = None
    return price(rates)


def test_origin_is_the_earlier_step_and_recovered_retries_are_apart(recorded: Recorded) -> None:
    """price fails because load_rates did: origin is load_rates; fetch_rates recovered."""
    flaky_calls["n"] = 0
    with pytest.raises(TypeError) as raised:
        quote()
    recorded.flush()
    d = ow.diagnose(raised.value, store=recorded.path)
    assert d.origin is not None
    assert d.origin.step == "load_rates"
    assert d.origin.path == ["quote", "load_rates"]
    assert [r["step"] for r in d.origin.recovered] == ["fetch_rates"]
    by_id = ow.diagnose(d.context["execution_id"], store=recorded.path)
    assert by_id.error_type.endswith("RateMissing")


def test_retried_attempts_are_occurrences_of_one_group(recorded: Recorded) -> None:
    """Each failed attempt is an occurrence; all attempts share the group."""
    @ow.step(retries=2, retry_on=ValueError, backoff=0)
    def always_bad(n: int) -> int:
        raise ValueError(f"bad value {n}")

    with pytest.raises(ValueError) as raised:
        always_bad(3)
    recorded.flush()
    conn = sqlite3.connect(recorded.path)
    attempts = [r[0] for r in conn.execute(
        "SELECT attempt FROM diagnosis_occurrences ORDER BY ts_ns")]  # fmt: skip
    groups = conn.execute("SELECT count(*) FROM diagnosis_groups").fetchone()[0]
    conn.close()
    assert (attempts, groups) == ([1, 2, 3], 1)
    d = ow.diagnose(raised.value, store=recorded.path)
    assert any("Stop retrying" in s.text for s in d.suggestions)


def test_resolution_is_shown_on_the_group_and_similar_groups(recorded: Recorded) -> None:
    """A resolved group's note appears in its diagnosis and as a similar group's note."""
    @ow.step
    def save_a(ref: str) -> None:
        raise KeyError(ref)

    @ow.step
    def save_b(ref: str) -> None:
        raise KeyError(ref)

    for step_fn in (save_a, save_b):
        try:
            step_fn("r-1")
        except KeyError as exc:
            last = exc
    recorded.flush()
    first = sqlite3.connect(recorded.path).execute(
        "SELECT fingerprint FROM diagnosis_occurrences WHERE step LIKE '%save_a'").fetchone()[0]
    ow.resolve(first, "refs are now created before saving", store=recorded.path)
    d = ow.diagnose(last, store=recorded.path)
    note = "refs are now created before saving"
    similar = {s.fingerprint: s for s in d.similar}
    assert first in similar and similar[first].resolution == note
    assert ow.diagnose(first, store=recorded.path).resolution == note


def test_unsampled_executions_are_recorded(recorded: Recorded) -> None:
    """A trace the sampler drops (RECORD_ONLY) still reaches the diagnosis."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    from otel_workflow._runtime import RUNTIME
    from otel_workflow._sampling import record_unsampled
    from otel_workflow.diagnosis.recording import DiagnosisSpanProcessor

    provider = TracerProvider(sampler=record_unsampled(ALWAYS_OFF))
    processor = DiagnosisSpanProcessor(recorded.path)
    provider.add_span_processor(processor)
    RUNTIME.use_tracer_provider(provider)
    try:
        _run(["XAU"])
        assert processor.force_flush(10_000)
    finally:
        RUNTIME.use_tracer_provider(recorded.telemetry.tracer_provider)
        processor.shutdown()
    assert processor.recorded == 1


def test_escalating_compares_the_latest_interval_with_the_forecast() -> None:
    """A steady rate is not escalating; a burst well above the forecast is."""
    hour = 3600 * 10**9
    now = 24 * hour
    steady = [h * hour + 1 for h in range(24) for _ in range(2)]
    burst = steady + [now - 10 + i for i in range(9)]
    calm = frequency(steady, total=len(steady), first_seen_ns=1, last_seen_ns=now, now_ns=now,
                     window_ns=24 * hour, interval_ns=hour)  # fmt: skip
    hot = frequency(burst, total=len(burst), first_seen_ns=1, last_seen_ns=now, now_ns=now,
                    window_ns=24 * hour, interval_ns=hour)  # fmt: skip
    assert (calm.escalating, calm.trend) == (False, "steady")
    assert (hot.escalating, hot.trend) == (True, "rising")
    # The same burst from a group first seen within the latest interval: new, no history.
    fresh = [now - 10 + i for i in range(9)]
    new = frequency(fresh, total=9, first_seen_ns=now - 10, last_seen_ns=now, now_ns=now,
                    window_ns=24 * hour, interval_ns=hour)  # fmt: skip
    assert (new.escalating, new.trend) == (False, "new")
