"""Process-wide switches the decorators read on every call, kept to a few attribute loads.

``RUNTIME.active`` is the one flag the hot path checks: true when instrumentation is
enabled and someone consumes what it produces (a real tracer provider, or a metrics
consumer such as ``/metrics``, OTLP metrics or a test reader).  With no SDK configured the
decorators call straight through, noticing a provider set later through
:meth:`Runtime.wake`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from opentelemetry import trace

from otel_workflow import semconv, settings

_logger = logging.getLogger("otel_workflow")

ENV_ENABLED = settings.ENABLED.name


HOOK_METHODS = ("before", "after", "on_error")


def _global_provider_is_set() -> bool:
    # The API keeps the provider given to set_tracer_provider() in a module global; reading
    # it is ~40 ns, where get_tracer_provider() also consults os.environ on every call.
    return getattr(trace, "_TRACER_PROVIDER", None) is not None


class Runtime:
    """The switches behind every decorator (one instance: :data:`RUNTIME`)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.enabled = settings.ENABLED.get()
        self.tracer: trace.Tracer | None = None
        self.explicit_provider: trace.TracerProvider | None = None
        self.metrics_consumers = 0
        # What configure() set up (its handle), for the features built on it (debugger,
        # diagnosis) to find the store and provider without importing the composition root.
        self.telemetry: Any = None
        # Debugger/diagnosis hooks run around step bodies; empty tuple = nothing to do.
        self.hooks: tuple[Any, ...] = ()
        # Each hook method's handlers, bound once at registration.  ``call_hooks`` is true
        # when some hook wants every call (before/after): only then is a CallInfo built
        # per call; hooks with only ``on_error`` leave successful calls on the fast path.
        self.hook_handlers: dict[str, tuple[Any, ...]] = {m: () for m in HOOK_METHODS}
        self.call_hooks = False
        self.error_hooks = False
        # Bumped whenever the hooks or their interest change; each workflow/step caches
        # whether any hook is interested in it against this number.
        self.hook_generation = 0
        self.active = False
        self._refresh()

    # -- state changes (rare) ------------------------------------------------------------
    def _refresh(self) -> None:
        with self._lock:
            provider = self.explicit_provider
            if provider is None and _global_provider_is_set():
                provider = trace.get_tracer_provider()
            tracer = None
            if provider is not None and not isinstance(provider, trace.NoOpTracerProvider):
                tracer = provider.get_tracer(semconv.INSTRUMENTATION_SCOPE, _version())
                if hasattr(tracer, "sampler"):  # an SDK tracer: record what it would drop
                    from otel_workflow._sampling import wrap_tracer

                    wrap_tracer(tracer)
            self.tracer = tracer
            # A registered hook (the debugger, the diagnosis) is a consumer too.
            self.active = self.enabled and (
                tracer is not None or self.metrics_consumers > 0 or bool(self.hooks)
            )

    def wake(self) -> bool:
        """Called on the inactive path: pick up a global provider set since; cheap when none."""
        if not self.enabled:
            return False
        if self.tracer is None and self.explicit_provider is None and _global_provider_is_set():
            self._refresh()
        return self.active

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        self._refresh()

    def use_tracer_provider(self, provider: trace.TracerProvider | None) -> None:
        """Use ``provider`` instead of the global one (``None``: back to the global)."""
        self.explicit_provider = provider
        self._refresh()

    def add_metrics_consumer(self) -> None:
        with self._lock:
            self.metrics_consumers += 1
        self._refresh()

    def remove_metrics_consumer(self) -> None:
        with self._lock:
            self.metrics_consumers = max(0, self.metrics_consumers - 1)
        self._refresh()

    def add_hook(self, hook: Any) -> None:
        with self._lock:
            if any(h is hook for h in self.hooks):
                return
            self._set_hooks((*self.hooks, hook))

    def remove_hook(self, hook: Any) -> None:
        with self._lock:
            self._set_hooks(tuple(h for h in self.hooks if h is not hook))

    def _set_hooks(self, hooks: tuple[Any, ...]) -> None:
        handlers = {
            method: tuple(h for h in (getattr(hook, method, None) for hook in hooks)
                          if h is not None)
            for method in HOOK_METHODS
        }  # fmt: skip
        # Publish the handlers before the flags the hot path reads.
        self.hook_handlers = handlers
        self.call_hooks = bool(handlers["before"] or handlers["after"])
        self.error_hooks = bool(handlers["on_error"])
        self.hooks = hooks
        self.hook_generation += 1
        self._refresh()

    def hook_interest_changed(self) -> None:
        """A hook's ``interested()`` answers may have changed: ask again on next calls."""
        with self._lock:
            self.hook_generation += 1


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("otel-workflow")
    except Exception:
        return "0.0.0"


RUNTIME = Runtime()


def enable() -> None:
    """Turn instrumentation back on after :func:`disable` or ``OTEL_WORKFLOW_ENABLED=false``."""
    RUNTIME.set_enabled(True)


def disable() -> None:
    """Turn every decorator and proxy into a plain call-through, process-wide."""
    RUNTIME.set_enabled(False)
