"""The one guard for telemetry-side code: catch, log once with ``exc_info``, count, carry on.

Instrumentation must never break the user's call.  Every place where our own code could
fail on the user's thread goes through :func:`report_internal_error`, which logs the first
failure of each (component, exception type) pair with its traceback, then only counts.
The counts are exposed as the ``otel_workflow.instrumentation.errors`` self-metric.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

_logger = logging.getLogger("otel_workflow")

_lock = threading.Lock()
_counts: dict[str, int] = {}
_logged: set[tuple[str, type[BaseException]]] = set()
# Called with every reported error (not only the first of a kind): the pytest plugin in
# otel_workflow.testing collects them so a test fails on our own swallowed errors.
_listeners: list[Callable[[str, BaseException], None]] = []


def report_internal_error(component: str, exc: BaseException) -> None:
    """Record a failure inside otel-workflow's own code; never raises.

    ``component`` names where it happened (``"decorator"``, ``"exporter.store"``, ...)
    and becomes the self-metric's label, so keep it to a small fixed set.
    """
    try:
        key = (component, type(exc))
        with _lock:
            _counts[component] = _counts.get(component, 0) + 1
            first = key not in _logged
            if first:
                _logged.add(key)
            listeners = tuple(_listeners)
        if first:
            _logger.warning(
                "otel-workflow: internal error in %s (logged once, then counted); "
                "the instrumented code carries on unaffected",
                component,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        for listener in listeners:
            listener(component, exc)
    except Exception:  # pragma: no cover - logging itself failed; nothing more to do
        pass


def add_internal_error_listener(
    listener: Callable[[str, BaseException], None],
) -> Callable[[], None]:
    """Call ``listener(component, exc)`` on every reported error; returns its remover.

    A listener must not raise (an exception from it is swallowed with the report).
    """
    with _lock:
        _listeners.append(listener)

    def remove() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return remove


def internal_error_counts() -> dict[str, int]:
    """A copy of the per-component internal error counts (for the self-metric)."""
    with _lock:
        return dict(_counts)


def reset_internal_errors() -> None:
    """Forget counts and which errors were logged (tests use this)."""
    with _lock:
        _counts.clear()
        _logged.clear()
