"""Error categories: a closed set, chosen by type, status, name hints and the cause chain."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator

import pytest

from otel_workflow.diagnosis import (
    CATEGORY_VALUES,
    ErrorCategory,
    categorize,
    classify,
    classify_record,
    error_type_name,
    is_retryable,
    register_error_rule,
    unregister_error_rule,
)


class ValidationError(ValueError):
    pass


class ReadTimeout(OSError):
    pass


class HTTPError(Exception):
    pass


class ApiError(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"api answered {status_code}")
        self.status_code = status_code


class PaymentDeclined(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "category"),
    [
        (ValueError("x"), ErrorCategory.VALIDATION),
        (ValidationError(), ErrorCategory.VALIDATION),
        (json.JSONDecodeError("bad", "{", 0), ErrorCategory.VALIDATION),
        (TimeoutError(), ErrorCategory.TIMEOUT),
        (ReadTimeout(), ErrorCategory.TIMEOUT),
        (ConnectionResetError(), ErrorCategory.EXTERNAL_SERVICE),
        (HTTPError(), ErrorCategory.EXTERNAL_SERVICE),
        (sqlite3.IntegrityError(), ErrorCategory.CONSTRAINT),
        (PermissionError(), ErrorCategory.AUTH),
        (FileNotFoundError(), ErrorCategory.NOT_FOUND),
        (ModuleNotFoundError(), ErrorCategory.CONFIGURATION),
        (KeyError("k"), ErrorCategory.PROGRAMMING),
        (AttributeError(), ErrorCategory.PROGRAMMING),
        (NameError(), ErrorCategory.PROGRAMMING),
        (ZeroDivisionError(), ErrorCategory.PROGRAMMING),
        (MemoryError(), ErrorCategory.RESOURCE),
        (asyncio.CancelledError(), ErrorCategory.CANCELLED),
        (RuntimeError(), ErrorCategory.UNKNOWN),
        (PaymentDeclined(), ErrorCategory.UNKNOWN),
    ],
)
def test_categories(exc: BaseException, category: ErrorCategory) -> None:
    """Each exception lands in the category a workflow owner would expect."""
    assert categorize(exc) is category


def test_category_set_is_the_documented_one() -> None:
    """The label set is exactly the eleven documented categories."""
    assert set(CATEGORY_VALUES) == {
        "validation", "timeout", "external_service", "constraint", "not_found", "auth",
        "resource", "configuration", "programming", "cancelled", "unknown",
    }  # fmt: skip


@pytest.mark.parametrize("code", [0, None])
def test_clean_system_exit_is_not_a_failure_category(code: int | None) -> None:
    """``sys.exit()``/``sys.exit(0)`` is a clean exit: cancelled, not programming or unknown."""
    assert categorize(SystemExit(code)) is ErrorCategory.CANCELLED


def test_failing_system_exit_is_unknown_and_not_retried() -> None:
    """``sys.exit(2)`` is a failure of unknown kind that a retry cannot fix."""
    verdict = classify(SystemExit(2))
    assert (verdict.category, verdict.retryable) == (ErrorCategory.UNKNOWN, False)


def test_cause_chain_decides_for_an_uninformative_wrapper() -> None:
    """A RuntimeError raised from a connection error is an external-service failure."""
    try:
        try:
            raise ConnectionRefusedError("refused")
        except ConnectionError as inner:
            raise RuntimeError("charge failed") from inner
    except RuntimeError as exc:
        assert categorize(exc) is ErrorCategory.EXTERNAL_SERVICE
        assert classify(exc).retryable


@pytest.mark.parametrize(
    ("status", "category", "retryable"),
    [(401, "auth", False), (403, "auth", False), (404, "not_found", False),
     (409, "constraint", False), (422, "validation", False), (400, "validation", False),
     (429, "external_service", True), (503, "external_service", True)],
)  # fmt: skip
def test_http_status_on_the_exception(status: int, category: str, retryable: bool) -> None:
    """An exception carrying ``status_code`` is judged by the status."""
    verdict = classify(ApiError(status))
    assert (verdict.category.value, verdict.retryable, verdict.status) == (
        category, retryable, status)


@pytest.fixture
def declined_rule() -> Iterator[None]:
    rule = register_error_rule(PaymentDeclined, category="validation", retryable=False)
    yield
    unregister_error_rule(rule)


@pytest.mark.usefixtures("declined_rule")
def test_user_rule_takes_precedence() -> None:
    """A registered rule decides the category and retryability of what it matches."""
    assert categorize(PaymentDeclined()) is ErrorCategory.VALIDATION
    assert categorize(PaymentDeclined) is ErrorCategory.VALIDATION
    assert not is_retryable(PaymentDeclined())
    stored = classify_record(error_type_name(PaymentDeclined), "x")
    assert stored.category is ErrorCategory.VALIDATION


def test_bad_rule_arguments_are_clear_errors() -> None:
    """Rules reject a non-exception class, an unknown category and a non-bool retryable."""
    with pytest.raises(TypeError, match="match"):
        register_error_rule(int)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="category"):
        register_error_rule(PaymentDeclined, category="nope")
    with pytest.raises(TypeError, match="retryable"):
        register_error_rule(PaymentDeclined, retryable="no")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("type_name", "message", "category"),
    [("httpx.ConnectError", "All connection attempts failed", "external_service"),
     ("ConnectError", "", "unknown"),
     ("httpx.HTTPStatusError", "Client error '404 Not Found' for url 'http://h:81/x'", "not_found"),
     ("requests.exceptions.HTTPError", "429 Client Error: Too Many Requests for url: x",
      "external_service"),
     ("pydantic_core._pydantic_core.ValidationError", "1 validation error", "validation"),
     ("sqlite3.IntegrityError", "UNIQUE constraint failed: orders.ref", "constraint"),
     ("psycopg2.errors.UniqueViolation", "duplicate key", "constraint"),
     ("botocore.exceptions.ReadTimeoutError", "", "timeout"),
     ("KeyError", "'sku'", "programming"),
     ("SystemExit", "0", "cancelled"),
     ("acme.QuotaExhausted", "", "resource")],
)  # fmt: skip
def test_stored_errors_are_classified_by_name(type_name: str, message: str, category: str) -> None:
    """A type name and message read from a span get the category the live exception would."""
    assert classify_record(type_name, message).category.value == category


def test_error_type_names() -> None:
    """Builtins keep their short name; other classes are fully qualified."""
    assert error_type_name(ValueError()) == "ValueError"
    assert error_type_name(sqlite3.IntegrityError) == "sqlite3.IntegrityError"
