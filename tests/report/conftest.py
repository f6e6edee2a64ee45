"""Fixtures for the report, email and schedule tests: a real SMTP server, TLS certificates,
a real SQLite store filled through the OpenTelemetry SDK, and headless Chromium."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.report import spans


@dataclass
class TlsFiles:
    """A self-signed certificate for 127.0.0.1 and its key."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        """A server-side context presenting the certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A certificate made by the openssl command line tool, valid for 127.0.0.1."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not found (Debian package openssl)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return TlsFiles(cert, key)


@dataclass
class Received:
    """One message the test SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None


@dataclass
class SmtpServer:
    """A running aiosmtpd server on 127.0.0.1 and what it has received."""

    port: int
    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login.decode() if session.auth_data else None
        with self._lock:
            self._server.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), message, login)
            )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


SmtpFactory = Callable[..., SmtpServer]


@pytest.fixture
def smtp_server(tls_files: TlsFiles) -> Iterator[SmtpFactory]:
    """Start real SMTP servers: ``smtp_server(mode="plain", auth=None, port=None)``.

    ``mode`` is ``"plain"``, ``"starttls"`` or ``"ssl"``; ``port`` defaults to a free one.

    ``auth`` is a ``(username, password)`` pair the server requires.  Every server is
    stopped when the test ends.
    """
    try:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword
    except ModuleNotFoundError:
        pytest.skip("aiosmtpd not installed (pip install aiosmtpd)")
    controllers: list[Any] = []

    def start(
        mode: str = "plain", auth: tuple[str, str] | None = None, port: int | None = None
    ) -> SmtpServer:
        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> Any:
            ok = (
                auth is not None
                and isinstance(data, LoginPassword)
                and (data.login.decode(), data.password.decode()) == auth
            )
            if isinstance(data, LoginPassword):
                state.logins.append((data.login.decode(), data.password.decode()))
            return AuthResult(success=ok, handled=False, auth_data=data)

        kwargs: dict[str, Any] = {}
        if mode == "starttls":
            kwargs.update(tls_context=tls_files.server_context(), require_starttls=True)
        if mode == "ssl":
            kwargs["ssl_context"] = tls_files.server_context()
        if auth is not None:
            # aiosmtpd only knows STARTTLS as TLS; an SMTPS connection is TLS from the start.
            kwargs.update(authenticator=authenticator, auth_required=True,
                          auth_require_tls=mode == "starttls")  # fmt: skip
        last_error: Exception | None = None
        for _ in range(5):  # the free port may be taken between probe and bind: try another
            state = SmtpServer(port=port or _free_port())
            controller = Controller(
                _Handler(state), hostname="127.0.0.1", port=state.port, ready_timeout=30,
                **kwargs,
            )  # fmt: skip
            try:
                controller.start()
            except Exception as exc:
                last_error = exc
                continue
            controllers.append(controller)
            return state
        raise RuntimeError(f"could not start the SMTP server: {last_error}")

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A real SQLite store filled with executions through the OpenTelemetry SDK."""
    path = tmp_path / "store.db"
    spans.fill_store(path)
    return path


@pytest.fixture
def empty_store_path(tmp_path: Path) -> Path:
    """A real SQLite store with its schema and no executions."""
    path = tmp_path / "empty.db"
    spans.fill_store(path, executions=0)
    return path


@pytest.fixture
def chromium() -> str:
    """Path of the Chromium browser (Debian package chromium); skips when it is missing."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium not found (Debian package chromium)")
