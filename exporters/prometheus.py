"""Prometheus exposition of otel-workflow's metrics: ``/metrics``, WSGI and ASGI apps.

The stock OpenTelemetry Prometheus exporter drops exemplars, so this renders our own
aggregates through ``prometheus_client``'s custom-collector API: the text format for
plain scrapers and OpenMetrics (with exemplars carrying ``trace_id``/``span_id`` on the
duration histograms) when the scraper asks for it.

With several worker processes (gunicorn, Celery prefork) give every process the same
``multiprocess_dir`` (or ``OTEL_WORKFLOW_MULTIPROC_DIR``): each writes its aggregates
there and any of them serves the sum over all of them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, make_asgi_app, make_wsgi_app, start_http_server
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar

from otel_workflow import semconv
from otel_workflow._guard import report_internal_error
from otel_workflow._runtime import RUNTIME
from otel_workflow.exporters.aggregates import (
    COUNTER,
    HISTOGRAM,
    MetricFamily,
    collect_families,
    prometheus_name,
)

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
            families = self._families()
        except Exception as exc:
            report_internal_error("exporter.prometheus", exc)
            return
        for family in families:
            yield render_family(family)

    def describe(self) -> Iterable[Metric]:
        # Collected on every scrape; describing nothing keeps registration side-effect free.
        return []


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


def _registry_for(multiprocess_dir: str | None) -> CollectorRegistry:
    if multiprocess_dir is None:
        return make_registry()
    from otel_workflow.exporters.multiprocess import MultiprocessCollector

    return make_registry(MultiprocessCollector(multiprocess_dir))


def metrics_wsgi_app(*, multiprocess_dir: str | None = None) -> Callable[..., Any]:
    """A WSGI app serving ``/metrics``; mount it in Flask, Django, etc.

    Mounting it counts as a metrics consumer for the life of the process: decorators
    record metrics from then on even without a tracer provider.
    """
    RUNTIME.add_metrics_consumer()
    return make_wsgi_app(_registry_for(multiprocess_dir))  # type: ignore[no-any-return]


def metrics_asgi_app(*, multiprocess_dir: str | None = None) -> Callable[..., Any]:
    """An ASGI app serving ``/metrics``; mount it in Starlette, FastAPI, etc."""
    RUNTIME.add_metrics_consumer()
    return make_asgi_app(_registry_for(multiprocess_dir))  # type: ignore[no-any-return]


class MetricsServer:
    """A running ``/metrics`` HTTP server (started by ``configure(metrics_port=...)``)."""

    def __init__(
        self, port: int, host: str = DEFAULT_HOST, *, multiprocess_dir: str | None = None
    ) -> None:
        if not isinstance(port, int) or isinstance(port, bool):
            raise TypeError(f"metrics port must be an int, got {port!r}")
        if not 0 <= port <= 65535:
            raise ValueError(f"metrics port must be from 0 to 65535, got {port!r}")
        try:
            self._server, self._thread = start_http_server(
                port, addr=host, registry=_registry_for(multiprocess_dir)
            )
        except OSError as exc:
            raise OSError(
                exc.errno, f"cannot serve /metrics on {host}:{port}: {exc.strerror or exc}"
            ) from exc
        self.host = host
        self.port: int = self._server.server_address[1]
        self._closed = threading.Event()
        RUNTIME.add_metrics_consumer()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving (idempotent)."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        RUNTIME.remove_metrics_consumer()
