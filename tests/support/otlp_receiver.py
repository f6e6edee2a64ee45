"""A real OTLP/HTTP receiver for tests: ``opentelemetry-proto`` over stdlib ``http.server``.

It listens on 127.0.0.1 (a free port), accepts ``POST /v1/traces`` and ``POST /v1/metrics``
with ``application/x-protobuf`` bodies (gzip-compressed or not, as the official exporters
send them), decodes them into ``ExportTraceServiceRequest`` / ``ExportMetricsServiceRequest``
and keeps them, thread-safely.  Tests wait on what arrived with a deadline::

    with OTLPReceiver() as receiver:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
        ...  # run the instrumented process
        receiver.wait_until(lambda r: len(r.spans()) >= 3, timeout=30)
        for span in receiver.spans():
            span.attributes["workflow.name"], span.proto.parent_span_id.hex()
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from opentelemetry.proto.trace.v1.trace_pb2 import Span

__all__ = ["OTLPReceiver", "ReceivedSpan", "any_value", "attributes_of"]

_HOST = "127.0.0.1"


def any_value(value: AnyValue) -> Any:
    """The Python value of an OTLP ``AnyValue`` (arrays become tuples)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(any_value(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    return getattr(value, kind)


def attributes_of(pairs: Any) -> dict[str, Any]:
    """OTLP ``repeated KeyValue`` as a dict."""
    out: dict[str, Any] = {}
    pair: KeyValue
    for pair in pairs:
        out[pair.key] = any_value(pair.value)
    return out


@dataclass(frozen=True)
class ReceivedSpan:
    """One decoded span with its resource and scope."""

    proto: Span
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str

    @property
    def trace_id(self) -> str:
        return self.proto.trace_id.hex()

    @property
    def span_id(self) -> str:
        return self.proto.span_id.hex()

    @property
    def parent_span_id(self) -> str:
        return self.proto.parent_span_id.hex()


class OTLPReceiver:
    """Collects OTLP/HTTP trace and metric export requests (see the module docstring)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.trace_requests: list[ExportTraceServiceRequest] = []
        self.metric_requests: list[ExportMetricsServiceRequest] = []
        self.encodings: list[str] = []
        self.errors: list[str] = []
        self._generation = 0  # bumped on every request, so waiters never miss one
        self._server = ThreadingHTTPServer((_HOST, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    # -- address ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        """The base URL for ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
        return f"http://{_HOST}:{self.port}"

    # -- decoded views ---------------------------------------------------------------------
    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far, in arrival order."""
        with self._cond:
            requests = list(self.trace_requests)
        out = []
        for request in requests:
            for resource_spans in request.resource_spans:
                resource = attributes_of(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        out.append(ReceivedSpan(span, attributes_of(span.attributes), resource,
                                                scope_spans.scope.name))  # fmt: skip
        return out

    def metrics(self) -> list[Metric]:
        """Every metric of every request, in arrival order (cumulative: later wins)."""
        with self._cond:
            requests = list(self.metric_requests)
        return [
            metric
            for request in requests
            for resource_metrics in request.resource_metrics
            for scope_metrics in resource_metrics.scope_metrics
            for metric in scope_metrics.metrics
        ]

    def latest_metric(self, name: str) -> Metric | None:
        """The last received metric called ``name`` (cumulative temporality: the total)."""
        found = None
        for metric in self.metrics():
            if metric.name == name:
                found = metric
        return found

    # -- waiting ---------------------------------------------------------------------------
    def wait_until(self, predicate: Callable[[OTLPReceiver], bool], timeout: float) -> None:
        """Block until ``predicate(self)`` holds, re-checked after every request; else raise."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                seen = self._generation
            # Evaluated outside the lock: the decoded views take it themselves.
            if predicate(self):
                return
            with self._cond:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"OTLP receiver: condition not met within {timeout}s "
                        f"({len(self.trace_requests)} trace and {len(self.metric_requests)} "
                        f"metric requests; errors {self.errors!r})"
                    )
                if self._generation == seen:
                    self._cond.wait(remaining)

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop listening (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)

    def __enter__(self) -> OTLPReceiver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- HTTP ------------------------------------------------------------------------------
    def _record(self, path: str, body: bytes, encoding: str) -> bytes | None:
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        with self._cond:
            self.encodings.append(encoding or "identity")
            if path == "/v1/traces":
                trace_request = ExportTraceServiceRequest()
                trace_request.ParseFromString(body)
                self.trace_requests.append(trace_request)
                response: bytes = ExportTraceServiceResponse().SerializeToString()
            elif path == "/v1/metrics":
                metric_request = ExportMetricsServiceRequest()
                metric_request.ParseFromString(body)
                self.metric_requests.append(metric_request)
                response = ExportMetricsServiceResponse().SerializeToString()
            else:
                return None
            self._generation += 1
            self._cond.notify_all()
        return response

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                encoding = (self.headers.get("Content-Encoding") or "").strip().lower()
                try:
                    response = receiver._record(self.path, body, encoding)
                except Exception as exc:  # a malformed request is a test failure to report
                    with receiver._cond:
                        receiver.errors.append(f"{self.path}: {exc!r}")
                        receiver._generation += 1
                        receiver._cond.notify_all()
                    self.send_error(400, str(exc))
                    return
                if response is None:
                    self.send_error(404, f"unknown OTLP path {self.path}")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(response)))
                self.end_headers()
                self.wfile.write(response)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean; failures are recorded in receiver.errors

        return Handler
