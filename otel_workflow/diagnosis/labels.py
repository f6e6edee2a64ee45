"""The closed set of error categories and which of them are worth retrying."""

from __future__ import annotations

import enum
from typing import Final


class ErrorCategory(str, enum.Enum):
    """What kind of failure an exception represents (a metric label: the set is closed)."""

    VALIDATION = "validation"
    TIMEOUT = "timeout"
    EXTERNAL_SERVICE = "external_service"
    CONSTRAINT = "constraint"
    NOT_FOUND = "not_found"
    AUTH = "auth"
    RESOURCE = "resource"
    CONFIGURATION = "configuration"
    PROGRAMMING = "programming"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


Category = ErrorCategory
"""Short alias."""

# As the durable-execution engines decide it (LangGraph's default_retry_on, Temporal's
# non-retryable application errors): transient failures retry, mistakes in the input, the
# code or the setup do not.  ``unknown`` retries, as Temporal retries any unclassified error.
RETRYABLE_CATEGORIES: Final = frozenset(
    {ErrorCategory.TIMEOUT, ErrorCategory.EXTERNAL_SERVICE, ErrorCategory.RESOURCE,
     ErrorCategory.UNKNOWN}
)  # fmt: skip

CATEGORY_VALUES: Final = tuple(c.value for c in ErrorCategory)
"""Every category label, in declaration order (dashboards and rules use this)."""


def parse_category(value: object, option: str = "category") -> ErrorCategory:
    """``value`` as an :class:`ErrorCategory`; a clear ValueError/TypeError otherwise."""
    if isinstance(value, ErrorCategory):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{option} must be an ErrorCategory or one of {CATEGORY_VALUES}, "
                        f"got {type(value).__name__}")  # fmt: skip
    try:
        return ErrorCategory(value)
    except ValueError:
        raise ValueError(f"{option} must be one of {CATEGORY_VALUES}, got {value!r}") from None
