"""Error diagnosis: categories, fingerprints, history, evidence, suggestions, reports.

The light parts (categories, rules) import nothing heavy: the step machine uses
:func:`categorize` and :func:`error_type_name` on every failed step.
"""

from __future__ import annotations

from otel_workflow.diagnosis.categories import (
    Classification,
    categorize,
    classify,
    classify_record,
    error_type_name,
    is_retryable,
)
from otel_workflow.diagnosis.labels import CATEGORY_VALUES, Category, ErrorCategory
from otel_workflow.diagnosis.rules import ErrorRule, register_error_rule, unregister_error_rule

__all__ = [
    "CATEGORY_VALUES",
    "Category",
    "Classification",
    "ErrorCategory",
    "ErrorRule",
    "categorize",
    "classify",
    "classify_record",
    "error_type_name",
    "is_retryable",
    "register_error_rule",
    "unregister_error_rule",
]
