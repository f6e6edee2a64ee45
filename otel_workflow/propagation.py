"""Executions across processes: W3C ``traceparent`` + ``baggage`` in a plain dict carrier.

``carrier = ow.inject()`` inside an execution writes the execution into a carrier; in
another process (a Celery worker, a web handler) :func:`continued_scope` reads it back,
and ``ow.continue_execution`` (in :mod:`otel_workflow.tracking`) runs a block in it: the
same trace, execution id, workflow name and user id, steps numbered on, the
``ow.attributes`` carried.  The carrier is a ``dict[str, str]``, so it travels as HTTP
headers or message headers alike.  Both W3C propagators are used explicitly, whatever
``OTEL_PROPAGATORS`` says, since the execution's identity rides in the baggage.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Mapping
from typing import Any

from opentelemetry import baggage, trace
from opentelemetry import context as context_api
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel_workflow._scope import CURRENT_SCOPE, Execution, Scope

__all__ = ["continued_scope", "inject", "inject_execution", "warn_once"]

_logger = logging.getLogger("otel_workflow")

_TRACE_CONTEXT = TraceContextTextMapPropagator()
_BAGGAGE = W3CBaggagePropagator()

# Baggage keys (our own namespace, so a user's baggage never collides with them).
KEY_EXECUTION_ID = "otel_workflow.execution.id"
KEY_WORKFLOW = "otel_workflow.workflow.name"
KEY_WORKFLOW_TYPE = "otel_workflow.workflow.type"
KEY_NEXT_STEP = "otel_workflow.step.next"
KEY_ATTRIBUTE_PREFIX = "otel_workflow.attr."

MAX_ATTRIBUTES = 32
MAX_VALUE_LENGTH = 256

_EXECUTION_ID = re.compile(r"[0-9a-f]{16}")
_warned: set[str] = set()


def warn_once(reason: str) -> None:
    """Log why a carrier could not be continued, once per reason."""
    if reason not in _warned:
        _warned.add(reason)
        _logger.warning("otel-workflow: %s; running the block as a new execution "
                        "(warned once)", reason)  # fmt: skip


def _peek_next_index(execution: Execution) -> int:
    # Reserving the next index keeps the sender from reusing it; the receiver starts there.
    return next(execution.step_counter)


def inject_execution(
    carrier: dict[str, str] | None, scope: Scope | None, context: Context | None
) -> dict[str, str]:
    """Write the execution of ``scope`` (and the span of ``context``) into ``carrier``."""
    carrier = {} if carrier is None else carrier
    ctx = context_api.get_current() if context is None else context
    execution = scope.execution if scope is not None else None
    if execution is not None:
        ctx = baggage.set_baggage(KEY_EXECUTION_ID, execution.execution_id, ctx)
        ctx = baggage.set_baggage(KEY_WORKFLOW, execution.name, ctx)
        ctx = baggage.set_baggage(KEY_WORKFLOW_TYPE, execution.workflow_type, ctx)
        ctx = baggage.set_baggage(KEY_NEXT_STEP, str(_peek_next_index(execution)), ctx)
        for key, value in list(scope.attributes.items())[:MAX_ATTRIBUTES]:  # type: ignore[union-attr]
            ctx = baggage.set_baggage(KEY_ATTRIBUTE_PREFIX + key,
                                      str(value)[:MAX_VALUE_LENGTH], ctx)  # fmt: skip
    _TRACE_CONTEXT.inject(carrier, ctx)
    _BAGGAGE.inject(carrier, ctx)
    return carrier


def inject(carrier: dict[str, str] | None = None) -> dict[str, str]:
    """A carrier that continues the current execution in another process."""
    return inject_execution(carrier, CURRENT_SCOPE.get(), None)


def continued_scope(carrier: Any) -> tuple[Context, Scope] | str:
    """The context and scope a carrier continues, or why it cannot (never raises)."""
    if not isinstance(carrier, Mapping):
        return f"continue_execution() got a {type(carrier).__name__}, not a dict carrier"
    try:
        # HTTP header names arrive in any case (urllib sends "Traceparent").
        carrier = {str(key).lower(): value for key, value in carrier.items()}
        ctx = _TRACE_CONTEXT.extract(carrier)
        ctx = _BAGGAGE.extract(carrier, ctx)
    except Exception as exc:  # a hostile carrier (non-str values, ...)
        return f"continue_execution() could not read its carrier ({type(exc).__name__})"
    if not trace.get_current_span(ctx).get_span_context().is_valid:
        return "continue_execution() got a carrier without a valid traceparent"
    entries = baggage.get_all(ctx)
    execution_id = str(entries.get(KEY_EXECUTION_ID, ""))
    name = str(entries.get(KEY_WORKFLOW, ""))
    if not _EXECUTION_ID.fullmatch(execution_id) or not name:
        return "continue_execution() got a carrier without an otel-workflow execution"
    try:
        next_index = max(0, int(str(entries.get(KEY_NEXT_STEP, "0"))))
    except ValueError:
        next_index = 0
    execution = Execution(name, str(entries.get(KEY_WORKFLOW_TYPE, "")))
    execution.execution_id = execution_id
    execution.step_counter = itertools.count(next_index)
    attributes = {
        key[len(KEY_ATTRIBUTE_PREFIX):]: str(value)[:MAX_VALUE_LENGTH]
        for key, value in list(entries.items())
        if key.startswith(KEY_ATTRIBUTE_PREFIX)
    }  # fmt: skip
    return ctx, Scope(execution, dict(list(attributes.items())[:MAX_ATTRIBUTES]))
