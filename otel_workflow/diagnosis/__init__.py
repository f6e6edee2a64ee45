"""Error diagnosis: categories now; root cause, fingerprints and suggestions build on them."""

from __future__ import annotations

from otel_workflow.diagnosis.categories import ErrorCategory, categorize, error_type_name

__all__ = ["ErrorCategory", "categorize", "error_type_name"]
