"""The ``opentelemetry_instrumentor`` entry point: instrument code without changing it.

``opentelemetry-instrument python -m shop.jobs`` loads every installed instrumentor; ours
reads ``OTEL_WORKFLOW_INSTRUMENT``, a comma-separated list of import paths, and turns each
into a step (or a workflow, suffixed ``=workflow``)::

    OTEL_WORKFLOW_INSTRUMENT="shop.jobs:nightly_sync=workflow,shop.jobs:Loader.load" \\
    OTEL_WORKFLOW_STORE=otel-workflow.db OTEL_WORKFLOW_METRICS_PORT=9464 \\
        opentelemetry-instrument python -m shop.jobs

A target whose module is already imported is patched at once.  Any other is patched the
moment its module defines it, whether the module is imported by name or run by
``python -m`` as ``__main__`` (see :mod:`otel_workflow._import_hook` for why and how).
With at least one target, ``instrument()`` also calls :func:`otel_workflow.configure`
from the environment, so ``OTEL_WORKFLOW_STORE`` and ``OTEL_WORKFLOW_METRICS_PORT`` bring
up the store and ``/metrics``; it attaches to the tracer provider the distro set up.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Collection
from typing import Any

from otel_workflow import _import_hook, settings
from otel_workflow._guard import report_internal_error
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
        """Patch every target named in ``OTEL_WORKFLOW_INSTRUMENT`` (or ``targets=``).

        ``configure=False`` skips the :func:`otel_workflow.configure` call (for a process
        that configures telemetry itself, or a test).
        """
        targets = parse_targets(kwargs.get("targets") or settings.INSTRUMENT.get())
        if targets and kwargs.get("configure", True):
            _configure_from_environment()
        for path, kind in targets:
            module, _, attribute = path.partition(":")
            if module and attribute and module not in sys.modules:
                # Not imported yet (under opentelemetry-instrument it cannot even be: the
                # current directory is not on sys.path until runpy starts): patch it the
                # moment it defines the target, as itself or as __main__.
                _import_hook.when_bound(module, attribute.split(".")[0],
                                        self._deferred(attribute, kind))  # fmt: skip
                continue
            self._patch(path, kind)

    def _patch(self, path: str, kind: str) -> None:
        try:
            instrument(path, kind=kind)
        except (ValueError, TypeError) as exc:
            # A typo in one target must not stop the application from starting.
            _logger.warning("otel-workflow: cannot instrument %s: %s", path, exc)
            return
        self._instrumented.append(path)

    def _deferred(self, attribute: str, kind: str) -> _import_hook.Callback:
        def patch(running_name: str) -> None:
            self._patch(f"{running_name}:{attribute}", kind)

        return patch

    def uninstrument(self, **kwargs: Any) -> None:
        """Restore every target this instrumentor patched and stop waiting for the others."""
        _import_hook.forget_all()
        while self._instrumented:
            path = self._instrumented.pop()
            try:
                uninstrument(path)
            except ValueError:  # its module is gone (a finished __main__): nothing to restore
                pass

    @property
    def is_instrumented_by_opentelemetry(self) -> bool:
        return bool(self._instrumented)


def _configure_from_environment() -> None:
    """``configure()`` with nothing but the environment, unless the process already did."""
    from otel_workflow.config import configure, current

    if current() is not None:
        return
    try:
        configure()
    except (TypeError, ValueError, OSError) as exc:  # the environment's fault, not ours
        _logger.warning("otel-workflow: zero-code configure() failed: %s", exc)
    except Exception as exc:
        report_internal_error("instrumentor", exc)
