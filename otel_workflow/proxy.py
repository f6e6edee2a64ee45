"""``instrument()`` / ``uninstrument()``: steps from objects, classes and import paths.

- An object: returns a wrapt proxy; each call of one of its public methods is a step.
  ``isinstance``, attribute access and assignment pass through to the object.
- A class: its public methods are patched in place (every instance, existing or new).
- An import path, ``"pkg.module:function"`` or ``"pkg.module:Class.method"``: that
  attribute is patched in place.  Code that imported the function by name *before* the
  patch keeps the original, as with any monkey-patching.

``uninstrument()`` undoes a class or path patch and returns the object behind a proxy.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Callable, Iterable
from typing import Any

import wrapt

from otel_workflow._decorators import step, workflow

_lock = threading.Lock()
# (owner, attribute name) -> the original attribute as found in owner.__dict__
_patched: dict[tuple[int, str], tuple[Any, str, Any]] = {}

_STEP = "step"
_WORKFLOW = "workflow"


def _decorator(kind: str, name: str, options: dict[str, Any]) -> Callable[[Any], Any]:
    if kind == _STEP:
        return step(name=name, **options)
    if kind == _WORKFLOW:
        return workflow(name=name, **options)
    raise ValueError(f"instrument(): kind must be 'step' or 'workflow', got {kind!r}")


def _public_methods(cls: type, methods: Iterable[str] | None) -> list[str]:
    if methods is not None:
        names = list(methods)
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"instrument(): method names must be strings, got {name!r}")
            if not callable(getattr(cls, name, None)):
                raise ValueError(f"instrument(): {cls.__name__} has no method {name!r}")
        return names
    return [
        name for name, value in vars(cls).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or isinstance(value, (classmethod, staticmethod)))
    ]  # fmt: skip


class InstrumentedProxy(wrapt.BaseObjectProxy):  # type: ignore[misc,type-arg]
    """A transparent proxy whose public method calls are steps."""

    def __init__(
        self, wrapped: Any, methods: Iterable[str] | None, prefix: str, kind: str,
        options: dict[str, Any],
    ) -> None:  # fmt: skip
        super().__init__(wrapped)
        self._self_methods = None if methods is None else frozenset(methods)
        self._self_prefix = prefix
        self._self_kind = kind
        self._self_options = options
        self._self_lock = threading.Lock()
        self._self_cache: dict[str, tuple[Any, Any]] = {}
        # Validate names and options now, not on first call (the factory checks options
        # without decorating anything).
        if self._self_methods is not None:
            _public_methods(type(wrapped), self._self_methods)
        _decorator(kind, prefix or "_", options)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.__wrapped__, name)
        if name.startswith("_") or not callable(value) or inspect.isclass(value):
            return value
        if self._self_methods is not None and name not in self._self_methods:
            return value
        function = getattr(value, "__func__", value)
        cached = self._self_cache.get(name)
        if cached is not None and cached[0] is function:
            return cached[1]
        wrapped = _decorator(self._self_kind, self._self_prefix + name, self._self_options)(value)
        with self._self_lock:
            self._self_cache[name] = (function, wrapped)
        return wrapped


def _resolve(path: str) -> tuple[Any, str, Any]:
    """``"pkg.mod:Class.method"`` -> (owner, attribute name, attribute)."""
    module_name, sep, attribute_path = path.partition(":")
    if not sep or not module_name or not attribute_path:
        raise ValueError(
            f"instrument(): import path must look like 'pkg.module:function' or "
            f"'pkg.module:Class.method', got {path!r}"
        )
    try:
        owner: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"instrument(): cannot import {module_name!r}: {exc}") from exc
    parts = attribute_path.split(".")
    for part in parts[:-1]:
        try:
            owner = getattr(owner, part)
        except AttributeError:
            raise ValueError(f"instrument(): {path!r}: no attribute {part!r}") from None
    name = parts[-1]
    if not hasattr(owner, name):
        raise ValueError(f"instrument(): {path!r}: no attribute {name!r}")
    raw = vars(owner).get(name) if isinstance(owner, type) else getattr(owner, name)
    if raw is None:
        raise ValueError(f"instrument(): {path!r} is inherited; patch the defining class")
    return owner, name, raw


def _patch(owner: Any, name: str, raw: Any, step_name: str, kind: str,
           options: dict[str, Any]) -> None:  # fmt: skip
    key = (id(owner), name)
    with _lock:
        if key in _patched:
            return  # already instrumented: idempotent
        if not callable(raw) and not isinstance(raw, (classmethod, staticmethod)):
            raise TypeError(f"instrument(): {step_name!r} is not callable")
        setattr(owner, name, _decorator(kind, step_name, options)(raw))
        _patched[key] = (owner, name, raw)


def instrument(
    target: Any,
    *,
    methods: Iterable[str] | None = None,
    prefix: str | None = None,
    kind: str = _STEP,
    **options: Any,
) -> Any:
    """Turn calls into steps (or workflows, with ``kind="workflow"``) without decorating.

    ``methods`` limits which public methods count (default: all public ones); ``prefix``
    is prepended to step names (default: ``"ClassName."``).  Other keyword arguments are
    :func:`~otel_workflow.step` options (``retries``, ``capture``, ...).

    >>> import otel_workflow as ow
    >>> class Pipeline:
    ...     def run(self) -> int:
    ...         return 1
    >>> pipeline = ow.instrument(Pipeline())
    >>> pipeline.run(), isinstance(pipeline, Pipeline)
    (1, True)
    """
    if prefix is not None and not isinstance(prefix, str):
        raise TypeError(f"instrument(): prefix must be a string, got {prefix!r}")
    if isinstance(target, str):
        owner, name, raw = _resolve(target)
        default = target.partition(":")[2]
        _patch(owner, name, raw, (prefix or "") + default, kind, options)
        return getattr(owner, name)
    if isinstance(target, type):
        names = _public_methods(target, methods)
        chosen_prefix = f"{target.__name__}." if prefix is None else prefix
        _decorator(kind, "_", options)
        for name in names:
            raw = vars(target).get(name)
            if raw is None:
                continue  # inherited: patch the class that defines it
            _patch(target, name, raw, chosen_prefix + name, kind, options)
        return target
    if callable(target) and (inspect.isfunction(target) or inspect.ismethod(target)):
        return _decorator(kind, (prefix or "") + target.__qualname__, options)(target)
    chosen_prefix = f"{type(target).__name__}." if prefix is None else prefix
    return InstrumentedProxy(target, methods, chosen_prefix, kind, options)


def uninstrument(target: Any) -> Any:
    """Undo :func:`instrument`: restore patched attributes, or unwrap a proxy.

    Returns the plain object (for a proxy) or the restored target.
    """
    if isinstance(target, InstrumentedProxy):
        return target.__wrapped__
    if isinstance(target, str):
        owner, name, _raw = _resolve(target)
        _restore(owner, name)
        return getattr(owner, name)
    if isinstance(target, type):
        for name in list(vars(target)):
            _restore(target, name)
        return target
    raise TypeError(
        "uninstrument() takes a proxy from instrument(), a class or an import path, "
        f"got {type(target).__name__}"
    )


def _restore(owner: Any, name: str) -> None:
    with _lock:
        entry = _patched.pop((id(owner), name), None)
    if entry is not None:
        setattr(owner, name, entry[2])

