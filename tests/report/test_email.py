"""Email over a real SMTP server (aiosmtpd on 127.0.0.1): plain, STARTTLS, SSL and login."""

from __future__ import annotations

import logging
import smtplib
import ssl
from pathlib import Path

import pytest

from otel_workflow.reports.email import SmtpDeliveryError, SmtpSettings, send_report
from tests.report.conftest import SmtpFactory, TlsFiles

pytestmark = pytest.mark.integration


def _attachment(tmp_path: Path) -> Path:
    path = tmp_path / "report.html"
    path.write_text("<html><body><h1>Report \u2713</h1></body></html>", encoding="utf-8")
    return path


def _check_delivered(server_messages: list, attachment: Path) -> None:
    assert len(server_messages) == 1
    received = server_messages[0]
    message = received.message
    assert message["Subject"] == "Daily workflows \u2014 24 h"
    assert received.rcpt_tos == ["owner@example.com", "ops@example.com"]
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    assert "<p>All <b>green</b>.</p>" in html_part.get_content()
    text_part = message.get_body(preferencelist=("plain",))
    assert text_part is not None and "All green." in text_part.get_content()
    files = [part for part in message.iter_attachments()]
    assert [part.get_filename() for part in files] == ["report.html"]
    assert files[0].get_content_type() == "text/html"
    assert files[0].get_content() == attachment.read_text(encoding="utf-8")


def _send(settings: SmtpSettings, attachment: Path) -> None:
    send_report(
        settings,
        to=["owner@example.com", "ops@example.com"],
        subject="Daily workflows \u2014 24 h",
        html_body="<p>All <b>green</b>.</p>",
        attachments=[attachment],
    )


def test_plain_smtp_delivers_subject_body_and_attachment(
    smtp_server: SmtpFactory, tmp_path: Path
) -> None:
    """A plain SMTP send arrives with its subject, HTML body, text body and attachment."""
    server = smtp_server("plain")
    attachment = _attachment(tmp_path)
    _send(SmtpSettings(port=server.port, from_addr="reports@example.com"), attachment)
    _check_delivered(server.messages, attachment)
    assert server.messages[0].mail_from == "reports@example.com"


def test_starttls_with_login_delivers(
    smtp_server: SmtpFactory, tls_files: TlsFiles, tmp_path: Path
) -> None:
    """STARTTLS upgrades the connection, verifies the certificate, logs in and delivers."""
    server = smtp_server("starttls", auth=("reports", "s3cret"))
    attachment = _attachment(tmp_path)
    settings = SmtpSettings(
        port=server.port, mode="starttls", username="reports", password="s3cret",
        cafile=str(tls_files.cert),
    )  # fmt: skip
    _send(settings, attachment)
    _check_delivered(server.messages, attachment)
    assert server.messages[0].login == "reports"


def test_ssl_delivers(smtp_server: SmtpFactory, tls_files: TlsFiles, tmp_path: Path) -> None:
    """Implicit TLS (SMTPS) delivers the message."""
    server = smtp_server("ssl")
    attachment = _attachment(tmp_path)
    _send(SmtpSettings(port=server.port, mode="ssl", cafile=str(tls_files.cert)), attachment)
    _check_delivered(server.messages, attachment)


# aiosmtpd counts only STARTTLS as TLS, so it warns about AUTH on an SMTPS connection.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_ssl_with_login_delivers(
    smtp_server: SmtpFactory, tls_files: TlsFiles, tmp_path: Path
) -> None:
    """Implicit TLS with a login delivers as the logged-in user."""
    server = smtp_server("ssl", auth=("reports", "pw"))
    attachment = _attachment(tmp_path)
    settings = SmtpSettings(
        port=server.port, mode="ssl", username="reports", password="pw",
        cafile=str(tls_files.cert),
    )  # fmt: skip
    _send(settings, attachment)
    _check_delivered(server.messages, attachment)
    assert server.messages[0].login == "reports"


def test_untrusted_certificate_is_refused(smtp_server: SmtpFactory, tmp_path: Path) -> None:
    """Without the test CA the self-signed certificate fails verification; nothing is sent."""
    server = smtp_server("ssl")
    with pytest.raises(SmtpDeliveryError, match=f"ssl SMTP 127.0.0.1:{server.port}") as info:
        _send(SmtpSettings(port=server.port, mode="ssl", timeout=10), _attachment(tmp_path))
    assert isinstance(info.value.__cause__, ssl.SSLError)
    assert server.messages == []


def test_wrong_password_raises_and_is_never_logged(
    smtp_server: SmtpFactory, tls_files: TlsFiles, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A refused login raises with SMTPAuthenticationError as its cause, the password nowhere."""
    server = smtp_server("starttls", auth=("reports", "right"))
    settings = SmtpSettings(
        port=server.port, mode="starttls", username="reports", password="wrong-pw-123",
        cafile=str(tls_files.cert),
    )  # fmt: skip
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SmtpDeliveryError, match="SMTPAuthenticationError: 535") as info:
        _send(settings, _attachment(tmp_path))
    assert isinstance(info.value.__cause__, smtplib.SMTPAuthenticationError)
    assert "wrong-pw-123" not in str(info.value)
    assert server.messages == []
    # It really reached the server (smtplib tries each mechanism the server offers).
    assert set(server.logins) == {("reports", "wrong-pw-123")}
    assert caplog.records, "the send should have been logged"
    assert all("wrong-pw-123" not in record.getMessage() for record in caplog.records)
    assert "wrong-pw-123" not in repr(settings)


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("mode", ["plain", "starttls", "ssl"])
def test_unreachable_server_error_names_mode_host_and_port(tmp_path: Path, mode: str) -> None:
    """A closed port fails at once with an OSError naming the mode, host and port."""
    port = _closed_port()
    settings = SmtpSettings(port=port, mode=mode, timeout=5)  # type: ignore[arg-type]
    with pytest.raises(OSError, match=f"{mode} SMTP 127.0.0.1:{port}") as info:
        _send(settings, _attachment(tmp_path))
    assert isinstance(info.value, SmtpDeliveryError)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "tls"}, "mode must be one of"),
        ({"port": 0}, "port must be an int"),
        ({"timeout": 0}, "timeout must be a positive"),
        ({"password": "x"}, "password is set but username is not"),
        ({"from_addr": "not an address"}, "not a valid email address"),
        ({"host": ""}, "host must be a non-empty"),
    ],
)
def test_bad_settings_are_rejected(kwargs: dict, message: str) -> None:
    """Invalid SMTP settings raise ValueError naming the problem."""
    with pytest.raises(ValueError, match=message):
        SmtpSettings(**kwargs)


@pytest.mark.parametrize(
    ("to", "subject", "message"),
    [
        ([], "s", "at least one recipient"),
        (["x@example.com\r\nBcc: evil@example.com"], "s", "not a valid email address"),
        (["ok@example.com"], "two\nlines", "single line"),
    ],
)
def test_bad_message_input_is_rejected(
    to: list[str], subject: str, message: str, tmp_path: Path
) -> None:
    """Bad recipients or a multi-line subject (header injection) raise ValueError."""
    with pytest.raises(ValueError, match=message):
        send_report(SmtpSettings(), to=to, subject=subject, html_body="<p>x</p>")


def test_missing_attachment_is_rejected(tmp_path: Path) -> None:
    """An attachment path that is not a file raises ValueError before connecting."""
    with pytest.raises(ValueError, match="attachment is not a file"):
        send_report(
            SmtpSettings(), to=["a@example.com"], subject="s", html_body="<p>x</p>",
            attachments=[tmp_path / "missing.html"],
        )  # fmt: skip


def test_settings_from_environment() -> None:
    """OTEL_WORKFLOW_SMTP_* variables fill the settings; explicit overrides win."""
    env = {
        "OTEL_WORKFLOW_SMTP_HOST": "mail.internal", "OTEL_WORKFLOW_SMTP_PORT": "2525",
        "OTEL_WORKFLOW_SMTP_MODE": "starttls", "OTEL_WORKFLOW_SMTP_USERNAME": "bot",
        "OTEL_WORKFLOW_SMTP_PASSWORD": "pw", "OTEL_WORKFLOW_SMTP_FROM": "bot@example.com",
    }  # fmt: skip
    settings = SmtpSettings.from_env(env, port=587)
    assert (settings.host, settings.port, settings.mode) == ("mail.internal", 587, "starttls")
    assert (settings.username, settings.password) == ("bot", "pw")
    assert "pw" not in settings.describe()
    # An invalid value warns (see tests/core/test_settings.py) and the default applies.
    assert SmtpSettings.from_env({"OTEL_WORKFLOW_SMTP_PORT": "abc"}).port is None
