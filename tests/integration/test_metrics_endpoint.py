"""/metrics: text and OpenMetrics negotiation, binding, the WSGI and ASGI apps."""

from __future__ import annotations

import asyncio
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as text_families

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow._runtime import RUNTIME
from otel_workflow.config import WorkflowTelemetry
from otel_workflow.exporters.metrics_http import BoundedWSGIServer
from otel_workflow.exporters.prometheus import metrics_asgi_app, metrics_wsgi_app, target_info
from otel_workflow.testing import TelemetryCapture
from tests.integration._exposition import sample_sum

pytestmark = pytest.mark.integration

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
RUNS = 12  # endpoint_job(i) for i in range(RUNS); every fifth fails
FAILED = len(range(0, RUNS, 5))
JOB_LABELS = {semconv.PROM_LABEL_WORKFLOW: "endpoint_job"}


@ow.step(name="endpoint_step")
def endpoint_step(i: int) -> int:
    if i % 5 == 0:
        raise KeyError(i)
    return i


@ow.workflow(name="endpoint_job", type="endpoint")
def endpoint_job(i: int) -> int:
    return endpoint_step(i)


def _run_jobs() -> None:
    for i in range(RUNS):
        try:
            endpoint_job(i)
        except KeyError:
            pass  # the failures are part of what /metrics must show


def _get(url: str, accept: str | None = None) -> tuple[str, str]:
    request = urllib.request.Request(url)
    if accept is not None:
        request.add_header("Accept", accept)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Content-Type"], response.read().decode("utf-8")


def _span_ids(exporter: InMemorySpanExporter) -> set[tuple[str, str]]:
    return {(f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}")
            for s in exporter.get_finished_spans() if s.context is not None}  # fmt: skip


@pytest.fixture
def served(
    fresh_metrics: None, memory_provider: tuple[TracerProvider, InMemorySpanExporter]
) -> Iterator[tuple[WorkflowTelemetry, InMemorySpanExporter]]:
    """configure() with /metrics on a free port, after RUNS executions of endpoint_job."""
    provider, exporter = memory_provider
    handle = ow.configure(service_name="endpoint-it", metrics_port=0, tracer_provider=provider)
    try:
        _run_jobs()
        yield handle, exporter
    finally:
        handle.shutdown(5000)


def _check_counts(text: str) -> None:
    ok = {**JOB_LABELS, semconv.PROM_LABEL_STATUS: semconv.STATUS_OK}
    error = {**JOB_LABELS, semconv.PROM_LABEL_STATUS: semconv.STATUS_ERROR}
    assert sample_sum(text, semconv.PROM_WORKFLOW_EXECUTIONS, **ok) == RUNS - FAILED
    assert sample_sum(text, semconv.PROM_WORKFLOW_EXECUTIONS, **error) == FAILED
    assert sample_sum(text, semconv.PROM_STEP_DURATION + "_count", **JOB_LABELS) == RUNS
    assert sample_sum(text, semconv.PROM_STEP_ERRORS, **JOB_LABELS) == FAILED


def test_text_format_by_default_without_exemplars(
    served: tuple[WorkflowTelemetry, InMemorySpanExporter],
) -> None:
    """A plain scrape gets the Prometheus text format, with the counts and no exemplars."""
    handle, _ = served
    assert handle.metrics_url is not None
    content_type, text = _get(handle.metrics_url)
    assert content_type.startswith("text/plain")
    _check_counts(text)
    assert " # {" not in text  # exemplars are OpenMetrics-only
    buckets = [line for line in text.splitlines()
               if line.startswith(semconv.PROM_STEP_DURATION + "_bucket{")
               and 'workflow_status="ok"' in line]  # fmt: skip
    assert len(buckets) == len(semconv.DURATION_BUCKETS) + 1


def test_openmetrics_when_asked_with_exemplars(
    served: tuple[WorkflowTelemetry, InMemorySpanExporter],
) -> None:
    """Accept: OpenMetrics gets OpenMetrics, with trace_id/span_id exemplars of exported spans."""
    handle, exporter = served
    assert handle.metrics_url is not None
    content_type, text = _get(handle.metrics_url, accept=OPENMETRICS)
    assert content_type.startswith("application/openmetrics-text")
    assert text.endswith("# EOF\n")
    exemplars: dict[str, list[Any]] = {}
    for family in openmetrics_families(text):  # type: ignore[no-untyped-call]
        for sample in family.samples:
            if sample.exemplar is not None:
                exemplars.setdefault(family.name, []).append(sample.exemplar)
    assert set(exemplars) == {semconv.PROM_WORKFLOW_DURATION, semconv.PROM_STEP_DURATION}
    spans = _span_ids(exporter)
    for found in exemplars.values():
        for exemplar in found:
            assert (exemplar.labels["trace_id"], exemplar.labels["span_id"]) in spans


def test_binds_to_loopback_by_default(
    served: tuple[WorkflowTelemetry, InMemorySpanExporter],
) -> None:
    """Without metrics_host, /metrics listens on 127.0.0.1 only."""
    handle, _ = served
    server = handle.metrics_server
    assert server.host == "127.0.0.1"
    assert server._server.server_address[0] == "127.0.0.1"
    assert handle.metrics_url == f"http://127.0.0.1:{handle.metrics_port}/metrics"


@pytest.fixture
def mounted_app() -> Iterator[Callable[[Callable[..., Any]], Callable[..., Any]]]:
    """Make WSGI/ASGI apps and release the metrics consumers they registered afterwards."""
    made = 0

    def make(factory: Callable[..., Any]) -> Callable[..., Any]:
        nonlocal made
        made += 1
        return factory()  # type: ignore[no-any-return]

    yield make
    # The apps have no close(): undo their consumer registration so later tests start clean.
    for _ in range(made):
        RUNTIME.remove_metrics_consumer()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_wsgi_app_serves_metrics(
    ow_telemetry: TelemetryCapture,
    mounted_app: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> None:
    """The WSGI app, mounted in a real wsgiref server on 127.0.0.1, serves both formats."""
    app = mounted_app(metrics_wsgi_app)
    _run_jobs()
    server = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        content_type, text = _get(url)
        assert content_type.startswith("text/plain")
        _check_counts(text)
        content_type, text = _get(url, accept=OPENMETRICS)
        assert content_type.startswith("application/openmetrics-text")
        assert " # {" in text and text.endswith("# EOF\n")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _asgi_get(app: Callable[..., Any], accept: str | None) -> tuple[int, dict[str, str], str]:
    headers = [] if accept is None else [(b"accept", accept.encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/metrics", "raw_path": b"/metrics",
             "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    response_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return int(start["status"]), response_headers, body.decode("utf-8")


def test_asgi_app_serves_metrics(
    ow_telemetry: TelemetryCapture,
    mounted_app: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> None:
    """The ASGI app, driven through the ASGI protocol, serves both formats."""
    app = mounted_app(metrics_asgi_app)
    _run_jobs()
    status, headers, text = _asgi_get(app, None)
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    _check_counts(text)
    status, headers, text = _asgi_get(app, OPENMETRICS)
    assert status == 200
    assert headers["content-type"].startswith("application/openmetrics-text")
    assert " # {" in text and text.endswith("# EOF\n")


def test_target_info_carries_the_resource(
    served: tuple[WorkflowTelemetry, InMemorySpanExporter],
) -> None:
    """target_info (value 1) has the resource attributes as labels, dots as underscores."""
    handle, _ = served
    assert handle.metrics_url is not None
    _, text = _get(handle.metrics_url)
    infos = [s for f in text_families(text) for s in f.samples if s.name == "target_info"]
    assert len(infos) == 1 and infos[0].value == 1
    resource = handle.tracer_provider.resource.attributes  # type: ignore[union-attr]
    expected = {key.replace(".", "_"): str(value) for key, value in resource.items()}
    assert infos[0].labels == expected
    assert "service_name" in infos[0].labels  # the provider passed in keeps its own resource


def test_target_info_label_names_are_sanitised() -> None:
    """Keys outside [a-zA-Z0-9_] become underscores, a leading digit gets key_, clashes join."""
    metric = target_info({"service.name": "svc", "k8s.pod-name": "a", "k8s.pod.name": "b",
                          "9lives": True})  # fmt: skip
    (sample,) = metric.samples
    assert sample.labels == {"service_name": "svc", "k8s_pod_name": "a;b", "key_9lives": "true"}


def test_idle_connections_hold_no_threads_and_a_scrape_answers(
    served: tuple[WorkflowTelemetry, InMemorySpanExporter],
) -> None:
    """500 idle sockets to /metrics leave the thread count bounded and scrapes answering."""
    handle, _ = served
    assert handle.metrics_url is not None and handle.metrics_port is not None
    before = threading.active_count()
    idle = []
    try:
        for _ in range(500):
            idle.append(socket.create_connection(("127.0.0.1", handle.metrics_port), timeout=10))
        _, text = _get(handle.metrics_url)
        _check_counts(text)
        assert threading.active_count() <= before + 2
    finally:
        for sock in idle:
            sock.close()


def test_idle_connection_is_closed_after_the_timeout() -> None:
    """A connection that never sends a request is closed by the server after its idle timeout."""
    server = BoundedWSGIServer("127.0.0.1", 0, lambda environ, start: [], idle_timeout=0.3)
    server.start()
    try:
        with socket.create_connection(server.server_address[:2], timeout=10) as sock:
            assert sock.recv(1) == b""  # EOF: the server closed it (well before the 10 s timeout)
    finally:
        server.stop()
