"""User error rules: ``register_error_rule`` overrides category, retryability, suggestion
and fingerprint for the exceptions it matches.  Rules take precedence over built-in
knowledge; the most recently registered matching rule wins.

A rule matches by exception class (``isinstance`` for a live exception; the qualified
name for one read back from a span), by qualified name string (``"httpx.ConnectError"``,
matched against the MRO), or by predicate (``callable(exc) -> bool``; live exceptions
only, since a stored error has no object to call it with).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from otel_workflow._guard import report_internal_error
from otel_workflow.diagnosis.labels import ErrorCategory, parse_category

Matcher: TypeAlias = "type[BaseException] | str | Callable[[BaseException], bool]"
FingerprintSpec: TypeAlias = "str | Sequence[str] | Callable[[BaseException], str] | None"


@dataclass(frozen=True)
class ErrorRule:
    """One registered rule (see :func:`register_error_rule`)."""

    match: Matcher
    category: ErrorCategory | None = None
    retryable: bool | None = None
    suggestion: str | None = None
    fingerprint: FingerprintSpec = None
    name: str = ""

    def matches(self, exc: BaseException) -> bool:
        """True when this rule applies to the live exception ``exc``; never raises."""
        match = self.match
        try:
            if isinstance(match, type):
                return isinstance(exc, match)
            if isinstance(match, str):
                return match in mro_names(type(exc))
            return bool(match(exc))
        except Exception as internal:  # a user predicate that fails matches nothing
            report_internal_error("diagnosis.rule", internal)
            return False

    def matches_name(self, type_name: str) -> bool:
        """True when this rule applies to a stored exception of type ``type_name``."""
        match = self.match
        if isinstance(match, type):
            return type_name in mro_names(match)[:1] or type_name == match.__name__
        if isinstance(match, str):
            return match == type_name or type_name.endswith("." + match)
        return False


def qualified_name(cls: type) -> str:
    module = getattr(cls, "__module__", None) or ""
    qualname = getattr(cls, "__qualname__", None) or cls.__name__
    return str(qualname) if module in ("", "builtins") else f"{module}.{qualname}"


def mro_names(cls: type) -> list[str]:
    """Qualified names of ``cls`` and its bases, most derived first (object excluded)."""
    return [qualified_name(c) for c in cls.__mro__ if c is not object]


_lock = threading.Lock()
RULES: list[ErrorRule] = []
"""Registered rules, oldest first; read without the lock (list reads are atomic)."""


def _check_matcher(match: Any) -> Matcher:
    if isinstance(match, type):
        if not issubclass(match, BaseException):
            raise TypeError("register_error_rule: match must be an exception class, a "
                            f"qualified name or a predicate, got {match.__name__}")  # fmt: skip
        return match
    if isinstance(match, str):
        if not match.strip():
            raise ValueError("register_error_rule: match must not be an empty name")
        return match
    if callable(match):
        return match  # type: ignore[no-any-return]
    raise TypeError("register_error_rule: match must be an exception class, a qualified "
                    f"name or a predicate, got {type(match).__name__}")  # fmt: skip


def _check_fingerprint(fingerprint: Any) -> FingerprintSpec:
    if fingerprint is None or isinstance(fingerprint, str) or callable(fingerprint):
        return fingerprint  # type: ignore[no-any-return]
    if isinstance(fingerprint, (list, tuple)) and all(isinstance(p, str) for p in fingerprint):
        return tuple(fingerprint)
    raise TypeError("register_error_rule: fingerprint must be a string, a list of strings "
                    f"or a callable, got {type(fingerprint).__name__}")  # fmt: skip


def register_error_rule(
    match: Matcher, *, category: ErrorCategory | str | None = None,
    retryable: bool | None = None, suggestion: str | None = None,
    fingerprint: FingerprintSpec = None, name: str = "",
) -> ErrorRule:  # fmt: skip
    """Teach the diagnosis about an exception; returns the rule (pass it to
    :func:`unregister_error_rule` to remove it).

    ``fingerprint`` replaces the default grouping (a fixed string or a callable of the
    exception) or, as a list containing ``"{{ default }}"``, refines it (Sentry's syntax).

    >>> import otel_workflow as ow
    >>> class PaymentDeclined(Exception): ...
    >>> rule = ow.register_error_rule(PaymentDeclined, category="validation",
    ...     retryable=False, suggestion="Ask the customer for another card.")
    >>> ow.unregister_error_rule(rule)
    """
    matcher = _check_matcher(match)
    cat = None if category is None else parse_category(category, "register_error_rule: category")
    if retryable is not None and not isinstance(retryable, bool):
        raise TypeError(f"register_error_rule: retryable must be a bool, got {retryable!r}")
    if suggestion is not None and not isinstance(suggestion, str):
        raise TypeError("register_error_rule: suggestion must be a string")
    if not isinstance(name, str):
        raise TypeError("register_error_rule: name must be a string")
    rule = ErrorRule(matcher, cat, retryable, suggestion, _check_fingerprint(fingerprint), name)
    with _lock:
        RULES.append(rule)
    return rule


def unregister_error_rule(rule: ErrorRule) -> None:
    """Remove a rule; unknown rules are ignored."""
    with _lock:
        try:
            RULES.remove(rule)
        except ValueError:
            pass


def rule_for(exc: BaseException) -> ErrorRule | None:
    """The newest rule matching the live ``exc``, if any."""
    for rule in reversed(RULES):
        if rule.matches(exc):
            return rule
    return None


def rule_for_name(type_name: str) -> ErrorRule | None:
    """The newest rule matching a stored exception type name, if any."""
    for rule in reversed(RULES):
        if rule.matches_name(type_name):
            return rule
    return None
