"""The ``opentelemetry_instrumentor`` entry point: instrument code without changing it.

``opentelemetry-instrument python app.py`` loads every installed instrumentor; ours reads
``OTEL_WORKFLOW_INSTRUMENT``, a comma-separated list of import paths, and turns each into
a step (or a workflow, prefixed ``workflow=``)::

    OTEL_WORKFLOW_INSTRUMENT="shop.jobs:nightly_sync=workflow,shop.jobs:Loader.load" \\
        opentelemetry-instrument python -m shop.jobs
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from otel_workflow import settings
from otel_workflow.proxy import instrument, uninstrument

ENV_INSTRUMENT = settings.INSTRUMENT.name

_logger = logging.getLogger("otel_workflow")


def parse_targets(raw: str) -> list[tuple[str, str]]:
    """``"a:f=workflow, b:C.m"`` -> ``[("a:f", "workflow"), ("b:C.m", "step")]``.

    A target with an unknown kind is dropped with a warning; the others are kept.
    """
    targets = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        path, _, kind = item.partition("=")
        kind = kind.strip() or "step"
        if kind not in ("step", "workflow"):
            settings.INSTRUMENT.warn_invalid(item, "kind must be step or workflow",
                                             "the other targets")  # fmt: skip
            continue
        targets.append((path.strip(), kind))
    return targets


class WorkflowInstrumentor:
    """Duck-typed like ``opentelemetry.instrumentation.BaseInstrumentor``."""

    # Shared by all instances on purpose: like OpenTelemetry's BaseInstrumentor (a
    # singleton), any instance's uninstrument() undoes what the entry point patched.
    _instrumented: list[str] = []

    def instrumentation_dependencies(self) -> Collection[str]:
        return []

    def instrument(self, **kwargs: Any) -> None:
        """Patch every target named in ``OTEL_WORKFLOW_INSTRUMENT`` (or ``targets=``)."""
        for path, kind in parse_targets(kwargs.get("targets") or settings.INSTRUMENT.get()):
            try:
                instrument(path, kind=kind)
            except (ValueError, TypeError) as exc:
                # A typo in one target must not stop the application from starting.
                _logger.warning("otel-workflow: cannot instrument %s: %s", path, exc)
                continue
            self._instrumented.append(path)

    def uninstrument(self, **kwargs: Any) -> None:
        """Restore every target this instrumentor patched."""
        while self._instrumented:
            uninstrument(self._instrumented.pop())

    @property
    def is_instrumented_by_opentelemetry(self) -> bool:
        return bool(self._instrumented)
