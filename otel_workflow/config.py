"""``configure()``: the SDK pipeline, ``/metrics``, OTLP and the embedded store, in one call.

Precedence is argument > environment variable > default (the variables are defined once, in
:mod:`otel_workflow.settings`).  An invalid or unusable environment value logs a warning and
falls back; an invalid argument raises ``TypeError``/``ValueError`` naming it.  Either way
``configure()`` is all or nothing: when it raises, nothing it opened stays open.  It attaches
to a tracer provider the user (or ``opentelemetry-instrument``) already set instead of
replacing it, and calling it twice returns the first handle.

At interpreter exit the handle is shut down within its deadline (``shutdown_timeout_millis``,
``OTEL_WORKFLOW_SHUTDOWN_TIMEOUT``): the last metrics are exported, and an unreachable
collector cannot hold the process longer than that.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from otel_workflow import settings
from otel_workflow._metrics import REGISTRY
from otel_workflow._runtime import RUNTIME
from otel_workflow._sampling import record_unsampled
from otel_workflow.exporters import otlp
from otel_workflow.exporters.drops import CountingBatchSpanProcessor, CountingSpanExporter

_logger = logging.getLogger("otel_workflow")

# Kept for callers and tests that name the variables through this module.
ENV_METRICS_PORT = settings.METRICS_PORT.name
ENV_METRICS_HOST = settings.METRICS_HOST.name
ENV_STORE = settings.STORE.name
ENV_MAX_LABEL_VALUES = settings.MAX_LABEL_VALUES.name
ENV_MULTIPROC_DIR = settings.MULTIPROC_DIR.name

_lock = threading.Lock()
_current: WorkflowTelemetry | None = None

# Errors that make an environment-provided resource unusable (StoreError is an OSError).
_UNUSABLE = (OSError, ValueError)
# A bind that fails for these reasons is the port's fault, not the host's.
_PORT_ERRNOS = (errno.EADDRINUSE, errno.EACCES)


class WorkflowTelemetry:
    """What :func:`configure` set up; flush and shut it down with deadlines."""

    def __init__(self, shutdown_timeout_millis: int = settings.SHUTDOWN_TIMEOUT.default) -> None:
        self.tracer_provider: TracerProvider | None = None
        self.owns_provider = False
        self.span_processors: list[SpanProcessor] = []
        self.metrics_server: Any = None
        self.metrics_pusher: Any = None
        self.snapshot_writer: Any = None
        self.store_path: str | None = None
        self.diagnosis: Any = None  # the error diagnosis recording into the store
        self.shutdown_timeout_millis = shutdown_timeout_millis
        self._shut_down = False

    @property
    def metrics_port(self) -> int | None:
        """The port ``/metrics`` is served on (the real one when 0 was asked for)."""
        return None if self.metrics_server is None else int(self.metrics_server.port)

    @property
    def metrics_url(self) -> str | None:
        return None if self.metrics_server is None else str(self.metrics_server.url)

    def force_flush(self, timeout_millis: int | None = None) -> bool:
        """Export everything buffered; False if the deadline passed or a part failed."""
        deadline = self.shutdown_timeout_millis if timeout_millis is None else timeout_millis
        parts: list[Callable[[], bool]] = [
            lambda p=p: bool(p.force_flush(deadline)) for p in self.span_processors  # type: ignore[misc]
        ]
        if self.metrics_pusher is not None:
            parts.append(lambda: bool(self.metrics_pusher.force_flush(deadline)))
        if self.snapshot_writer is not None:
            parts.append(lambda: self.snapshot_writer.flush() or True)
        return _bounded(parts, deadline)

    def shutdown(self, timeout_millis: int | None = None) -> bool:
        """Flush and stop everything configure() started; idempotent, bounded by the deadline
        (default: ``shutdown_timeout_millis``)."""
        global _current
        if self._shut_down:
            return True
        self._shut_down = True
        atexit.unregister(self._at_exit)
        tracking = sys.modules.get("otel_workflow.tracking")
        if tracking is not None:
            # Executions still open are recorded (cancelled) while the store still listens.
            tracking.cancel_unfinished()
        deadline = self.shutdown_timeout_millis if timeout_millis is None else timeout_millis
        parts: list[Callable[[], bool]] = [
            lambda p=p: p.shutdown() or True for p in self.span_processors  # type: ignore[misc]
        ]
        if self.metrics_pusher is not None:
            # In parallel with the span processors: a slow span export must not cost the
            # last metrics interval.
            parts.append(lambda: self.metrics_pusher.shutdown(deadline))
            RUNTIME.remove_metrics_consumer()
        if self.snapshot_writer is not None:
            parts.append(lambda: self.snapshot_writer.close() or True)
        if self.diagnosis is not None:
            parts.append(lambda: self.diagnosis.uninstall() or True)
        if self.metrics_server is not None:
            parts.append(lambda: self.metrics_server.close() or True)
        with _lock:
            if _current is self:
                _current = None
                RUNTIME.telemetry = None
        explicit = RUNTIME.explicit_provider
        if explicit is not None and explicit is self.tracer_provider:
            RUNTIME.use_tracer_provider(None)
        return _bounded(parts, deadline)

    def _at_exit(self) -> None:
        # Registered after the SDK's own exit hook for any provider we attach to (atexit runs
        # last-registered first), so this bounded shutdown runs first and the SDK's hook then
        # finds our processors already shut down.
        self.shutdown()


def _bounded(parts: Sequence[Callable[[], bool]], timeout_millis: int) -> bool:
    """Run ``parts`` in parallel daemon threads; True when all succeed within the deadline."""
    # Exporters can block on an unreachable endpoint: stop waiting at the deadline so the
    # application's own shutdown is never held hostage.
    results: list[bool] = []

    def run(part: Callable[[], bool]) -> None:
        try:
            results.append(bool(part()))
        except Exception:
            _logger.warning("otel-workflow: flush/shutdown failed", exc_info=True)
            results.append(False)

    threads = [threading.Thread(target=run, args=(part,), name="otel-workflow-flush",
                                daemon=True) for part in parts]  # fmt: skip
    for thread in threads:
        thread.start()
    end = _now() + timeout_millis / 1000.0
    for thread in threads:
        thread.join(max(0.0, end - _now()))
    if any(thread.is_alive() for thread in threads):
        _logger.warning("otel-workflow: flush/shutdown did not finish within %d ms",
                        timeout_millis)  # fmt: skip
        return False
    return all(results)


def _now() -> float:
    import time

    return time.monotonic()


def configure(
    *,
    service_name: str | None = None,
    metrics_port: int | None = None,
    metrics_host: str | None = None,
    store: str | os.PathLike[str] | None = None,
    store_retention: str | timedelta | None = None,
    otlp_endpoint: str | None = None,
    tracer_provider: TracerProvider | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    span_processors: Sequence[SpanProcessor] = (),
    multiprocess_dir: str | os.PathLike[str] | None = None,
    max_label_values: int | None = None,
    enabled: bool | None = None,
    shutdown_timeout_millis: int | None = None,
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
    - ``shutdown_timeout_millis``: the deadline of ``handle.shutdown()`` and of the
      shutdown at interpreter exit.

    Raises ``OSError`` when the metrics port or store given as an argument cannot be used
    and ``ValueError`` / ``TypeError`` for invalid options; nothing is left half set-up.

    >>> import otel_workflow as ow
    >>> handle = ow.configure(service_name="orders", metrics_port=0)  # doctest: +SKIP
    >>> handle.shutdown()  # doctest: +SKIP
    """
    global _current
    options: dict[str, Any] = {
        "service_name": service_name, "metrics_port": metrics_port,
        "metrics_host": metrics_host, "store": store, "store_retention": store_retention,
        "otlp_endpoint": otlp_endpoint, "tracer_provider": tracer_provider,
        "resource_attributes": resource_attributes, "span_processors": span_processors,
        "multiprocess_dir": multiprocess_dir, "max_label_values": max_label_values,
        "enabled": enabled, "shutdown_timeout_millis": shutdown_timeout_millis,
    }  # fmt: skip
    with _lock:
        if _current is not None:
            _warn_ignored(options)
            return _current
        _check_options(options)
        handle = _build(**options)
        _current = handle
        RUNTIME.telemetry = handle
        return handle


def current() -> WorkflowTelemetry | None:
    """The handle of the active :func:`configure` call, if any."""
    return _current


def _warn_ignored(options: Mapping[str, Any]) -> None:
    given = [name for name, value in options.items() if value is not None and value != ()]
    if given:
        _logger.warning(
            "otel-workflow: configure() was already called; ignoring %s. Call "
            "shutdown() on the first handle before configuring again.", ", ".join(given),
        )


def _require(ok: bool, option: str, expected: str, value: Any, error: type[Exception]) -> None:
    if not ok:
        raise error(f"configure(): {option} must be {expected}, got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_options(o: Mapping[str, Any]) -> None:
    """Raise TypeError/ValueError naming the first invalid argument (None means 'not given')."""
    def given(name: str) -> bool:
        return o[name] is not None

    def path_like(value: Any) -> bool:
        return isinstance(value, (str, os.PathLike)) and bool(os.fspath(value))

    for name in ("service_name", "metrics_host", "otlp_endpoint"):
        _require(not given(name) or (isinstance(o[name], str) and bool(o[name].strip())),
                 name, "a non-empty string", o[name], TypeError)  # fmt: skip
    for name in ("store", "multiprocess_dir"):
        _require(not given(name) or path_like(o[name]), name, "a non-empty path",
                 o[name], TypeError)  # fmt: skip
    port = o["metrics_port"]
    _require(not given("metrics_port") or _is_int(port), "metrics_port", "an int", port,
             TypeError)  # fmt: skip
    _require(not given("metrics_port") or 0 <= port <= 65535, "metrics_port",
             "from 0 to 65535", port, ValueError)  # fmt: skip
    for name in ("max_label_values", "shutdown_timeout_millis"):
        _require(not given(name) or (_is_int(o[name]) and o[name] >= 1), name,
                 "an int >= 1", o[name], ValueError)  # fmt: skip
    _require(not given("enabled") or isinstance(o["enabled"], bool), "enabled",
             "True or False", o["enabled"], TypeError)  # fmt: skip
    _require(not given("store_retention") or isinstance(o["store_retention"], (str, timedelta)),
             "store_retention", "a string such as '7d' or a timedelta", o["store_retention"],
             TypeError)  # fmt: skip
    _require(not given("store_retention") or given("store") or settings.STORE.get() is not None,
             "store_retention", "given with a store", o["store_retention"],
             ValueError)  # fmt: skip
    _require(not given("resource_attributes") or isinstance(o["resource_attributes"], Mapping),
             "resource_attributes", "a mapping", o["resource_attributes"],
             TypeError)  # fmt: skip
    provider = o["tracer_provider"]
    _require(not given("tracer_provider") or isinstance(provider, TracerProvider),
             "tracer_provider", "an SDK TracerProvider", provider, TypeError)  # fmt: skip
    processors = o["span_processors"]
    _require(isinstance(processors, Sequence) and not isinstance(processors, str),
             "span_processors", "a sequence of SpanProcessor", processors,
             TypeError)  # fmt: skip
    for processor in processors:
        _require(isinstance(processor, SpanProcessor), "span_processors",
                 "SpanProcessor instances", processor, TypeError)  # fmt: skip


def _open_or_fall_back(
    argument: Any, setting: settings.Setting[Any], open_: Callable[[Any], Any], fallback: str
) -> Any:
    """Open with the argument (errors raise) or else the environment's value (errors warn,
    then the setting's default is opened, or None when the default is None)."""
    if argument is not None:
        return open_(argument)
    value = setting.lookup()
    if value is not None:
        try:
            return open_(value)
        except _UNUSABLE as exc:
            if isinstance(exc, OSError) and exc.errno in _PORT_ERRNOS:
                raise
            setting.warn_invalid(str(value), str(exc), fallback)
    return None if setting.default is None else open_(setting.default)


def _open_metrics_server(port_argument: int | None, host: str | None, mp_dir: str | None) -> Any:
    from otel_workflow.exporters.prometheus import MetricsServer

    port = settings.METRICS_PORT.resolve(port_argument)
    if port is None:
        return None
    try:
        return _open_or_fall_back(host, settings.METRICS_HOST,
                                  lambda h: MetricsServer(port, h, multiprocess_dir=mp_dir),
                                  settings.METRICS_HOST.default_doc)  # fmt: skip
    except OSError as exc:
        if port_argument is not None:
            raise
        settings.METRICS_PORT.warn_invalid(str(port), str(exc), "no /metrics")
        return None


def _build(
    *, service_name: str | None, metrics_port: int | None, metrics_host: str | None,
    store: str | os.PathLike[str] | None, store_retention: str | timedelta | None,
    otlp_endpoint: str | None, tracer_provider: TracerProvider | None,
    resource_attributes: Mapping[str, Any] | None, span_processors: Sequence[SpanProcessor],
    multiprocess_dir: str | os.PathLike[str] | None, max_label_values: int | None,
    enabled: bool | None, shutdown_timeout_millis: int | None,
) -> WorkflowTelemetry:  # fmt: skip
    from otel_workflow.exporters.multiprocess import SnapshotWriter
    from otel_workflow.exporters.store import SQLiteSpanExporter

    handle = WorkflowTelemetry(settings.SHUTDOWN_TIMEOUT.resolve(shutdown_timeout_millis))
    use_otlp = otlp_endpoint is not None or otlp.otlp_configured()
    with contextlib.ExitStack() as undo:
        # Everything that can fail comes first and is undone on failure; global state
        # (the provider, the runtime switches) changes only once nothing can fail.
        handle.snapshot_writer = _open_or_fall_back(
            multiprocess_dir, settings.MULTIPROC_DIR, SnapshotWriter, "no shared directory")
        if handle.snapshot_writer is not None:
            undo.callback(handle.snapshot_writer.close)
        mp_dir = None if handle.snapshot_writer is None else str(handle.snapshot_writer.directory)
        handle.metrics_server = _open_metrics_server(metrics_port, metrics_host, mp_dir)
        if handle.metrics_server is not None:
            undo.callback(handle.metrics_server.close)
        store_exporter = _open_or_fall_back(
            store, settings.STORE, lambda p: SQLiteSpanExporter(p, retention=store_retention),
            "no store")  # fmt: skip
        if store_exporter is not None:
            undo.callback(store_exporter.shutdown)
            handle.store_path = str(store_exporter.path)
        otlp_spans = metric_exporter = None
        if use_otlp:
            otlp_spans = _otlp_processor(otlp_endpoint)
            undo.callback(otlp_spans.shutdown)
            metric_exporter = otlp.metric_exporter(otlp_endpoint)
            undo.callback(metric_exporter.shutdown)
        provider, owns = _provider(tracer_provider, service_name, resource_attributes)
        undo.pop_all()
    _install(handle, provider, owns, list(span_processors), store_exporter,
             otlp_spans if owns or otlp_endpoint is not None else None)  # fmt: skip
    if otlp_spans is not None and handle.span_processors[-1:] != [otlp_spans]:
        # Under opentelemetry-instrument the user's provider already exports OTLP.
        otlp_spans.shutdown()
    if metric_exporter is not None:
        handle.metrics_pusher = otlp.OTLPMetricsPusher(metric_exporter, provider.resource)
        RUNTIME.add_metrics_consumer()
    REGISTRY.cap.max_values = settings.MAX_LABEL_VALUES.resolve(max_label_values)
    RUNTIME.set_enabled(settings.ENABLED.resolve(enabled))
    RUNTIME.use_tracer_provider(tracer_provider)
    atexit.register(handle._at_exit)
    return handle


def _install(
    handle: WorkflowTelemetry, provider: TracerProvider, owns: bool,
    processors: list[SpanProcessor], store_exporter: Any, otlp_spans: SpanProcessor | None,
) -> None:  # fmt: skip
    handle.tracer_provider, handle.owns_provider = provider, owns
    if store_exporter is not None:
        # Every ended workflow/step span, sampled or not (RECORD_ONLY spans too); a bounded
        # queue that holds a CPU-bound burst whole; drops counted in the store itself.
        from otel_workflow.store import StoreSpanProcessor

        processors.append(StoreSpanProcessor(store_exporter))
        # configure() is the composition root: the error diagnosis records every failed
        # span into the same store, off the caller's thread (successful calls pay nothing).
        from otel_workflow.diagnosis.api import install as install_diagnosis

        handle.diagnosis = install_diagnosis(provider, str(store_exporter.path))
    if otlp_spans is not None:
        processors.append(otlp_spans)
    for processor in processors:
        provider.add_span_processor(processor)
    handle.span_processors = processors


def _otlp_processor(endpoint: str | None) -> SpanProcessor:
    # A batch processor skips spans that are recorded but not sampled (RECORD_ONLY), so
    # the sampler's decision is honoured exactly here, where spans leave the process.
    processor: SpanProcessor = CountingBatchSpanProcessor(
        CountingSpanExporter(otlp.span_exporter(endpoint), "exporter.otlp")
    )
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
    # The SDK picks the sampler from OTEL_TRACES_SAMPLER; what it drops is still recorded
    # (RECORD_ONLY, not exported), so the store, debugger and diagnosis see every span.
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.sampler = record_unsampled(provider.sampler)
    trace.set_tracer_provider(provider)
    return provider, True
