"""OTLP wiring: the official OTLP exporters, fed with our spans and our aggregates.

Spans go through the SDK's batch processor to ``OTLPSpanExporter``.  Metrics do not go
through the SDK's per-record aggregation (see ``_metrics``): :class:`OTLPMetricsPusher`
renders the same aggregates ``/metrics`` serves as OpenTelemetry ``MetricsData`` and hands
them to the official ``OTLPMetricExporter`` on a timer (cumulative temporality, as
Prometheus expects downstream).

Endpoints, headers, timeouts and the protocol come from the standard ``OTEL_EXPORTER_OTLP_*``
variables, read by the exporters themselves.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otel_workflow import semconv, settings
from otel_workflow._guard import report_internal_error
from otel_workflow.exporters.aggregates import (
    COUNTER,
    HISTOGRAM,
    MetricFamily,
    collect_families,
)

try:  # SDK >= 1.26
    from opentelemetry.sdk.metrics._internal.exemplar import Exemplar
except ImportError:  # pragma: no cover
    Exemplar = None  # type: ignore[assignment,misc]

_logger = logging.getLogger("otel_workflow")

ENV_METRICS_EXPORT_INTERVAL = settings.METRIC_EXPORT_INTERVAL.name


def otlp_configured() -> bool:
    """True when any standard OTLP endpoint variable is set."""
    return any(
        os.environ.get(name)
        for name in (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        )
    )


def _protocol(signal: str) -> str:
    specific = {"TRACES": settings.OTLP_TRACES_PROTOCOL}.get(signal, settings.OTLP_METRICS_PROTOCOL)
    return specific.lookup() or settings.OTLP_PROTOCOL.get()


def _signal_url(endpoint: str, path: str) -> str:
    return endpoint.rstrip("/") + path


def _official_exporter(signal: str, class_name: str, url_path: str, endpoint: str | None) -> Any:
    """The official OTLP exporter class for ``signal``, over the configured protocol."""
    import importlib

    kind = "trace" if signal == "TRACES" else "metric"
    if _protocol(signal) == "grpc":
        try:
            module = importlib.import_module(
                f"opentelemetry.exporter.otlp.proto.grpc.{kind}_exporter"
            )
        except ImportError as exc:
            raise ValueError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the grpc extra: "
                "pip install 'otel-workflow[grpc]'"
            ) from exc
        exporter_class = getattr(module, class_name)
        return exporter_class(endpoint=endpoint) if endpoint else exporter_class()
    module = importlib.import_module(f"opentelemetry.exporter.otlp.proto.http.{kind}_exporter")
    exporter_class = getattr(module, class_name)
    if endpoint:
        # OTLP/HTTP: a base endpoint gets the signal's path appended, as the spec says.
        return exporter_class(endpoint=_signal_url(endpoint, url_path))
    return exporter_class()  # reads OTEL_EXPORTER_OTLP_* itself


def span_exporter(endpoint: str | None = None) -> SpanExporter:
    """The official OTLP span exporter for the configured protocol."""
    exporter: SpanExporter = _official_exporter("TRACES", "OTLPSpanExporter", "/v1/traces",
                                                endpoint)  # fmt: skip
    return exporter


def metric_exporter(endpoint: str | None = None) -> MetricExporter:
    """The official OTLP metric exporter for the configured protocol."""
    exporter: MetricExporter = _official_exporter("METRICS", "OTLPMetricExporter",
                                                  "/v1/metrics", endpoint)  # fmt: skip
    return exporter


def _exemplars(series: Any) -> list[Any]:
    if Exemplar is None:
        return []
    return [
        Exemplar({}, e.value, e.time_unix_nano, e.span_id, e.trace_id)
        for e in series.exemplars if e is not None
    ]  # fmt: skip


def to_metrics_data(
    families: list[MetricFamily], resource: Resource, start_time_ns: int, now_ns: int | None = None
) -> MetricsData:
    """Render families as OpenTelemetry ``MetricsData`` (cumulative since ``start_time_ns``)."""
    now = now_ns or time.time_ns()
    bounds = list(semconv.DURATION_BUCKETS)
    metrics: list[Metric] = []
    for family in families:
        if not family.series:
            continue
        data: Any
        if family.kind == HISTOGRAM:
            points = [
                HistogramDataPoint(
                    attributes=dict(s.labels), start_time_unix_nano=start_time_ns,
                    time_unix_nano=now, count=sum(s.counts), sum=s.sum,
                    bucket_counts=list(s.counts), explicit_bounds=bounds,
                    min=None, max=None,  # type: ignore[arg-type]  # not tracked: optional in OTLP
                    exemplars=_exemplars(s),
                )
                for s in family.series
            ]  # fmt: skip
            data = Histogram(points, AggregationTemporality.CUMULATIVE)
        else:
            number_points = [
                NumberDataPoint(dict(s.labels), start_time_ns, now, s.value)
                for s in family.series
            ]
            if family.kind == COUNTER:
                data = Sum(number_points, AggregationTemporality.CUMULATIVE, is_monotonic=True)
            else:
                data = Gauge(number_points)
        metrics.append(Metric(family.name, family.description, family.unit, data))
    from otel_workflow._runtime import _version

    scope = InstrumentationScope(semconv.INSTRUMENTATION_SCOPE, _version())
    return MetricsData([ResourceMetrics(resource, [ScopeMetrics(scope, metrics, "")], "")])


class OTLPMetricsPusher:
    """Exports our aggregates through a ``MetricExporter`` every ``interval`` seconds."""

    def __init__(
        self, exporter: MetricExporter, resource: Resource, interval: float | None = None
    ) -> None:
        if interval is None:
            interval = settings.METRIC_EXPORT_INTERVAL.get() / 1000.0
        if interval <= 0:
            raise ValueError(f"metric export interval must be > 0 seconds, got {interval!r}")
        self.exporter = exporter
        self.resource = resource
        self.interval = interval
        self.start_time_ns = time.time_ns()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="otel-workflow-otlp-metrics",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.export_once()

    def export_once(self, timeout_millis: float = 10000) -> bool:
        """Export the current aggregates now; False when the export failed."""
        try:
            with self._lock:
                data = to_metrics_data(collect_families(), self.resource, self.start_time_ns)
                result = self.exporter.export(data, timeout_millis=timeout_millis)
            return result is MetricExportResult.SUCCESS
        except Exception as exc:
            report_internal_error("exporter.otlp_metrics", exc)
            return False

    def force_flush(self, timeout_millis: float = 10000) -> bool:
        return self.export_once(timeout_millis)

    def shutdown(self, timeout_millis: float = 10000) -> bool:
        """Stop the timer and export the last interval, all within ``timeout_millis``."""
        if self._stop.is_set():
            return True
        end = time.monotonic() + timeout_millis / 1000.0

        def remaining_millis() -> float:
            return max(0.0, (end - time.monotonic()) * 1000.0)

        self._stop.set()
        self._thread.join(timeout=remaining_millis() / 1000.0)
        # The counts since the last tick would be lost without this final export.
        exported = self.export_once(remaining_millis())
        try:
            self.exporter.shutdown(timeout_millis=remaining_millis())
        except Exception as exc:
            report_internal_error("exporter.otlp_metrics", exc)
            return False
        return exported
