"""The execution scope that follows a workflow run through steps, threads and tasks.

One context variable holds an immutable :class:`Scope`: the current execution (if any)
and the extra span attributes given to :func:`attributes`.  Steps read it with a single
``ContextVar.get``; asyncio tasks, ``asyncio.to_thread`` and (once patched, see
``_threads``) executor submissions copy it along with the OpenTelemetry context.
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from random import getrandbits as _getrandbits
from typing import Any

from opentelemetry import trace
from opentelemetry.util import types as otel_types

from otel_workflow import semconv
from otel_workflow._guard import report_internal_error
from otel_workflow.scrub import scrub_attributes


class Execution:
    """One run of a workflow: its identity, root span and step counter."""

    __slots__ = ("execution_id", "name", "span", "step_counter", "workflow_type")

    def __init__(self, name: str, workflow_type: str = "") -> None:
        self.name = name
        self.workflow_type = workflow_type
        # 64 random bits: unique enough per store, far cheaper than uuid4 or os.urandom
        # (no system call); the random module reseeds itself in a forked child.
        self.execution_id = f"{_getrandbits(64):016x}"
        # The root span, set once started, so ow.attributes() can reach it later.
        self.span: trace.Span | None = None
        # next() on itertools.count is atomic under the GIL: concurrent steps in threads
        # never share an index.
        self.step_counter = itertools.count()


class Scope:
    """Immutable: replaced, never mutated, so copies held by other threads stay valid."""

    __slots__ = ("attributes", "execution", "step_attributes")

    def __init__(self, execution: Execution | None, attributes: Mapping[str, Any]) -> None:
        self.execution = execution
        # Scopes never mutate their dicts, so a parent's dict can be shared as it is.
        self.attributes: dict[str, Any] = (
            attributes if type(attributes) is dict else dict(attributes)
        )
        # What every step span started under this scope carries besides its own fields;
        # merged once here instead of on every step.
        step_attributes: dict[str, Any] = dict(attributes)
        if execution is not None:
            step_attributes[semconv.WORKFLOW_NAME] = execution.name
            step_attributes[semconv.WORKFLOW_EXECUTION_ID] = execution.execution_id
        else:
            step_attributes[semconv.WORKFLOW_NAME] = ""
        self.step_attributes = step_attributes


ROOT_SCOPE = Scope(None, {})
CURRENT_SCOPE: contextvars.ContextVar[Scope] = contextvars.ContextVar(
    "otel_workflow_scope", default=ROOT_SCOPE
)

_ALLOWED_SCALARS = (str, bool, int, float)


def _to_attribute_value(value: Any) -> otel_types.AttributeValue:
    # Span attributes accept primitives and homogeneous sequences of them; anything else
    # is stored as its bounded string form rather than silently dropped by the SDK.
    if isinstance(value, _ALLOWED_SCALARS):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    text = repr(value)
    return text if len(text) <= 256 else text[:255] + "…"


def normalize_attributes(values: Mapping[str, Any]) -> dict[str, otel_types.AttributeValue]:
    """Map ``ow.attributes`` keywords to attribute names and values.

    ``user_id`` and ``session_id`` become ``user.id`` and ``session.id``; other keys are
    kept as given.  ``None`` values are dropped.
    """
    out: dict[str, otel_types.AttributeValue] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"attribute names must be non-empty strings, got {key!r}")
        if value is None:
            continue
        out[semconv.ATTRIBUTE_ALIASES.get(key, key)] = _to_attribute_value(value)
    # Secret-named keys redacted, secret-shaped strings scrubbed (user.id and session.id
    # are identifiers the tracking API asks for, so only their values are scrubbed).
    return scrub_attributes(out, keep=_TRACKING_NAMES)


_TRACKING_NAMES = frozenset(semconv.ATTRIBUTE_ALIASES.values())


@contextmanager
def attributes(**values: Any) -> Iterator[None]:
    """Attach attributes to every span of the current execution and those started inside.

    The execution's root span and the current span get them at once (so ``user.id`` set
    inside a workflow still lands on the workflow span); every span started inside the
    ``with`` block carries them too, including spans in tasks and threads started there.

    >>> with attributes(user_id="u-42", tenant="acme"):
    ...     pass
    """
    normalized = normalize_attributes(values)
    current = CURRENT_SCOPE.get()
    merged = {**current.attributes, **normalized}
    token = CURRENT_SCOPE.set(Scope(current.execution, merged))
    try:
        _apply_to_open_spans(current.execution, normalized)
    except Exception as exc:  # pragma: no cover - defensive: never fail the user's block
        report_internal_error("attributes", exc)
    try:
        yield
    finally:
        CURRENT_SCOPE.reset(token)


def _apply_to_open_spans(
    execution: Execution | None, values: dict[str, otel_types.AttributeValue]
) -> None:
    if not values:
        return
    current_span = trace.get_current_span()
    if current_span.is_recording():
        current_span.set_attributes(values)
    root = execution.span if execution is not None else None
    if root is not None and root is not current_span and root.is_recording():
        root.set_attributes(values)
