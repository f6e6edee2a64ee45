"""``configure()``: the SDK pipeline, ``/metrics``, OTLP and the embedded store, in one call.

Precedence is argument > environment variable > default; an invalid environment value
logs a warning and falls back.  ``configure()`` attaches to a tracer provider the user (or
``opentelemetry-instrument``) already set instead of replacing it, and calling it twice
returns the first handle.

Environment variables (besides the standard ``OTEL_*`` ones, which the SDK and the OTLP
exporters read themselves):

===================================  ===================================================
``OTEL_WORKFLOW_ENABLED``            ``false`` turns all instrumentation off
``OTEL_WORKFLOW_CAPTURE``            default argument/result capture: none|args|result|all
``OTEL_WORKFLOW_METRICS_PORT``       serve ``/metrics`` on this port (0: any free port)
``OTEL_WORKFLOW_METRICS_HOST``       bind address for ``/metrics`` (default 127.0.0.1)
``OTEL_WORKFLOW_STORE``              path of the embedded SQLite store
``OTEL_WORKFLOW_MAX_LABEL_VALUES``   distinct values per metric label before ``_OTHER``
``OTEL_WORKFLOW_MULTIPROC_DIR``      shared directory for one ``/metrics`` across workers
``OTEL_WORKFLOW_PROPAGATE_THREADS``  ``false``: don't carry context into thread pools
``OTEL_WORKFLOW_INSTRUMENT``         targets for the ``opentelemetry-instrument`` hook
===================================  ===================================================
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from otel_workflow._metrics import REGISTRY
from otel_workflow._runtime import ENV_ENABLED, RUNTIME, env_flag
from otel_workflow.exporters import otlp
from otel_workflow.exporters.drops import CountingBatchSpanProcessor, CountingSpanExporter
from otel_workflow.exporters.sampling import (
    TraceRatioFilter,
    creation_sampler,
    ratio_from_environment,
)

_logger = logging.getLogger("otel_workflow")

ENV_METRICS_PORT = "OTEL_WORKFLOW_METRICS_PORT"
ENV_METRICS_HOST = "OTEL_WORKFLOW_METRICS_HOST"
ENV_STORE = "OTEL_WORKFLOW_STORE"
ENV_MAX_LABEL_VALUES = "OTEL_WORKFLOW_MAX_LABEL_VALUES"
ENV_MULTIPROC_DIR = "OTEL_WORKFLOW_MULTIPROC_DIR"

_lock = threading.Lock()
_current: WorkflowTelemetry | None = None


def _env_int(name: str, minimum: int, maximum: int) -> int | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not minimum <= value <= maximum:
        _logger.warning("Invalid value %r for %s (expected %d-%d); ignoring it",
                        raw, name, minimum, maximum)  # fmt: skip
        return None
    return value


class WorkflowTelemetry:
    """What :func:`configure` set up; flush and shut it down with deadlines."""

    def __init__(self) -> None:
        self.tracer_provider: TracerProvider | None = None
        self.owns_provider = False
        self.span_processors: list[SpanProcessor] = []
        self.metrics_server: Any = None
        self.metrics_pusher: Any = None
        self.snapshot_writer: Any = None
        self.store_path: str | None = None
        self._shut_down = False

    @property
    def metrics_port(self) -> int | None:
        """The port ``/metrics`` is served on (the real one when 0 was asked for)."""
        return None if self.metrics_server is None else int(self.metrics_server.port)

    @property
    def metrics_url(self) -> str | None:
        return None if self.metrics_server is None else str(self.metrics_server.url)

    def force_flush(self, timeout_millis: int = 10000) -> bool:
        """Export everything buffered; returns False if the deadline passed or a part failed."""
        def flush() -> bool:
            ok = True
            for processor in self.span_processors:
                ok = bool(processor.force_flush(timeout_millis)) and ok
            if self.metrics_pusher is not None:
                ok = self.metrics_pusher.force_flush(timeout_millis) and ok
            if self.snapshot_writer is not None:
                self.snapshot_writer.flush()
            return ok

        return _bounded(flush, timeout_millis, default=False)

    def shutdown(self, timeout_millis: int = 10000) -> bool:
        """Flush and stop everything configure() started; idempotent, bounded by the deadline."""
        global _current
        if self._shut_down:
            return True
        self._shut_down = True

        def stop() -> bool:
            for processor in self.span_processors:
                processor.shutdown()
            if self.metrics_pusher is not None:
                self.metrics_pusher.shutdown(timeout_millis)
                RUNTIME.remove_metrics_consumer()
            if self.snapshot_writer is not None:
                self.snapshot_writer.close()
            if self.metrics_server is not None:
                self.metrics_server.close()
            return True

        with _lock:
            if _current is self:
                _current = None
        explicit = RUNTIME.explicit_provider
        if explicit is not None and explicit is self.tracer_provider:
            RUNTIME.use_tracer_provider(None)
        return _bounded(stop, timeout_millis, default=False)


def _bounded(func: Callable[[], bool], timeout_millis: int, default: bool) -> bool:
    # Exporters can block on an unreachable endpoint: run in a daemon thread and stop waiting
    # at the deadline so the application's own shutdown is never held hostage.
    result: list[bool] = []

    def run() -> None:
        try:
            result.append(func())
        except Exception:
            _logger.warning("otel-workflow: flush/shutdown failed", exc_info=True)
            result.append(False)

    thread = threading.Thread(target=run, name="otel-workflow-flush", daemon=True)
    thread.start()
    thread.join(timeout_millis / 1000.0)
    if thread.is_alive():
        _logger.warning("otel-workflow: flush/shutdown did not finish within %d ms",
                        timeout_millis)  # fmt: skip
        return default
    return result[0]


def configure(
    *,
    service_name: str | None = None,
    metrics_port: int | None = None,
    metrics_host: str | None = None,
    store: str | os.PathLike[str] | None = None,
    store_retention: str | None = None,
    otlp_endpoint: str | None = None,
    tracer_provider: TracerProvider | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    span_processors: Sequence[SpanProcessor] = (),
    multiprocess_dir: str | os.PathLike[str] | None = None,
    max_label_values: int | None = None,
    enabled: bool | None = None,
) -> WorkflowTelemetry:
    """Set up telemetry for instrumented workflows and return a handle.

    - ``service_name``: the ``service.name`` resource attribute (else ``OTEL_SERVICE_NAME``).
    - ``metrics_port`` / ``metrics_host``: serve Prometheus ``/metrics`` (host defaults
      to 127.0.0.1; port 0 picks a free one, see ``handle.metrics_port``).
    - ``store``: path of the embedded SQLite store that analytics read.
    - ``otlp_endpoint``: send spans and metrics over OTLP (else the standard
      ``OTEL_EXPORTER_OTLP_*`` variables; unset: no OTLP).
    - ``tracer_provider``: use this SDK provider without touching the global one.
      Without it, a global SDK provider already set is used as is (processors are added
      to it), else one is created and set globally.
    - ``multiprocess_dir``: share metrics across worker processes (see
      :mod:`otel_workflow.exporters.multiprocess`).

    Raises ``OSError`` when the metrics port cannot be bound and ``ValueError`` /
    ``TypeError`` for invalid options; nothing is left half set-up in either case.

    >>> import otel_workflow as ow
    >>> handle = ow.configure(service_name="orders", metrics_port=0)  # doctest: +SKIP
    >>> handle.shutdown()  # doctest: +SKIP
    """
    global _current
    with _lock:
        if _current is not None:
            given = [name for name, value in (
                ("service_name", service_name), ("metrics_port", metrics_port),
                ("metrics_host", metrics_host), ("store", store), ("otlp_endpoint", otlp_endpoint),
                ("tracer_provider", tracer_provider), ("multiprocess_dir", multiprocess_dir),
                ("max_label_values", max_label_values), ("enabled", enabled),
            ) if value is not None]  # fmt: skip
            if given:
                _logger.warning(
                    "otel-workflow: configure() was already called; ignoring %s. Call "
                    "shutdown() on the first handle before configuring again.", ", ".join(given),
                )
            return _current
        handle = _build(
            service_name=service_name, metrics_port=metrics_port, metrics_host=metrics_host,
            store=store, store_retention=store_retention, otlp_endpoint=otlp_endpoint,
            tracer_provider=tracer_provider, resource_attributes=resource_attributes,
            span_processors=span_processors, multiprocess_dir=multiprocess_dir,
            max_label_values=max_label_values, enabled=enabled,
        )  # fmt: skip
        _current = handle
        return handle


def current() -> WorkflowTelemetry | None:
    """The handle of the active :func:`configure` call, if any."""
    return _current


def _check_options(
    service_name: Any, metrics_host: Any, max_label_values: Any, span_processors: Any
) -> None:
    if service_name is not None and (not isinstance(service_name, str) or not service_name):
        raise TypeError(f"configure(): service_name must be a non-empty string, got "
                        f"{service_name!r}")  # fmt: skip
    if metrics_host is not None and not isinstance(metrics_host, str):
        raise TypeError(f"configure(): metrics_host must be a string, got {metrics_host!r}")
    if max_label_values is not None and (
        not isinstance(max_label_values, int) or isinstance(max_label_values, bool)
        or max_label_values < 1
    ):  # fmt: skip
        raise ValueError(f"configure(): max_label_values must be an int >= 1, got "
                         f"{max_label_values!r}")  # fmt: skip
    for processor in span_processors:
        if not isinstance(processor, SpanProcessor):
            raise TypeError(f"configure(): span_processors must be SpanProcessor instances, "
                            f"got {processor!r}")  # fmt: skip


def _build(
    *, service_name: str | None, metrics_port: int | None, metrics_host: str | None,
    store: str | os.PathLike[str] | None, store_retention: str | None,
    otlp_endpoint: str | None, tracer_provider: TracerProvider | None,
    resource_attributes: Mapping[str, Any] | None, span_processors: Sequence[SpanProcessor],
    multiprocess_dir: str | os.PathLike[str] | None, max_label_values: int | None,
    enabled: bool | None,
) -> WorkflowTelemetry:  # fmt: skip

    _check_options(service_name, metrics_host, max_label_values, span_processors)
    if tracer_provider is not None and not isinstance(tracer_provider, TracerProvider):
        raise TypeError("configure(): tracer_provider must be an SDK TracerProvider, got "
                        f"{type(tracer_provider).__name__}")  # fmt: skip
    if metrics_port is None:
        metrics_port = _env_int(ENV_METRICS_PORT, 0, 65535)
    host = metrics_host or os.environ.get(ENV_METRICS_HOST) or "127.0.0.1"
    store_path = store if store is not None else (os.environ.get(ENV_STORE) or None)
    mp_dir = multiprocess_dir or os.environ.get(ENV_MULTIPROC_DIR) or None
    if max_label_values is None:
        max_label_values = _env_int(ENV_MAX_LABEL_VALUES, 1, 1_000_000)
    use_otlp = otlp_endpoint is not None or otlp.otlp_configured()

    handle = WorkflowTelemetry()
    try:
        # Most likely to fail (port in use, bad store file) first, before any global change.
        if metrics_port is not None:
            from otel_workflow.exporters.prometheus import MetricsServer

            handle.metrics_server = MetricsServer(
                metrics_port, host, multiprocess_dir=None if mp_dir is None else str(mp_dir)
            )
        store_exporter = None
        if store_path is not None:
            from otel_workflow.exporters.store import SQLiteSpanExporter

            store_exporter = SQLiteSpanExporter(store_path, retention=store_retention)
            handle.store_path = str(store_path)
        if mp_dir is not None:
            from otel_workflow.exporters.multiprocess import SnapshotWriter

            handle.snapshot_writer = SnapshotWriter(mp_dir)
    except BaseException:
        if handle.metrics_server is not None:
            handle.metrics_server.close()
        raise

    if max_label_values is not None:
        REGISTRY.cap.max_values = max_label_values
    if enabled is not None:
        RUNTIME.set_enabled(enabled)
    elif not env_flag(ENV_ENABLED, True):
        RUNTIME.set_enabled(False)

    provider, owns = _provider(tracer_provider, service_name, resource_attributes)
    handle.tracer_provider, handle.owns_provider = provider, owns
    processors: list[SpanProcessor] = list(span_processors)
    if store_exporter is not None:
        # The store is local and cheap to write: export often so analytics are fresh.
        processors.append(CountingBatchSpanProcessor(
            CountingSpanExporter(store_exporter, "exporter.store"), schedule_delay_millis=1000,
        ))  # fmt: skip
    # Under opentelemetry-instrument the user's provider already exports OTLP; add ours only
    # when we own the provider or an endpoint was passed explicitly.
    if use_otlp and (owns or otlp_endpoint is not None):
        processors.append(_otlp_processor(otlp_endpoint))
    for processor in processors:
        provider.add_span_processor(processor)
    handle.span_processors = processors

    if use_otlp:
        handle.metrics_pusher = otlp.OTLPMetricsPusher(
            otlp.metric_exporter(otlp_endpoint), provider.resource
        )
        RUNTIME.add_metrics_consumer()
    if tracer_provider is not None:
        RUNTIME.use_tracer_provider(tracer_provider)
    else:
        RUNTIME.use_tracer_provider(None)
    return handle


def _otlp_processor(endpoint: str | None) -> SpanProcessor:
    processor: SpanProcessor = CountingBatchSpanProcessor(
        CountingSpanExporter(otlp.span_exporter(endpoint), "exporter.otlp")
    )
    ratio = ratio_from_environment()
    if ratio is not None and ratio < 1.0:
        processor = TraceRatioFilter(processor, ratio)
    return processor


def _provider(
    explicit: TracerProvider | None, service_name: str | None,
    resource_attributes: Mapping[str, Any] | None,
) -> tuple[TracerProvider, bool]:  # fmt: skip
    if explicit is not None:
        return explicit, False
    existing = trace.get_tracer_provider()
    if isinstance(existing, TracerProvider):
        return existing, False
    if not isinstance(existing, trace.ProxyTracerProvider):
        raise TypeError(
            "configure(): the global tracer provider is a "
            f"{type(existing).__name__}, not an SDK TracerProvider; pass tracer_provider="
        )
    attributes: dict[str, Any] = dict(resource_attributes or {})
    if service_name is not None:
        attributes[SERVICE_NAME] = service_name
    provider = TracerProvider(resource=Resource.create(attributes), sampler=creation_sampler())
    trace.set_tracer_provider(provider)
    return provider, True
