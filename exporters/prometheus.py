"""Prometheus exposition of otel-workflow's metrics: ``/metrics``, WSGI and ASGI apps.

The stock OpenTelemetry Prometheus exporter drops exemplars, so this renders our own
aggregates through ``prometheus_client``'s custom-collector API: the text format for
plain scrapers and OpenMetrics (with exemplars carrying ``trace_id``/``span_id`` on the
duration histograms) when the scraper asks for it.

With several worker processes (gunicorn, Celery prefork) give every process the same
``multiprocess_dir`` (or ``OTEL_WORKFLOW_MULTIPROC_DIR``): each writes its aggregates
there and any of them serves the sum over all of them, through a mounted app or the port
(see :mod:`.multiprocess`; with several workers asking for one port, one binds it and the
others stand by to take it over).

Every exposition starts with ``target_info`` (value 1, the resource attributes as labels,
dots as underscores), as OpenTelemetry's Prometheus compatibility rules ask of a pull
exporter; Prometheus itself adds ``job`` and ``instance`` from its scrape config.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from opentelemetry import trace
from prometheus_client import CollectorRegistry, make_asgi_app, make_wsgi_app
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar

from otel_workflow import semconv
from otel_workflow._guard import report_internal_error
from otel_workflow._runtime import RUNTIME
from otel_workflow.exporters import multiprocess
from otel_workflow.exporters.aggregates import (
    COUNTER,
    HISTOGRAM,
    MetricFamily,
    collect_families,
    prometheus_name,
)
from otel_workflow.exporters.metrics_http import BoundedWSGIServer

DEFAULT_HOST = "127.0.0.1"


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


_LE = [_le(b) for b in (*semconv.DURATION_BUCKETS, math.inf)]


class WorkflowCollector(Collector):
    """A ``prometheus_client`` collector over otel-workflow's aggregates.

    ``families`` defaults to this process's metrics; the multiprocess reader passes the
    merged families of every worker instead.
    """

    def __init__(self, families: Callable[[], list[MetricFamily]] = collect_families) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        try:
            info = target_info()
            families = self._families()
        except Exception as exc:
            report_internal_error("exporter.prometheus", exc)
            return
        yield info
        for family in families:
            yield render_family(family)

    def describe(self) -> Iterable[Metric]:
        # Collected on every scrape; describing nothing keeps registration side-effect free.
        return []


_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")
_PID = "process.pid"


def _resource_attributes() -> Mapping[str, Any]:
    """The resource of the tracer provider in use (ours, the user's, or the SDK default)."""
    provider: Any = RUNTIME.explicit_provider or trace.get_tracer_provider()
    resource = getattr(provider, "resource", None)
    if resource is None:
        from opentelemetry.sdk.resources import Resource

        resource = Resource.create()
    return dict(resource.attributes)


def _label_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def target_info(attributes: Mapping[str, Any] | None = None) -> Metric:
    """``target_info`` (value 1) labelled with the resource attributes.

    Keys are sanitised as OpenTelemetry's Prometheus rules say (anything outside
    ``[a-zA-Z0-9_]`` becomes ``_``, a leading digit gets ``key_``); keys that collide are
    joined with ``;``.  ``process.pid`` is read when the sample is taken, so a worker forked
    from a ``--preload``ed parent reports its own pid.
    """
    attrs = dict(_resource_attributes() if attributes is None else attributes)
    if _PID in attrs:
        attrs[_PID] = os.getpid()
    labels: dict[str, str] = {}
    for key in sorted(attrs):
        name = _INVALID_LABEL_CHARS.sub("_", key)
        if name[:1].isdigit():
            name = "key_" + name
        value = _label_value(attrs[key])
        labels[name] = f"{labels[name]};{value}" if name in labels else value
    return InfoMetricFamily("target", "Target metadata", value=labels)  # type: ignore[no-any-return]


def render_family(family: MetricFamily) -> Metric:
    """One family as a ``prometheus_client`` metric (names translated like the Collector)."""
    name = prometheus_name(family)
    label_keys = sorted({key for series in family.series for key in series.labels})
    label_names = [semconv.prometheus_label(key) for key in label_keys]
    unit = {"s": "seconds", "By": "bytes"}.get(family.unit, "")
    if family.kind == HISTOGRAM:
        metric: Any = HistogramMetricFamily(name, family.description, labels=label_names,
                                            unit=unit)  # fmt: skip
        for series in family.series:
            values = [series.labels.get(key, "") for key in label_keys]
            buckets: list[Any] = []
            cumulative = 0
            for i, count in enumerate(series.counts):
                cumulative += count
                exemplar = series.exemplars[i] if i < len(series.exemplars) else None
                if exemplar is not None:
                    buckets.append((_LE[i], cumulative, Exemplar(
                        {"trace_id": f"{exemplar.trace_id:032x}",
                         "span_id": f"{exemplar.span_id:016x}"},
                        exemplar.value, exemplar.time_unix_nano / 1e9,
                    )))  # fmt: skip
                else:
                    buckets.append((_LE[i], cumulative))
            metric.add_metric(values, buckets, series.sum)
        return metric  # type: ignore[no-any-return]
    if family.kind == COUNTER:
        metric = CounterMetricFamily(name.removesuffix("_total"), family.description,
                                     labels=label_names, unit=unit)  # fmt: skip
    else:
        metric = GaugeMetricFamily(name, family.description, labels=label_names, unit=unit)
    for series in family.series:
        metric.add_metric([series.labels.get(key, "") for key in label_keys], series.value)
    return metric  # type: ignore[no-any-return]


def make_registry(collector: Collector | None = None) -> CollectorRegistry:
    """A fresh ``CollectorRegistry`` holding only otel-workflow's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector or WorkflowCollector())
    return registry


class MultiprocessCollector(WorkflowCollector):
    """Serves the sum over every worker writing to ``directory`` (see :mod:`.multiprocess`)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        directory = Path(directory)
        if not directory.is_dir():
            raise ValueError(f"multiprocess directory {str(directory)!r} does not exist")
        super().__init__(lambda: multiprocess.read_all(directory))


def _directory_for(explicit: str | os.PathLike[str] | None) -> str | None:
    """The argument, else the directory ``configure()`` writes to, else the environment."""
    if explicit is not None:
        return str(explicit)
    active = multiprocess.active_directory()
    if active is not None:
        return str(active)
    from otel_workflow import settings

    directory = settings.MULTIPROC_DIR.get()
    if directory is not None and not os.path.isdir(directory):
        # An environment value: warn (once) and fall back, as configure() does.
        settings.MULTIPROC_DIR.warn_invalid(directory, "not a directory", "this process only")
        return None
    return directory


def _registry_for(multiprocess_dir: str | None) -> CollectorRegistry:
    if multiprocess_dir is None:
        return make_registry()
    return make_registry(MultiprocessCollector(multiprocess_dir))


def metrics_wsgi_app(*, multiprocess_dir: str | None = None) -> Callable[..., Any]:
    """A WSGI app serving ``/metrics``; mount it in Flask, Django, etc.

    With a multiprocess directory (the argument, ``configure(multiprocess_dir=...)`` or
    ``OTEL_WORKFLOW_MULTIPROC_DIR``) it serves the sum over every worker process.
    Mounting it counts as a metrics consumer for the life of the process: decorators
    record metrics from then on even without a tracer provider.
    """
    RUNTIME.add_metrics_consumer()
    return make_wsgi_app(_registry_for(_directory_for(multiprocess_dir)))  # type: ignore[no-any-return]


def metrics_asgi_app(*, multiprocess_dir: str | None = None) -> Callable[..., Any]:
    """An ASGI app serving ``/metrics``; mount it in Starlette, FastAPI, etc."""
    RUNTIME.add_metrics_consumer()
    return make_asgi_app(_registry_for(_directory_for(multiprocess_dir)))  # type: ignore[no-any-return]


TAKEOVER_INTERVAL = 0.5
"""Seconds between a standby process's attempts to take the shared port over."""


class _PortLock:
    """``flock`` on ``<dir>/otel-workflow-port-<port>.lock``: whoever holds it serves the port.

    The kernel releases the lock when its holder dies (even by SIGKILL), so a standby gets
    it on its next try.  A forked child closes its inherited copy: only the process that
    took the lock holds it.
    """

    def __init__(self, directory: str, port: int) -> None:
        self._path = Path(directory) / f"otel-workflow-port-{port}.lock"
        self._fd: int | None = None
        os.register_at_fork(after_in_child=self._forget)

    def try_acquire(self) -> bool:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _forget(self) -> None:
        self.release()


class MetricsServer:
    """A running ``/metrics`` HTTP server (started by ``configure(metrics_port=...)``).

    With a multiprocess directory and a fixed port, prefork workers may all ask for the
    same port: the first binds it, the others stand by (no error) and one of them binds
    within :data:`TAKEOVER_INTERVAL` of the serving worker's exit.  ``serving`` says
    whether this process holds the port now.
    """

    def __init__(
        self, port: int, host: str = DEFAULT_HOST, *, multiprocess_dir: str | None = None
    ) -> None:
        if not isinstance(port, int) or isinstance(port, bool):
            raise TypeError(f"metrics port must be an int, got {port!r}")
        if not 0 <= port <= 65535:
            raise ValueError(f"metrics port must be from 0 to 65535, got {port!r}")
        self.host = host
        self.port: int = port
        self._app = make_wsgi_app(_registry_for(_directory_for(multiprocess_dir)))
        self._server: BoundedWSGIServer | None = None
        self._closed = threading.Event()
        self._lock: _PortLock | None = None
        self._standby: threading.Thread | None = None
        directory = _directory_for(multiprocess_dir)
        if directory is not None and port != 0:
            self._lock = _PortLock(directory, port)
            if not self._lock.try_acquire():
                self._standby = threading.Thread(
                    target=self._stand_by, name="otel-workflow-metrics-standby", daemon=True
                )
                self._standby.start()
                RUNTIME.add_metrics_consumer()
                return
        try:
            self._bind()
        except OSError:
            if self._lock is not None:
                self._lock.release()
            raise
        RUNTIME.add_metrics_consumer()

    def _bind(self) -> None:
        try:
            server = BoundedWSGIServer(self.host, self.port, self._app)
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"cannot serve /metrics on {self.host}:{self.port}: {exc.strerror or exc}",
            ) from exc
        server.start()
        self._server = server
        self.port = int(server.server_address[1])

    def _stand_by(self) -> None:
        assert self._lock is not None
        while not self._closed.wait(TAKEOVER_INTERVAL):
            try:
                if self._lock.try_acquire():
                    try:
                        self._bind()
                        return
                    except OSError as exc:
                        # Someone outside the directory holds the port: keep trying.
                        self._lock.release()
                        report_internal_error("exporter.prometheus", exc)
            except Exception as exc:
                report_internal_error("exporter.prometheus", exc)

    @property
    def serving(self) -> bool:
        return self._server is not None and not self._closed.is_set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving or standing by (idempotent)."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._standby is not None:
            self._standby.join(timeout=5)
        if self._server is not None:
            self._server.stop()
        if self._lock is not None:
            self._lock.release()
        RUNTIME.remove_metrics_consumer()
