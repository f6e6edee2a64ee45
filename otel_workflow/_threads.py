"""Carry the current context (span and execution scope) into executor threads.

asyncio tasks and ``asyncio.to_thread`` copy ``contextvars`` already;
``concurrent.futures.ThreadPoolExecutor.submit`` (and so ``loop.run_in_executor``) does
not, so a step submitted to a pool would start a new trace.  We patch ``submit`` once to
run the callable in a copy of the submitter's context.  ``OTEL_WORKFLOW_PROPAGATE_THREADS=
false`` opts out; :func:`restore_thread_pool` undoes the patch.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from otel_workflow import settings

_lock = threading.Lock()
_original_submit: Callable[..., Future[Any]] | None = None


def _submit_in_context(
    self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Future[Any]:
    assert _original_submit is not None
    context = contextvars.copy_context()
    return _original_submit(self, context.run, fn, *args, **kwargs)


def ensure_context_propagation() -> None:
    """Patch ``ThreadPoolExecutor.submit`` once (idempotent, thread-safe)."""
    global _original_submit
    if _original_submit is not None:
        return
    with _lock:
        if _original_submit is not None or not settings.PROPAGATE_THREADS.get():
            return
        _original_submit = ThreadPoolExecutor.submit
        ThreadPoolExecutor.submit = _submit_in_context  # type: ignore[method-assign,assignment]


def restore_thread_pool() -> None:
    """Undo :func:`ensure_context_propagation`."""
    global _original_submit
    with _lock:
        if _original_submit is not None:
            ThreadPoolExecutor.submit = _original_submit  # type: ignore[method-assign]
            _original_submit = None
