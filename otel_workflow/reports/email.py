"""Send email over real SMTP (plain, STARTTLS or implicit TLS; optional login).

>>> settings = SmtpSettings(host="smtp.example.com", mode="starttls",
...                         username="reports", password="...", from_addr="reports@example.com")
>>> send_report(settings, to=["owner@example.com"], subject="Workflows, last 24 h",
...             html_body="<p>See the attached report.</p>",
...             attachments=["report.html"])  # doctest: +SKIP

The password is never logged nor shown in a ``repr``.  Settings can also come from the
``OTEL_WORKFLOW_SMTP_*`` environment variables (:meth:`SmtpSettings.from_env`), which keeps
the password off command lines.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import mimetypes
import os
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Literal, cast

from otel_workflow import settings

_logger = logging.getLogger("otel_workflow.reports.email")

SmtpMode = Literal["plain", "starttls", "ssl"]
SMTP_MODES: tuple[SmtpMode, ...] = ("plain", "starttls", "ssl")
_DEFAULT_PORTS: dict[str, int] = {"plain": 25, "starttls": 587, "ssl": 465}

# Environment variables read by SmtpSettings.from_env (argument > environment > default),
# defined with every other variable in otel_workflow.settings.
ENV_SMTP_HOST = settings.SMTP_HOST.name
ENV_SMTP_PORT = settings.SMTP_PORT.name
ENV_SMTP_MODE = settings.SMTP_MODE.name
ENV_SMTP_USERNAME = settings.SMTP_USERNAME.name
ENV_SMTP_PASSWORD = settings.SMTP_PASSWORD.name
ENV_SMTP_FROM = settings.SMTP_FROM.name
ENV_SMTP_TIMEOUT = settings.SMTP_TIMEOUT.name
ENV_SMTP_CAFILE = settings.SMTP_CAFILE.name

_SMTP_FIELDS: tuple[tuple[str, settings.Setting[Any]], ...] = (
    ("host", settings.SMTP_HOST), ("port", settings.SMTP_PORT), ("mode", settings.SMTP_MODE),
    ("username", settings.SMTP_USERNAME), ("password", settings.SMTP_PASSWORD),
    ("from_addr", settings.SMTP_FROM), ("timeout", settings.SMTP_TIMEOUT),
    ("cafile", settings.SMTP_CAFILE),
)  # fmt: skip

# A deliberately loose address check: catches typos and header injection, not RFC 5321.
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")


def _check_address(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}")
    if not _ADDRESS.match(value):
        raise ValueError(f"{what} is not a valid email address: {value!r}")
    return value


def read_smtp_environment(env: Mapping[str, str]) -> dict[str, object]:
    """The :class:`SmtpSettings` fields the ``OTEL_WORKFLOW_SMTP_*`` variables in ``env`` set.

    Parsed by :mod:`otel_workflow.settings`: an invalid value (a port that is not a number,
    an unknown mode) logs one warning naming the variable and is left out, so the field's
    default applies.
    """
    values: dict[str, object] = {}
    for key, setting in _SMTP_FIELDS:
        value = setting.lookup(env)
        if value is not None:
            values[key] = value
    return values


@dataclasses.dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP server.

    ``mode`` is ``"plain"`` (no TLS), ``"starttls"`` (upgrade after connecting) or
    ``"ssl"`` (TLS from the first byte).  ``port`` defaults to 25, 587 or 465 by mode.
    Login happens only when ``username`` is set.  TLS verifies the server certificate
    against the system store, or against ``cafile`` / ``ssl_context`` when given.
    """

    host: str = "127.0.0.1"
    port: int | None = None
    mode: SmtpMode = "plain"
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    from_addr: str = "otel-workflow@localhost"
    timeout: float = 30.0
    cafile: str | None = None
    ssl_context: ssl.SSLContext | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise ValueError("SmtpSettings.host must be a non-empty string")
        if self.mode not in SMTP_MODES:
            raise ValueError(
                f"SmtpSettings.mode must be one of {', '.join(SMTP_MODES)}, got {self.mode!r}"
            )
        if self.port is not None and (
            isinstance(self.port, bool)
            or not isinstance(self.port, int)
            or not 0 < self.port < 65536
        ):
            raise ValueError(f"SmtpSettings.port must be an int in 1..65535, got {self.port!r}")
        if not isinstance(self.timeout, (int, float)) or self.timeout <= 0:
            raise ValueError(
                f"SmtpSettings.timeout must be a positive number, got {self.timeout!r}"
            )
        if self.password is not None and not self.username:
            raise ValueError("SmtpSettings.password is set but username is not")
        _check_address(self.from_addr, "SmtpSettings.from_addr")

    @property
    def effective_port(self) -> int:
        """The port to connect to: ``port`` or the mode's default."""
        return self.port if self.port is not None else _DEFAULT_PORTS[self.mode]

    def tls_context(self) -> ssl.SSLContext:
        """The TLS context used for ``starttls`` and ``ssl`` modes."""
        if self.ssl_context is not None:
            return self.ssl_context
        return ssl.create_default_context(cafile=self.cafile)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> SmtpSettings:
        """Settings from ``OTEL_WORKFLOW_SMTP_*`` variables; ``overrides`` that are not None win."""
        values = read_smtp_environment(os.environ if environ is None else environ)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def describe(self) -> str:
        """A one-line description safe to log (never includes the password)."""
        who = f" as {self.username}" if self.username else ""
        return f"{self.mode} SMTP {self.host}:{self.effective_port}{who}"


def build_message(
    *,
    from_addr: str,
    to: Sequence[str],
    subject: str,
    html_body: str,
    text_body: str | None = None,
    attachments: Sequence[str | os.PathLike[str]] = (),
) -> EmailMessage:
    """A MIME message: text and HTML alternatives, then each file attached by name."""
    recipients = check_recipients(to)
    if not isinstance(subject, str):
        raise TypeError(f"subject must be a string, got {type(subject).__name__}")
    if "\n" in subject or "\r" in subject:
        raise ValueError("subject must be a single line")
    if not isinstance(html_body, str):
        raise TypeError(f"html_body must be a string, got {type(html_body).__name__}")
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = from_addr
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=from_addr.rpartition("@")[2])
    msg.set_content(text_body if text_body is not None else _html_to_text(html_body))
    msg.add_alternative(html_body, subtype="html")
    for item in attachments:
        path = Path(item)
        if not path.is_file():
            raise ValueError(f"attachment is not a file: {path}")
        ctype, _ = mimetypes.guess_type(path.name)
        if path.suffix.lower() == ".md":
            ctype = "text/markdown"
        maintype, _, subtype = (ctype or "application/octet-stream").partition("/")
        # Bytes (base64 on the wire) so the file arrives byte for byte, line endings included.
        params = {"charset": "utf-8"} if maintype == "text" else {}
        msg.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name,
            params=params,
        )  # fmt: skip
    return msg


class SmtpDeliveryError(smtplib.SMTPException):
    """Sending failed; the message names the server (mode, host, port), ``__cause__`` says why.

    An :class:`OSError` (as every :class:`smtplib.SMTPException` is), so code that caught
    those still does; the original error, e.g. ``ConnectionRefusedError`` or
    ``SMTPAuthenticationError``, is :attr:`original` and ``__cause__``.
    """

    def __init__(self, settings: SmtpSettings, original: BaseException) -> None:
        super().__init__(f"cannot send via {settings.describe()}: {_reason(original)}")
        self.original = original


def _reason(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        text = error.smtp_error.decode("utf-8", "replace") if isinstance(
            error.smtp_error, bytes) else str(error.smtp_error)  # fmt: skip
        return f"{type(error).__name__}: {error.smtp_code} {text}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def send_message(settings: SmtpSettings, msg: EmailMessage) -> None:
    """Deliver ``msg`` through the server in ``settings``.

    Raises :class:`SmtpDeliveryError` (naming the mode, host and port, the original error as
    its ``__cause__``) when the server cannot be reached, refuses TLS, the login or the message.
    """
    _logger.info("sending %r to %s via %s", msg["Subject"], msg["To"], settings.describe())
    try:
        refused = _deliver(settings, msg)
    except (OSError, smtplib.SMTPException) as exc:  # SSLError and socket.timeout included
        raise SmtpDeliveryError(settings, exc) from exc
    if refused:
        # Some recipients were refused but at least one took it: say which, never fail silently.
        _logger.warning("SMTP server refused recipients: %s", ", ".join(sorted(refused)))


def _deliver(settings: SmtpSettings, msg: EmailMessage) -> dict[str, tuple[int, bytes]]:
    host, port, timeout = settings.host, settings.effective_port, settings.timeout
    smtp: smtplib.SMTP
    if settings.mode == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=settings.tls_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        smtp.ehlo()
        if settings.mode == "starttls":
            smtp.starttls(context=settings.tls_context())
            smtp.ehlo()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        return smtp.send_message(msg)


def send_report(
    settings: SmtpSettings,
    *,
    to: Sequence[str],
    subject: str,
    html_body: str,
    attachments: Sequence[str | os.PathLike[str]] = (),
    text_body: str | None = None,
) -> EmailMessage:
    """Email ``html_body`` with the report file(s) attached; returns the message sent.

    Raises ``ValueError``/``TypeError`` for bad input, and :class:`SmtpDeliveryError` (an
    ``OSError`` naming the server, the original error as ``__cause__``) when the server
    cannot be reached or refuses the message.
    """
    if not isinstance(settings, SmtpSettings):
        raise TypeError(f"settings must be SmtpSettings, got {type(settings).__name__}")
    msg = build_message(
        from_addr=settings.from_addr, to=to, subject=subject, html_body=html_body,
        text_body=text_body, attachments=attachments,
    )  # fmt: skip
    send_message(settings, msg)
    return msg


def check_recipients(to: Sequence[str]) -> list[str]:
    """``to`` as a list of checked addresses (one string is one recipient); never empty."""
    if isinstance(to, str):
        to = [to]
    recipients = [_check_address(addr, "recipient") for addr in cast(Sequence[object], to)]
    if not recipients:
        raise ValueError("at least one recipient is needed")
    return recipients


_TAG = re.compile(r"<[^>]+>")
_BLOCK_END = re.compile(r"</(p|div|h[1-6]|li|tr|table|section)>|<br\s*/?>", re.IGNORECASE)
_CELL_END = re.compile(r"</t[dh]>", re.IGNORECASE)
_SKIP = re.compile(r"<(style|script|svg)\b.*?</\1>", re.IGNORECASE | re.DOTALL)


def _html_to_text(markup: str) -> str:
    """A readable plain-text alternative for clients that do not show HTML."""
    text = _SKIP.sub("", markup)
    text = _BLOCK_END.sub("\n", text)
    text = _CELL_END.sub(" | ", text)
    text = html.unescape(_TAG.sub("", text))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line) + "\n"


__all__ = [
    "ENV_SMTP_CAFILE",
    "ENV_SMTP_FROM",
    "ENV_SMTP_HOST",
    "ENV_SMTP_MODE",
    "ENV_SMTP_PASSWORD",
    "ENV_SMTP_PORT",
    "ENV_SMTP_TIMEOUT",
    "ENV_SMTP_USERNAME",
    "SMTP_MODES",
    "SmtpDeliveryError",
    "SmtpMode",
    "SmtpSettings",
    "build_message",
    "check_recipients",
    "read_smtp_environment",
    "send_message",
    "send_report",
]
