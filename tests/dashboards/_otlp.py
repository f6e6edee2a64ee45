"""A real OTLP/HTTP receiver on 127.0.0.1 built on opentelemetry-proto, for tests.

Accepts ``POST /v1/traces`` and ``POST /v1/metrics`` (protobuf, optionally gzip) and keeps
the decoded requests, as an OpenTelemetry Collector's ``otlp`` receiver would see them.
"""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

_SERVICES: dict[str, tuple[Any, Any]] = {
    "/v1/traces": (
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
    ),
    "/v1/metrics": (
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
    ),
}


class OtlpReceiver:
    """Collects decoded OTLP export requests; use as a context manager."""

    def __init__(self) -> None:
        self.requests: dict[str, list[Any]] = {path: [] for path in _SERVICES}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                service = _SERVICES.get(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if service is None:
                    self.send_error(404)
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = service[0]()
                request.ParseFromString(body)
                with receiver._lock:
                    receiver.requests[self.path].append(request)
                payload = service[1]().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def spans(self) -> list[Any]:
        """Every span received."""
        with self._lock:
            return [
                span
                for request in self.requests["/v1/traces"]
                for resource_spans in request.resource_spans
                for scope_spans in resource_spans.scope_spans
                for span in scope_spans.spans
            ]

    def metrics(self) -> list[Any]:
        """Every metric received (one entry per metric per export)."""
        with self._lock:
            return [
                metric
                for request in self.requests["/v1/metrics"]
                for resource_metrics in request.resource_metrics
                for scope_metrics in resource_metrics.scope_metrics
                for metric in scope_metrics.metrics
            ]
