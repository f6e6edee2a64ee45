"""Error categories: a closed set, chosen by class hierarchy and well-known names."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from otel_workflow.diagnosis import ErrorCategory, categorize, error_type_name


class ValidationError(ValueError):
    pass


class ReadTimeout(OSError):
    pass


class HTTPError(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "category"),
    [
        (ValueError("x"), ErrorCategory.VALIDATION),
        (ValidationError(), ErrorCategory.VALIDATION),
        (TimeoutError(), ErrorCategory.TIMEOUT),
        (ReadTimeout(), ErrorCategory.TIMEOUT),
        (ConnectionResetError(), ErrorCategory.EXTERNAL_SERVICE),
        (HTTPError(), ErrorCategory.EXTERNAL_SERVICE),
        (sqlite3.IntegrityError(), ErrorCategory.CONSTRAINT),
        (PermissionError(), ErrorCategory.PERMISSION),
        (FileNotFoundError(), ErrorCategory.NOT_FOUND),
        (KeyError("k"), ErrorCategory.NOT_FOUND),
        (MemoryError(), ErrorCategory.RESOURCE),
        (asyncio.CancelledError(), ErrorCategory.CANCELLED),
        (RuntimeError(), ErrorCategory.INTERNAL),
    ],
)
def test_categories(exc: BaseException, category: ErrorCategory) -> None:
    """Each exception lands in the category a workflow owner would expect."""
    assert categorize(exc) is category


def test_error_type_names() -> None:
    """Builtins keep their short name; other classes are fully qualified."""
    assert error_type_name(ValueError()) == "ValueError"
    assert error_type_name(sqlite3.IntegrityError) == "sqlite3.IntegrityError"
