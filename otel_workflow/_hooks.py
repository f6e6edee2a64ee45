"""The one hook path around workflow and step bodies.

The debugger (breakpoints, watches, pause, replay) and the error diagnosis (failing frames'
locals) plug in here rather than into the decorators.  A hook sees the live call —
arguments, the exception with its traceback, the return value — which a SpanProcessor
never does.  With no hook registered the decorators pay one truthiness check.

When each method runs (the step machine in ``_instrumented`` guarantees this order):

- ``before(call)``: the span has started and is current, the body is about to run (for a
  generator: at its first resume, not when the generator object is created).  It may
  *block* (a sync call: the step's own thread waits) or, for an async call
  (``call.is_async``), *return an awaitable*, which is awaited on the step's own event loop,
  so other tasks keep running.  It may call :meth:`CallInfo.substitute_result` (skip the
  body, e.g. a replayed step) or :meth:`CallInfo.substitute_arguments` (replay overrides).
- ``after(call, result)`` / ``on_error(call, exc)``: the body has returned or raised; the
  span is still recording (a hook may add events and attributes); the same blocking and
  awaiting rules hold.  ``on_error`` gets the user's exception object;
  :meth:`CallInfo.error_frames` returns its frames without ours, each frame's locals
  captured through the one capture function (bounded, scrubbed).

Time spent inside hooks (a debugger pause) counts neither in the step's duration and CPU
metrics nor in the stored duration: the span carries it as a ``workflow.paused`` event and
the ``workflow.pause.duration`` attribute.

Hooks run inside the internal-error guard: a failing hook is logged once and counted, and
the user's call carries on.  A hook only needs the methods it uses.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import trace

from otel_workflow._runtime import RUNTIME
from otel_workflow._signature import bind_arguments

if TYPE_CHECKING:
    from otel_workflow.capture import CaptureLimits
    from otel_workflow.frames import FrameSnapshot

_UNSET: Any = object()


class _Raise:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def substituted(call: CallInfo) -> Any:
    """The substitute result of ``call``, raising a substitute exception."""
    value = call.substitute
    if type(value) is _Raise:
        raise value.exc
    return value

# The innermost instrumented call on this thread/task, maintained only while hooks are
# registered (CallInfo objects are not built otherwise).
CURRENT_CALL: contextvars.ContextVar[CallInfo | None] = contextvars.ContextVar(
    "otel_workflow_call", default=None
)


class CallInfo:
    """What a hook knows about one workflow or step call (one attempt of a step)."""

    __slots__ = ("_signature", "args", "attempt", "execution_id", "func", "is_async", "kind",
                 "kwargs", "name", "parent", "span", "step_index", "substitute", "workflow",
                 "workflow_type")  # fmt: skip

    def __init__(
        self, *, kind: str, name: str, workflow: str, workflow_type: str = "",
        span: trace.Span | None, args: tuple[Any, ...], kwargs: dict[str, Any],
        execution_id: str | None, is_async: bool, attempt: int = 1,
        step_index: int | None = None, parent: CallInfo | None = None,
        func: Any = None, signature: Any = None,
    ) -> None:  # fmt: skip
        self.kind = kind  # semconv.SPAN_KIND_WORKFLOW or SPAN_KIND_STEP
        self.name = name
        self.workflow = workflow  # the execution's workflow name ("" outside any workflow)
        self.workflow_type = workflow_type
        self.span = span  # None when no SDK is configured
        self.args = args
        self.kwargs = kwargs
        self.execution_id = execution_id
        self.is_async = is_async
        self.attempt = attempt
        self.step_index = step_index  # None for a workflow
        self.parent = parent  # the enclosing instrumented call, if any
        self.func = func
        self.substitute: Any = _UNSET
        self._signature = signature

    @property
    def is_workflow(self) -> bool:
        return self.kind == "workflow"

    def arguments(self) -> dict[str, Any]:
        """The call's arguments by parameter name (live objects: capture before showing)."""
        return bind_arguments(self._signature, self.func, self.args, self.kwargs)

    def substitute_result(self, value: Any) -> None:
        """From ``before``: don't run the body; the call returns ``value`` (a replay)."""
        self.substitute = value

    def substitute_exception(self, exc: BaseException) -> None:
        """From ``before``: don't run the body; the call raises ``exc`` (a replay divergence).

        Only for the debugger's own runs (replay, fork): the user's live code is never made
        to fail by a hook.
        """
        self.substitute = _Raise(exc)

    def substitute_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """From ``before``: run the body with these arguments instead (replay overrides)."""
        self.args = tuple(args)
        self.kwargs = dict(kwargs)

    @property
    def has_substitute(self) -> bool:
        return self.substitute is not _UNSET

    def error_frames(
        self, exc: BaseException, limits: CaptureLimits | None = None
    ) -> list[FrameSnapshot]:
        """The user's frames of ``exc`` (ours removed), outermost first, locals captured."""
        from otel_workflow.frames import capture_frames

        return capture_frames(exc, limits)

    def stack(self) -> list[CallInfo]:
        """This call and its enclosing instrumented calls, outermost first."""
        calls: list[CallInfo] = []
        call: CallInfo | None = self
        while call is not None:
            calls.append(call)
            call = call.parent
        calls.reverse()
        return calls

    def __repr__(self) -> str:
        return (f"CallInfo({self.kind} {self.name!r}, workflow={self.workflow!r}, "
                f"execution_id={self.execution_id!r}, attempt={self.attempt})")  # fmt: skip


class CallHook(Protocol):
    """Receives every instrumented call.  Each method is optional; see the module doc.

    An optional ``interested(kind, name) -> bool`` narrows which workflows and steps the
    ``before``/``after`` methods see (asked once per workflow or step and cached); call
    :func:`hook_interest_changed` when its answers change.
    """

    def before(self, call: CallInfo) -> Awaitable[None] | None: ...

    def after(self, call: CallInfo, result: Any) -> Awaitable[None] | None: ...

    def on_error(self, call: CallInfo, exc: BaseException) -> Awaitable[None] | None: ...


def register_hook(hook: CallHook) -> None:
    """Run ``hook`` around every instrumented workflow and step call.

    A registered hook counts as a consumer: hooks run even with no SDK configured.
    """
    RUNTIME.add_hook(hook)


def hook_interest_changed() -> None:
    """Tell the decorators that a hook's ``interested()`` answers may have changed."""
    RUNTIME.hook_interest_changed()


def unregister_hook(hook: CallHook) -> None:
    """Stop running ``hook``; unknown hooks are ignored."""
    RUNTIME.remove_hook(hook)
