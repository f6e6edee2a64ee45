"""Categories of exceptions raised by real library calls, live and as stored by the span."""

from __future__ import annotations

import http.server
import socket
import sqlite3
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pydantic
import pytest

from otel_workflow.diagnosis import classify, classify_record, error_type_name


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = int(self.path.strip("/") or 200)
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "7")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    """A local HTTP server answering with the status in the path (``/429``, ``/503``)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A listening socket that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def _raised(call: Callable[[], object]) -> BaseException:
    try:
        call()
    except BaseException as exc:
        return exc
    raise AssertionError("the call did not raise")


def _sqlite_unique(tmp: Path) -> None:
    conn = sqlite3.connect(tmp / "orders.db")
    conn.execute("CREATE TABLE orders (ref TEXT UNIQUE)")
    conn.execute("INSERT INTO orders VALUES ('A-1')")
    try:
        conn.execute("INSERT INTO orders VALUES ('A-1')")
    finally:
        conn.close()


class Order(pydantic.BaseModel):
    amount: int


def _closed_url() -> str:
    return f"http://127.0.0.1:{_closed_port()}/"


def _none_attribute() -> object:
    rate = None
    return rate.value  # type: ignore[attr-defined]


def _status(url: str) -> None:
    httpx.get(url, timeout=5).raise_for_status()


def _timeout(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
        conn.recv(1)


def _cases(http_server: str, silent_port: int, tmp: Path) -> list[tuple[str, Callable[[], object], str, bool]]:  # noqa: E501
    return [
        ("httpx to a closed port", lambda: httpx.get(_closed_url(), timeout=5),
         "external_service", True),
        ("httpx 429", lambda: _status(f"{http_server}/429"), "external_service", True),
        ("httpx 503", lambda: _status(f"{http_server}/503"), "external_service", True),
        ("httpx 404", lambda: _status(f"{http_server}/404"), "not_found", False),
        ("sqlite3 UNIQUE", lambda: _sqlite_unique(tmp), "constraint", False),
        ("pydantic", lambda: Order(amount="abc"), "validation", False),  # type: ignore[arg-type]
        ("socket timeout", lambda: _timeout(silent_port), "timeout", True),
        ("AttributeError on None", _none_attribute, "programming", False),
    ]  # fmt: skip


def test_real_library_exceptions_get_their_category(
    http_server: str, silent_port: int, tmp_path: Path
) -> None:
    """Each real failure gets the category and retryability a workflow owner expects."""
    for name, call, category, retryable in _cases(http_server, silent_port, tmp_path):
        exc = _raised(call)
        verdict = classify(exc)
        assert (verdict.category.value, verdict.retryable) == (category, retryable), name


def test_stored_form_gets_the_same_category(
    http_server: str, silent_port: int, tmp_path: Path
) -> None:
    """The type name and message a span stores classify like the live exception."""
    for name, call, category, _ in _cases(http_server, silent_port, tmp_path):
        exc = _raised(call)
        assert classify_record(error_type_name(exc), str(exc)).category.value == category, name


def test_429_carries_the_servers_retry_after(http_server: str) -> None:
    """A 429 is retryable and the diagnosis knows the server's Retry-After."""
    verdict = classify(_raised(lambda: _status(f"{http_server}/429")))
    assert (verdict.status, verdict.retry_after) == (429, 7.0)


def test_wrapped_library_error_is_classified_by_its_cause(tmp_path: Path) -> None:
    """A user's RuntimeError raised from a sqlite3 UNIQUE violation is a constraint error,
    also when only the stack trace string is available."""
    from otel_workflow.diagnosis.tracebacks import parse_stacktrace

    try:
        try:
            _sqlite_unique(tmp_path)
        except sqlite3.IntegrityError as inner:
            raise RuntimeError("could not save the order") from inner
    except RuntimeError as exc:
        assert classify(exc).category.value == "constraint"
        text = "".join(traceback.format_exception(exc))
        info = parse_stacktrace(text, "RuntimeError", str(exc))
        assert [e.short_type for e in info.chain] == ["RuntimeError", "IntegrityError"]
        verdict = classify_record(info.type_name, info.message, info.causes())
        assert verdict.category.value == "constraint"
