"""The one capture function: bounded, secret-scrubbing, never raising.

Span attributes (opt-in argument/return capture), and later execution traces, snapshots,
breakpoint conditions and error context all turn live Python values into data through
:func:`capture`.  It walks a value into JSON-compatible data, stopping at limits on string
length, depth, items per container and total size, replacing the values of secret-named
keys with ``"[REDACTED]"`` and scrubbing secret-shaped strings (both rules live in
:mod:`otel_workflow.scrub`), and reports whether anything was cut.

Every step is bounded before it is done: a string is cut before it is scrubbed, a set or
mapping is read only up to ``max_items``, each node spends from ``max_total``, so a value
of any size or content costs about the same.  :func:`argument_capturer` and
:func:`result_capturer` do at decoration time what does not depend on the call.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from otel_workflow.scrub import REDACTED, TRUNCATED_MARK, is_inert, is_secret_key, scrub_text

__all__ = [
    "REDACTED",
    "TRUNCATED_MARK",
    "CaptureLimits",
    "Captured",
    "argument_capturer",
    "capture",
    "capture_arguments",
    "result_capturer",
]

# Ints wider than this are shown by size: their decimal form costs quadratic time to build
# (and Python refuses past 4,300 digits).
_MAX_INT_BITS = 256
# What a container node costs from the total budget, so empty containers are bounded too.
_NODE_COST = 2
_SCALAR_COST = 8


@dataclass(frozen=True)
class CaptureLimits:
    """Bounds for one captured value.

    ``secret_pattern``, if given, redacts keys it matches (``re.search``) *in addition* to
    :func:`otel_workflow.scrub.is_secret_key`; it can only make capture stricter.
    """

    max_string: int = 512
    max_depth: int = 4
    max_items: int = 32
    max_total: int = 4096
    secret_pattern: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        for name in ("max_string", "max_depth", "max_items", "max_total"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"CaptureLimits.{name} must be a positive int, got {value!r}")
        if self.secret_pattern is not None and not isinstance(self.secret_pattern, re.Pattern):
            raise TypeError(
                "CaptureLimits.secret_pattern must be a compiled re.Pattern or None, "
                f"got {type(self.secret_pattern).__name__}"
            )

    def is_secret(self, key: str) -> bool:
        """Whether ``key`` names a secret under these limits."""
        if is_secret_key(key):
            return True
        return self.secret_pattern is not None and self.secret_pattern.search(key) is not None


DEFAULT_LIMITS = CaptureLimits()


@dataclass
class Captured:
    """The result of :func:`capture`: JSON-compatible ``data`` and whether it was cut."""

    data: Any
    truncated: bool
    # The JSON text when a fast path already built it (identical to json.dumps of data).
    text: str | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> str:
        """Compact JSON text (always valid JSON, bounded by the limits)."""
        if self.text is not None:
            return self.text
        return json.dumps(self.data, ensure_ascii=False, separators=(",", ":"), default=str)


class _Walker:
    def __init__(self, limits: CaptureLimits) -> None:
        self.limits = limits
        self.budget = limits.max_total
        self.truncated = False
        self._seen: set[int] = set()

    def text(self, value: str) -> str:
        limit = max(1, min(self.limits.max_string, self.budget))
        if len(value) > limit:
            self.truncated = True
        value = scrub_text(value, limit)
        self.budget -= len(value) + _NODE_COST
        return value

    def walk(self, value: Any, depth: int) -> Any:
        if self.budget <= 0:
            self.truncated = True
            return TRUNCATED_MARK
        if value is None or isinstance(value, bool):
            self.budget -= _SCALAR_COST
            return value
        if isinstance(value, int):
            if value.bit_length() > _MAX_INT_BITS:
                self.truncated = True
                return self.text(f"<int {value.bit_length()} bits>")
            self.budget -= _SCALAR_COST
            return int(value)
        if isinstance(value, float):
            self.budget -= _SCALAR_COST
            # NaN and infinities have no JSON form: keep the output valid JSON.
            return float(value) if math.isfinite(value) else repr(value)
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.text(f"<{type(value).__name__} len={len(value)}>")
        if depth >= self.limits.max_depth:
            self.truncated = True
            return self.text(f"<{type(value).__name__}>")
        if id(value) in self._seen:
            return "<cycle>"
        self._seen.add(id(value))
        self.budget -= _NODE_COST
        try:
            return self._container(value, depth)
        except Exception:
            # A hostile __iter__/__getattr__/__len__ spoils only its own node.
            self.truncated = True
            return f"<{type(value).__name__} (capture failed)>"
        finally:
            self._seen.discard(id(value))

    def _container(self, value: Any, depth: int) -> Any:
        fields = _fields_of(value)
        if fields is not None:
            return self._mapping(fields.items(), len(fields), depth)
        if isinstance(value, Mapping):
            return self._mapping(value.items(), len(value), depth)
        if isinstance(value, (list, tuple, set, frozenset)):
            return self._sequence(value, depth)
        return self.text(_safe_repr(value))

    def _key(self, key: Any) -> tuple[str, bool]:
        name = self.text(key if isinstance(key, str) else _safe_repr(key))
        return name, self.limits.is_secret(name)

    def _mapping(self, items: Any, count: int, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for n, (key, item) in enumerate(itertools.islice(items, self.limits.max_items + 1)):
            if n >= self.limits.max_items:
                self.truncated = True
                out[TRUNCATED_MARK] = f"{count - n} more"
                break
            name, secret = self._key(key)
            out[name] = REDACTED if secret else self.walk(item, depth + 1)
        return out

    def _sequence(self, value: Any, depth: int) -> list[Any]:
        out: list[Any] = []
        for n, item in enumerate(itertools.islice(value, self.limits.max_items + 1)):
            if n >= self.limits.max_items:
                self.truncated = True
                out.append(f"{TRUNCATED_MARK} {len(value) - n} more")
                break
            # Headers as (name, value) pairs: the name says whether the value is a secret.
            if (type(item) in (tuple, list) and len(item) == 2 and isinstance(item[0], str)
                    and self.limits.is_secret(item[0][: self.limits.max_string])):  # fmt: skip
                self.budget -= _NODE_COST
                out.append([self.text(item[0]), REDACTED])
                continue
            out.append(self.walk(item, depth + 1))
        return out


def _fields_of(value: Any) -> dict[str, Any] | None:
    """Named fields of records whose repr would show them, as a mapping (None otherwise)."""
    if isinstance(value, tuple):
        names = getattr(type(value), "_fields", None)  # namedtuple / typing.NamedTuple
        if isinstance(names, tuple):
            return dict(zip(names, value, strict=False))
        return None
    if isinstance(value, (Mapping, list, set, frozenset)):
        return None
    cls = type(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
    if isinstance(value, SimpleNamespace):
        return dict(vars(value))
    attrs_fields = getattr(cls, "__attrs_attrs__", None)  # attrs classes
    if attrs_fields is not None:
        return {a.name: getattr(value, a.name, None) for a in attrs_fields}
    model_fields = getattr(cls, "model_fields", None)  # pydantic v2: shallow, no model_dump
    if isinstance(model_fields, dict):
        return {name: getattr(value, name, None) for name in model_fields}
    return None


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__} (repr failed)>"


def capture(value: Any, limits: CaptureLimits = DEFAULT_LIMITS) -> Captured:
    """Turn any value into bounded, scrubbed, JSON-compatible data; never raises.

    >>> capture({"user": "ada", "db_password": "hunter2"}).data
    {'user': 'ada', 'db_password': '[REDACTED]'}
    """
    walker = _Walker(limits)
    try:
        data = walker.walk(value, 0)
    except Exception:
        # Defensive: every node already contains its own failures.
        walker.truncated = True
        data = f"<{type(value).__name__} (capture failed)>"
    return Captured(data, walker.truncated)


def capture_arguments(bound: Mapping[str, Any], limits: CaptureLimits = DEFAULT_LIMITS) -> Captured:
    """Capture a call's bound arguments; arguments with secret-looking names are redacted."""
    return capture(dict(bound), limits)


# --- decoration-time capturers --------------------------------------------------------------

_MISSING = object()


def _scalar_json(value: Any, max_string: int) -> str | None:
    """The JSON text capture would produce for a small, inert scalar; None if not one."""
    t = type(value)
    if t is int:
        return str(value) if -(2**63) <= value < 2**63 else None
    if t is str:
        return f'"{value}"' if len(value) <= max_string and is_inert(value) else None
    if value is None:
        return "null"
    if t is bool:
        return "true" if value else "false"
    if t is float:
        return repr(value) if math.isfinite(value) else None
    return None


class _ArgumentCapturer:
    """Captures one function's arguments; the fast path gives what :func:`capture` would."""

    __slots__ = ("_fast", "_index", "_limits", "_names", "_positional", "_prefix", "_signature")

    def __init__(self, func: Callable[..., Any], limits: CaptureLimits) -> None:
        self._limits = limits
        try:
            self._signature: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):
            self._signature = None
        params = list(self._signature.parameters.values()) if self._signature else []
        named = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        self._names = [p.name for p in named]
        self._index = {p.name: i for i, p in enumerate(named) if p.kind != p.POSITIONAL_ONLY}
        self._positional = sum(p.kind != p.KEYWORD_ONLY for p in named)
        # "name": or "name":"[REDACTED]" per parameter, decided once.
        self._prefix = [
            json.dumps(p.name, ensure_ascii=False)
            + (f':"{REDACTED}"' if limits.is_secret(p.name) else ":")
            for p in named
        ]
        # The fast path is taken only when no limit can bite, so it never differs from
        # capture(): every value is a scalar or an inert string no longer than max_string.
        worst = _NODE_COST + sum(
            len(n) + _NODE_COST + max(_SCALAR_COST, limits.max_string + _NODE_COST)
            for n in self._names
        )
        self._fast = (
            self._signature is not None
            and len(named) <= limits.max_items
            and limits.max_depth >= 1
            and all(len(n) <= limits.max_string for n in self._names)
            and worst <= limits.max_total
        )

    def __call__(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], instance: Any = None
    ) -> Captured:
        skip = 1 if instance is not None and self._positional else 0
        if self._fast:
            fast = self._try_fast(args, kwargs, skip)
            if fast is not None:
                return fast
        return capture(self._bind(args, kwargs, skip), self._limits)

    def _try_fast(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], skip: int
    ) -> Captured | None:
        if len(args) + skip > self._positional:
            return None
        values: list[Any] = [_MISSING] * len(self._names)
        values[skip : skip + len(args)] = args
        for key, value in kwargs.items():
            i = self._index.get(key)
            if i is None or values[i] is not _MISSING or i < skip:
                return None
            values[i] = value
        data: dict[str, Any] = {}
        parts: list[str] = []
        max_string = self._limits.max_string
        for i in range(skip, len(values)):
            value = values[i]
            if value is _MISSING:
                continue
            prefix = self._prefix[i]
            if prefix[-1] == ":":
                text = _scalar_json(value, max_string)
                if text is None:
                    return None
                parts.append(prefix + text)
                data[self._names[i]] = value
            else:
                parts.append(prefix)
                data[self._names[i]] = REDACTED
        return Captured(data, False, "{" + ",".join(parts) + "}")

    def _bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any], skip: int) -> Any:
        if self._signature is not None:
            try:
                if skip:
                    bound = self._signature.bind_partial(_MISSING, *args, **kwargs)
                    arguments = dict(bound.arguments)
                    arguments.pop(self._names[0], None)
                    return arguments
                return dict(self._signature.bind_partial(*args, **kwargs).arguments)
            except (TypeError, ValueError):
                pass
        return {"args": args, "kwargs": dict(kwargs)}


def argument_capturer(
    func: Callable[..., Any], limits: CaptureLimits = DEFAULT_LIMITS
) -> Callable[..., Captured]:
    """A function ``(args, kwargs, instance=None) -> Captured`` for ``func``'s calls.

    The signature, which parameters are secret-named and their JSON names are worked out
    here, once; calls whose arguments are all small scalars skip the walk and the JSON
    encoder, with the same result :func:`capture_arguments` gives.  Pass the wrapt
    ``instance`` for a method called through its instance (its ``self``/``cls`` is then not
    in ``args`` and is not captured).  Never raises.
    """
    capturer = _ArgumentCapturer(func, limits)

    def capture_call(
        args: tuple[Any, ...], kwargs: Mapping[str, Any], instance: Any = None
    ) -> Captured:
        try:
            return capturer(args, kwargs, instance)
        except Exception:  # pragma: no cover - capture() itself never raises
            return Captured("<arguments (capture failed)>", True)

    return capture_call


def result_capturer(limits: CaptureLimits = DEFAULT_LIMITS) -> Callable[[Any], Captured]:
    """A function ``(value) -> Captured`` equal to ``capture(value, limits)``, faster for
    small scalars (no walk, no JSON encoder)."""
    max_string = limits.max_string

    def capture_result(value: Any) -> Captured:
        text = _scalar_json(value, max_string)
        if text is not None:
            return Captured(value, False, text)
        return capture(value, limits)

    return capture_result
