"""Binding a call's arguments to parameter names, with the signature worked out once."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def signature_of(func: Callable[..., Any] | None) -> inspect.Signature | None:
    """``inspect.signature(func)``, or ``None`` where it has none (builtins, odd callables)."""
    if func is None:
        return None
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def bind_arguments(
    signature: inspect.Signature | None, func: Callable[..., Any] | None,
    args: tuple[Any, ...], kwargs: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """The arguments by parameter name; ``{"args": ..., "kwargs": ...}`` when they don't bind."""
    if signature is None:
        signature = signature_of(func)
    if signature is not None:
        try:
            return dict(signature.bind_partial(*args, **kwargs).arguments)
        except TypeError:
            pass
    return {"args": args, "kwargs": kwargs}
