"""Sort an exception into a small, fixed set of categories.

The category is a metric label (``workflow.error.category``), so the set is closed and
small.  Classification looks at the exception's class hierarchy first (stdlib types we
know), then at well-known names anywhere in the MRO (``ValidationError`` from pydantic or
marshmallow, ``IntegrityError`` from any DB-API driver, ``*Timeout*`` from HTTP clients),
so no third-party package needs to be importable.  Results are cached per class: an error
path costs one dict lookup after the first time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import socket
import threading


class ErrorCategory(str, enum.Enum):
    """What kind of failure an exception represents."""

    VALIDATION = "validation"
    TIMEOUT = "timeout"
    EXTERNAL_SERVICE = "external_service"
    CONSTRAINT = "constraint"
    NOT_FOUND = "not_found"
    PERMISSION = "permission"
    RESOURCE = "resource"
    CANCELLED = "cancelled"
    INTERNAL = "internal"

    def __str__(self) -> str:
        return self.value


# Checked in order: the first matching base class wins.
_BY_BASE: tuple[tuple[tuple[type[BaseException], ...], ErrorCategory], ...] = (
    ((asyncio.CancelledError, KeyboardInterrupt, GeneratorExit), ErrorCategory.CANCELLED),
    (
        (TimeoutError, asyncio.TimeoutError, concurrent.futures.TimeoutError, socket.timeout),
        ErrorCategory.TIMEOUT,
    ),
    ((PermissionError,), ErrorCategory.PERMISSION),
    ((FileNotFoundError,), ErrorCategory.NOT_FOUND),
    ((ConnectionError, socket.gaierror), ErrorCategory.EXTERNAL_SERVICE),
    ((MemoryError, RecursionError), ErrorCategory.RESOURCE),
    ((ValueError, TypeError, AssertionError, UnicodeError), ErrorCategory.VALIDATION),
    ((KeyError, IndexError, LookupError), ErrorCategory.NOT_FOUND),
)

# Substrings of class names anywhere in the MRO (lower-cased), checked in order.
_BY_NAME: tuple[tuple[tuple[str, ...], ErrorCategory], ...] = (
    (("timeout", "timedout", "deadline"), ErrorCategory.TIMEOUT),
    (("integrity", "constraint", "unique", "conflict", "duplicate"), ErrorCategory.CONSTRAINT),
    (("validation", "invalid", "schema", "decode", "parse"), ErrorCategory.VALIDATION),
    (("notfound", "doesnotexist", "missing"), ErrorCategory.NOT_FOUND),
    (("permission", "forbidden", "unauthorized", "auth"), ErrorCategory.PERMISSION),
    (
        ("connection", "http", "request", "transport", "network", "unavailable", "ratelimit",
         "throttl", "service", "grpc", "ssl"),
        ErrorCategory.EXTERNAL_SERVICE,
    ),
    (("memory", "quota", "exhausted", "capacity", "overflow"), ErrorCategory.RESOURCE),
)  # fmt: skip

_cache: dict[type[BaseException], ErrorCategory] = {}
_cache_lock = threading.Lock()
_CACHE_LIMIT = 4096


def _classify(cls: type[BaseException]) -> ErrorCategory:
    # Names first, so a library's ``ValidationError(ValueError)`` or ``ReadTimeout(OSError)``
    # is judged by what it says it is rather than by a generic stdlib base.
    names = [c.__name__.lower() for c in cls.__mro__ if c not in (BaseException, Exception)]
    for needles, category in _BY_NAME:
        if any(n in name for name in names for n in needles):
            return category
    for bases, category in _BY_BASE:
        if issubclass(cls, bases):
            return category
    return ErrorCategory.INTERNAL


def categorize(exc: BaseException | type[BaseException]) -> ErrorCategory:
    """The :class:`ErrorCategory` of an exception (or exception class); never raises.

    >>> categorize(TimeoutError())
    <ErrorCategory.TIMEOUT: 'timeout'>
    """
    cls = exc if isinstance(exc, type) else type(exc)
    try:
        return _cache[cls]
    except KeyError:
        pass
    try:
        category = _classify(cls)
    except Exception:  # a metaclass with a hostile __mro__ or __name__
        category = ErrorCategory.INTERNAL
    with _cache_lock:
        if len(_cache) < _CACHE_LIMIT:
            _cache[cls] = category
    return category


def error_type_name(exc: BaseException | type[BaseException]) -> str:
    """``error.type`` per the semantic conventions: the fully qualified class name.

    Builtins are left unqualified (``ValueError``, not ``builtins.ValueError``).
    """
    cls = exc if isinstance(exc, type) else type(exc)
    module = getattr(cls, "__module__", None)
    qualname = getattr(cls, "__qualname__", None) or cls.__name__
    if not module or module == "builtins":
        return str(qualname)
    return f"{module}.{qualname}"
