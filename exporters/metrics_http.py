"""A small WSGI HTTP server for ``/metrics`` whose threads do not grow with idle connections.

``prometheus_client.start_http_server`` gives every accepted connection its own thread with
no timeout, so 500 idle sockets hold 500 threads forever.  Here accepted connections wait
in a selector (no thread) until they send something; a fixed pool of ``workers`` threads
serves readable ones, each with a socket timeout.  A connection idle for ``idle_timeout``
seconds is closed, and beyond ``max_connections`` waiting ones the oldest is closed, so a
scrape always finds a free worker.
"""

from __future__ import annotations

import contextlib
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from otel_workflow._guard import report_internal_error

DEFAULT_WORKERS = 4
DEFAULT_IDLE_TIMEOUT = 10.0
"""Seconds a connection may stay open without sending a request (or between reads)."""
DEFAULT_MAX_CONNECTIONS = 256
_TICK = 0.25  # how often the accept loop notices a stop request and sweeps idle connections


class _Handler(WSGIRequestHandler):
    timeout = DEFAULT_IDLE_TIMEOUT  # socket timeout while reading a request / writing

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every few seconds must not fill the application's stderr


class BoundedWSGIServer(WSGIServer):
    """``WSGIServer`` with a selector for idle connections and a fixed worker pool."""

    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128  # listen backlog: a burst of connections is not refused

    def __init__(
        self, host: str, port: int, app: Callable[..., Any], *,
        workers: int = DEFAULT_WORKERS, idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:  # fmt: skip
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        self.address_family = family
        handler = type("_TimedHandler", (_Handler,), {"timeout": idle_timeout})
        super().__init__((host, port), handler)
        self.set_app(app)
        self.socket.setblocking(False)  # the accept loop takes every pending connection
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._stop = threading.Event()
        self._ready: queue.SimpleQueue[tuple[socket.socket, Any] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"otel-workflow-metrics-{i}", daemon=True)
            for i in range(workers)
        ]

    def start(self) -> threading.Thread:
        """Serve on daemon threads: one accept loop plus the workers; returns the loop."""
        for thread in self._threads:
            thread.start()
        loop = threading.Thread(target=self._accept_loop, name="otel-workflow-metrics",
                                daemon=True)  # fmt: skip
        loop.start()
        self._loop = loop
        return loop

    def stop(self) -> None:
        self._stop.set()
        self._loop.join(timeout=5)
        for _ in self._threads:
            self._ready.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self.server_close()

    def _accept_loop(self) -> None:
        waiting: dict[socket.socket, tuple[Any, float]] = {}  # connection -> (address, since)
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select(_TICK):
                    if key.fileobj is self.socket:
                        self._accept(selector, waiting)
                    else:
                        conn: Any = key.fileobj
                        selector.unregister(conn)
                        address, _since = waiting.pop(conn)
                        self._ready.put((conn, address))
                self._sweep(selector, waiting)
            for conn in list(waiting):
                self._drop(selector, waiting, conn)

    def _accept(self, selector: selectors.BaseSelector, waiting: dict[Any, Any]) -> None:
        while True:
            try:
                conn, address = self.socket.accept()
            except OSError:
                return  # nothing more pending (BlockingIOError) or the client gave up
            conn.setblocking(True)
            if len(waiting) >= self.max_connections:
                oldest = min(waiting, key=lambda c: waiting[c][1])
                self._drop(selector, waiting, oldest)
            waiting[conn] = (address, time.monotonic())
            selector.register(conn, selectors.EVENT_READ)

    def _sweep(self, selector: selectors.BaseSelector, waiting: dict[Any, Any]) -> None:
        deadline = time.monotonic() - self.idle_timeout
        for conn in [c for c, (_, since) in waiting.items() if since < deadline]:
            self._drop(selector, waiting, conn)

    @staticmethod
    def _drop(selector: selectors.BaseSelector, waiting: dict[Any, Any], conn: Any) -> None:
        selector.unregister(conn)
        waiting.pop(conn, None)
        with contextlib.suppress(OSError):
            conn.close()

    def _work(self) -> None:
        while True:
            item = self._ready.get()
            if item is None:
                return
            conn, address = item
            try:
                self.finish_request(conn, address)  # the handler sets its socket timeout
            except OSError:
                pass  # a client that went away or timed out; the next request is unaffected
            except Exception as exc:
                report_internal_error("exporter.prometheus", exc)
            finally:
                self.shutdown_request(conn)
