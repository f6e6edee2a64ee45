"""Decoration-time checks and what a decorated function still looks like."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator

import pytest

import otel_workflow as ow


def test_introspection_matches_original() -> None:
    """signature, __name__, __doc__, __wrapped__ and function kind answer as undecorated."""

    async def original(a: int, b: str = "x") -> int:
        """Docs."""
        return a

    decorated = ow.step(original)
    assert inspect.signature(decorated) == inspect.signature(original)
    assert decorated.__name__ == "original"
    assert decorated.__doc__ == "Docs."
    assert decorated.__wrapped__ is original
    assert inspect.iscoroutinefunction(decorated)

    @ow.workflow
    async def agen() -> AsyncIterator[int]:
        yield 1

    assert inspect.isasyncgenfunction(agen)


def test_bare_and_called_forms_agree() -> None:
    """@ow.step and @ow.step() produce working steps named after the function."""

    @ow.step
    def a() -> int:
        return 1

    @ow.step()
    def b() -> int:
        return 2

    assert (a(), b()) == (1, 2)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: ow.step(name=3), TypeError, "name must be a non-empty string"),
        (lambda: ow.workflow(name=""), TypeError, "name must be a non-empty string"),
        (lambda: ow.workflow(type=5), TypeError, "type must be a non-empty string"),
        (lambda: ow.workflow(version=1.5), TypeError, "version"),
        (lambda: ow.step("charge"), TypeError, "keyword-only"),
        (lambda: ow.step(retries=-1), ValueError, "retries"),
        (lambda: ow.step(retry_on=ValueError()), TypeError, "retry_on"),
        (lambda: ow.step(backoff=-1), ValueError, "backoff"),
        (lambda: ow.step(capture="everything"), ValueError, "capture"),
        (lambda: ow.step(retires=3), TypeError, "retires"),
        (lambda: ow.step(42), TypeError, "callable"),
        (lambda: ow.step(int), TypeError, "ow.instrument"),
    ],
)
def test_bad_options_fail_at_decoration(make: object, error: type, message: str) -> None:
    """Invalid options raise a clear error when decorating, naming the problem."""
    with pytest.raises(error, match=message):
        make()  # type: ignore[operator]


def test_retries_on_generator_rejected() -> None:
    """Retrying a generator cannot work (items already yielded): refused at decoration."""
    with pytest.raises(ValueError, match="generators"):

        @ow.step(retries=1)
        def gen() -> object:
            yield 1


def test_checks_happen_once_not_per_call(ow_telemetry: object) -> None:
    """A valid decorated function runs many times without re-validating (no errors)."""

    @ow.step(name="ok", retries=0, capture=False)
    def ok(x: int) -> int:
        return x

    assert [ok(i) for i in range(3)] == [0, 1, 2]
