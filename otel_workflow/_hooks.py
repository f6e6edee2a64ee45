"""The one hook path around workflow and step bodies.

The debugger (breakpoints, watches, pause) and the error diagnosis (failing frames'
locals) plug in here rather than into the decorators.  A hook sees the live call —
arguments, the exception with its traceback, the return value — which a SpanProcessor
never does.  With no hook registered the decorators pay one truthiness check.

Hooks run inside the internal-error guard: a failing hook is logged once and counted, and
the user's call carries on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry import trace

from otel_workflow._runtime import RUNTIME


@dataclass
class CallInfo:
    """What a hook knows about one workflow or step call."""

    kind: str  # semconv.SPAN_KIND_WORKFLOW or SPAN_KIND_STEP
    name: str
    span: trace.Span | None
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    execution_id: str | None
    is_async: bool


class CallHook(Protocol):
    """Receives every instrumented call; each method must return quickly and not raise."""

    def before(self, call: CallInfo) -> None: ...

    def after(self, call: CallInfo, result: Any) -> None: ...

    def on_error(self, call: CallInfo, exc: BaseException) -> None: ...


def register_hook(hook: CallHook) -> None:
    """Run ``hook`` around every instrumented workflow and step call."""
    RUNTIME.add_hook(hook)


def unregister_hook(hook: CallHook) -> None:
    """Stop running ``hook``; unknown hooks are ignored."""
    RUNTIME.remove_hook(hook)
