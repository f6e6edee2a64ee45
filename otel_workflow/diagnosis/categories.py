"""Sort an exception into the closed set of :class:`ErrorCategory` and say if it may retry.

This module is on the step machine's error path (``categorize`` and ``error_type_name``
run for every failed step), so it stays light: no third-party imports, the type-level
verdict cached per class, and only a few exceptions (those carrying an HTTP or gRPC
status, ``SystemExit``, unknown types with a cause) looked at per instance.

Order of decision: a user rule (:func:`~otel_workflow.diagnosis.rules.register_error_rule`)
> the exception's own status (HTTP 401/403 auth, 404 not_found, 409 constraint, 400/422
validation, 429 and 5xx external_service) > the class, matched by package and class name
along the MRO (:mod:`~otel_workflow.diagnosis.known`; never imported) > name hints
(``*Timeout*``, ``*NotFound*``) > the ``__cause__``/``__context__`` chain when the
exception itself says nothing (``RuntimeError("charge failed") from ConnectError``).

The same decision works on a stored or exported error (type name, message, stack trace
string) through :func:`classify_record`, so errors recorded by other instrumentation are
categorised too.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from otel_workflow.diagnosis import known
from otel_workflow.diagnosis.labels import (
    RETRYABLE_CATEGORIES,
    Category,
    ErrorCategory,
    parse_category,
)
from otel_workflow.diagnosis.rules import RULES, ErrorRule, rule_for, rule_for_name

__all__ = ["Category", "Classification", "ErrorCategory", "categorize", "classify",
           "classify_record", "error_type_name", "http_status", "is_retryable",
           "parse_category", "type_key"]  # fmt: skip

_BY_LABEL = {c.value: c for c in ErrorCategory}
MAX_CHAIN = 8

# Per-class verdict: (category, how to refine per instance or None, the known key).
_Verdict = tuple[ErrorCategory, str | None, tuple[str, str] | None]
_cache: dict[type[BaseException], _Verdict] = {}
_cache_lock = threading.Lock()
_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class Classification:
    """The full verdict on one error: category, retryability and why."""

    category: ErrorCategory
    retryable: bool
    status: int | None = None  # HTTP status (or gRPC code name in ``detail``) if carried
    retry_after: float | None = None  # seconds, from the server's Retry-After
    detail: str = ""  # what decided: "rule", "status 429", "type httpx.ConnectError", ...
    rule: ErrorRule | None = None
    type_name: str = ""  # the type that decided (a cause's, when the chain decided)


def type_key(cls: type) -> tuple[str, str]:
    """``(package, class name)`` as :mod:`known` spells it (aliases folded)."""
    module = str(getattr(cls, "__module__", "") or "builtins")
    top = module.split(".", 1)[0]
    return known.PACKAGE_ALIASES.get(top, top), cls.__name__


def name_key(type_name: str) -> tuple[str, str]:
    """``type_key`` for a qualified name read from a span (``httpx.ConnectError``)."""
    name = type_name.strip().rsplit(".", 1)
    if len(name) == 1:
        return "builtins", name[0]
    top = name[0].split(".", 1)[0]
    return known.PACKAGE_ALIASES.get(top, top), name[1].rsplit(".", 1)[-1]


def _hint(name: str) -> ErrorCategory | None:
    lowered = name.lower()
    for needles, label in known.NAME_HINTS:
        if any(n in lowered for n in needles):
            return _BY_LABEL[label]
    return None


def _refinement(key: tuple[str, str], label: str) -> str | None:
    if label == "unknown":
        return "status"
    if key in known.STATUS_CARRIERS:
        return "botocore" if key[0] == "botocore" else "status"
    if key[0] == "grpc":
        return "grpc"
    if key == ("builtins", "SystemExit"):
        return "exit"
    return None


def _classify_type(cls: type[BaseException]) -> _Verdict:
    # Most derived first: a library's ValidationError(ValueError) is judged by what it
    # says it is, a user's PaymentDeclined(ValueError) by its nearest known base.
    for c in cls.__mro__:
        if c is object or c is BaseException or c is Exception:
            continue
        key = type_key(c)
        if key == ("builtins", "SystemExit"):
            return ErrorCategory.UNKNOWN, "exit", key
        label = known.KNOWN.get(key)
        if label is not None:
            return _BY_LABEL[label], _refinement(key, label), key
        if key[0] != "builtins":
            hinted = _hint(key[1])
            if hinted is not None:
                return hinted, "status", key
    # Nothing known: an instance may still carry a status or a known cause.
    return ErrorCategory.UNKNOWN, "status", None


def _verdict(cls: type[BaseException]) -> _Verdict:
    try:
        return _cache[cls]
    except KeyError:
        pass
    try:
        verdict = _classify_type(cls)
    except Exception:  # a metaclass with a hostile __mro__ or __name__
        verdict = (ErrorCategory.UNKNOWN, None, None)
    with _cache_lock:
        if len(_cache) < _CACHE_LIMIT:
            _cache[cls] = verdict
    return verdict


# -- per-instance refinements ---------------------------------------------------------
def _int_status(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    return None


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (``exc.response.status_code`` and the like)."""
    try:
        for attr in ("status_code", "status", "code", "http_status"):
            status = _int_status(getattr(exc, attr, None))
            if status is not None:
                return status
        response = getattr(exc, "response", None)
        if isinstance(response, dict):  # botocore: response["ResponseMetadata"]
            meta = response.get("ResponseMetadata") or {}
            return _int_status(meta.get("HTTPStatusCode"))
        if response is not None:
            for attr in ("status_code", "status"):
                status = _int_status(getattr(response, attr, None))
                if status is not None:
                    return status
    except Exception:  # a property that raises: no status
        return None
    return None


def retry_after_seconds(exc: BaseException) -> float | None:
    """Seconds from the response's ``Retry-After`` header (delta or HTTP date)."""
    try:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or getattr(exc, "headers", None)
        if headers is None:
            return None
        value = headers.get("Retry-After") or headers.get("retry-after")
        if value is None:
            return None
        text = str(value).strip()
        if text.isdigit():
            return float(text)
        import time

        return max(0.0, parsedate_to_datetime(text).timestamp() - time.time())
    except Exception:  # a malformed header: no hint
        return None


def status_category(status: int) -> tuple[ErrorCategory, bool]:
    """Category and retryability of an HTTP status."""
    if status in (401, 403, 407):
        return ErrorCategory.AUTH, False
    if status in (404, 410):
        return ErrorCategory.NOT_FOUND, False
    if status in (409, 412):
        return ErrorCategory.CONSTRAINT, False
    if status == 408:
        return ErrorCategory.TIMEOUT, True
    if status == 429:
        return ErrorCategory.EXTERNAL_SERVICE, True
    if status >= 500:
        return ErrorCategory.EXTERNAL_SERVICE, status != 501
    if status >= 400:
        return ErrorCategory.VALIDATION, False
    return ErrorCategory.EXTERNAL_SERVICE, False


def _grpc_code(exc: BaseException) -> str | None:
    try:
        code = exc.code()  # type: ignore[attr-defined]
        return str(getattr(code, "name", code)).rsplit(".", 1)[-1]
    except Exception:  # not a call-bearing RpcError
        return None


def _aws_code(exc: BaseException) -> str | None:
    try:
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            code = (response.get("Error") or {}).get("Code")
            return str(code) if code else None
    except Exception:  # an unusual response shape
        return None
    return None


def _refine(exc: BaseException, verdict: _Verdict) -> tuple[ErrorCategory, bool | None, int | None, str]:  # noqa: E501
    """(category, retryable override or None, status, detail) for one instance."""
    category, how, _key = verdict
    if how is None:
        return category, None, None, ""
    if how == "exit":
        code = getattr(exc, "code", None)
        # sys.exit() / sys.exit(0) inside a step is a clean exit, not a failure.
        if code is None or code == 0:
            return ErrorCategory.CANCELLED, False, None, "clean exit"
        return ErrorCategory.UNKNOWN, False, None, f"exit status {code!r}"
    if how == "grpc":
        name = _grpc_code(exc)
        label = known.GRPC_CODES.get(name or "")
        if label is not None:
            cat = _BY_LABEL[label]
            return cat, cat in RETRYABLE_CATEGORIES or name == "ABORTED", None, f"gRPC {name}"
        return category, None, None, ""
    if how == "botocore":
        aws = _aws_code(exc)
        label = known.AWS_CODES.get(aws or "")
        if label is not None:
            cat = _BY_LABEL[label]
            return cat, cat in RETRYABLE_CATEGORIES, http_status(exc), f"AWS {aws}"
    status = http_status(exc)
    if status is not None and status >= 400:
        cat, retry = status_category(status)
        return cat, retry, status, f"status {status}"
    return category, None, None, ""


def causes(exc: BaseException) -> list[BaseException]:
    """``exc``'s ``__cause__``/``__context__`` chain, nearest first (not ``exc`` itself),
    as Python prints it (a suppressed context is skipped), at most ``MAX_CHAIN`` long."""
    seen = {id(exc)}
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(out) < MAX_CHAIN:
        nxt = current.__cause__
        if nxt is None and not current.__suppress_context__:
            nxt = current.__context__
        if nxt is None or id(nxt) in seen:
            break
        seen.add(id(nxt))
        out.append(nxt)
        current = nxt
    return out


def categorize(exc: BaseException | type[BaseException]) -> ErrorCategory:
    """The :class:`ErrorCategory` of an exception (or exception class); never raises.

    >>> categorize(TimeoutError())
    <ErrorCategory.TIMEOUT: 'timeout'>
    """
    if isinstance(exc, type):
        if RULES:
            for class_rule in reversed(RULES):
                match = class_rule.match
                if class_rule.category is not None and isinstance(match, type) and issubclass(
                    exc, match
                ):
                    return class_rule.category
        return _verdict(exc)[0]
    if RULES:
        rule = rule_for(exc)
        if rule is not None and rule.category is not None:
            return rule.category
    verdict = _verdict(type(exc))
    if verdict[1] is None:
        return verdict[0]
    return classify(exc).category


def classify(exc: BaseException) -> Classification:
    """The full :class:`Classification` of a live exception; never raises."""
    try:
        return _classify(exc)
    except Exception:  # defensive: a hostile exception object
        return Classification(ErrorCategory.UNKNOWN, True, detail="unclassifiable")


def _classify(exc: BaseException) -> Classification:
    rule = rule_for(exc) if RULES else None
    verdict = _verdict(type(exc))
    category, retry, status, detail = _refine(exc, verdict)
    type_name = error_type_name(exc)
    if not detail:
        detail = f"type {type_name}" if verdict[2] is not None else ""
    if category is ErrorCategory.UNKNOWN and verdict[1] == "status":
        for cause in causes(exc):
            inner = _classify(cause)
            if inner.category is not ErrorCategory.UNKNOWN:
                category, retry, status = inner.category, inner.retryable, inner.status
                detail = f"cause {inner.type_name}: {inner.detail}"
                type_name = inner.type_name
                break
        else:
            # An ExceptionGroup (3.11+) says what its first member says.
            group = getattr(exc, "exceptions", None)
            if isinstance(group, tuple) and group and isinstance(group[0], BaseException):
                inner = _classify(group[0])
                category, retry, status = inner.category, inner.retryable, inner.status
    retryable = _default_retryable(category, verdict[2]) if retry is None else retry
    if rule is not None:
        category = rule.category or category
        retryable = rule.retryable if rule.retryable is not None else (
            retryable if rule.category is None else rule.category in RETRYABLE_CATEGORIES)
        detail = f"rule {rule.name or rule.match!r}"
    after = retry_after_seconds(exc) if status in (429, 503) else None
    return Classification(category, retryable, status, after, detail, rule, type_name)


def _default_retryable(category: ErrorCategory, key: tuple[str, str] | None) -> bool:
    if key in known.NOT_RETRYABLE_DESPITE_CATEGORY:
        return False
    if key in known.RETRYABLE_DESPITE_CATEGORY:
        return True
    if category is ErrorCategory.UNKNOWN and key is None:
        return True
    return category in RETRYABLE_CATEGORIES


def is_retryable(exc: BaseException) -> bool:
    """Whether retrying ``exc`` can succeed (the durable-execution engines' defaults)."""
    return classify(exc).retryable


# -- stored errors ----------------------------------------------------------------------
_URLISH = re.compile(r"\w+://\S+")
_STATUS_IN_TEXT = re.compile(r"(?<![\w.:/-])([45]\d\d)(?![\w.:/-])")


def _classify_name(type_name: str) -> tuple[ErrorCategory, tuple[str, str] | None]:
    key = name_key(type_name)
    label = known.KNOWN.get(key)
    if label is not None:
        return _BY_LABEL[label], key
    if key[0] == "builtins":
        import builtins

        cls = getattr(builtins, key[1], None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            return _verdict(cls)[0], key
        return ErrorCategory.UNKNOWN, None
    hinted = _hint(key[1])
    return (hinted, key) if hinted is not None else (ErrorCategory.UNKNOWN, None)


def classify_record(
    type_name: str, message: str = "", causes: tuple[tuple[str, str], ...] = ()
) -> Classification:
    """Classify an error known only by name and message (a stored or exported span's
    ``exception`` event, a log record); ``causes`` are the chained ``(type, message)``
    pairs from its stack trace, innermost last.  Never raises."""
    try:
        rule = rule_for_name(type_name) if RULES else None
        category, key = _classify_name(type_name)
        retry: bool | None = None
        status = None
        detail = f"type {type_name}" if key is not None else ""
        if key is not None and (key in known.STATUS_CARRIERS or category is ErrorCategory.EXTERNAL_SERVICE):  # noqa: E501
            found = _STATUS_IN_TEXT.search(_URLISH.sub(" ", message or ""))
            if found:
                status = int(found.group(1))
                category, retry = status_category(status)
                detail = f"status {status}"
        if key == ("builtins", "SystemExit"):
            clean = (message or "").strip() in ("", "0", "None")
            category = ErrorCategory.CANCELLED if clean else ErrorCategory.UNKNOWN
            retry = False
        if category is ErrorCategory.UNKNOWN:
            for cause_type, cause_message in causes:
                inner = classify_record(cause_type, cause_message)
                if inner.category is not ErrorCategory.UNKNOWN:
                    category, retry, status = inner.category, inner.retryable, inner.status
                    detail = f"cause {cause_type}: {inner.detail}"
                    break
        retryable = _default_retryable(category, key) if retry is None else retry
        if rule is not None:
            category = rule.category or category
            if rule.retryable is not None:
                retryable = rule.retryable
            elif rule.category is not None:
                retryable = rule.category in RETRYABLE_CATEGORIES
            detail = f"rule {rule.name or rule.match!r}"
        return Classification(category, retryable, status, None, detail, rule, type_name)
    except Exception:  # defensive: odd stored text
        return Classification(ErrorCategory.UNKNOWN, True, detail="unclassifiable")


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
