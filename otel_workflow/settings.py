"""Every environment variable otel-workflow reads, defined, parsed and documented once.

One :class:`Setting` per variable: its name, a parser, a default and the text the README's
configuration table is generated from (:func:`markdown_table`; a test keeps the two equal).
One precedence rule for all of them: argument > environment > default.  An invalid
environment value logs a warning naming the variable and falls back to the default; the
warning is logged once per variable and value, however many decorators read it.

>>> from otel_workflow import settings
>>> settings.ENABLED.get({"OTEL_WORKFLOW_ENABLED": "off"})
False
>>> settings.METRICS_PORT.resolve(9464)  # an argument wins
9464

A leaf module: the standard library only, so every layer may import it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")

_logger = logging.getLogger("otel_workflow")

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: ``parse`` turns a non-empty raw value into ``T`` or raises
    ``ValueError`` (its message says what was expected); ``default`` applies when the
    variable is unset, empty or invalid."""

    name: str
    parse: Callable[[str], T]
    default: T
    doc: str
    default_doc: str
    standard: bool = False
    """A standard ``OTEL_*`` variable we parse ourselves (not in the README's own table)."""

    def raw(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The variable's value, or None when it is unset or blank."""
        value = (os.environ if environ is None else environ).get(self.name)
        return value if value is not None and value.strip() else None

    def lookup(self, environ: Mapping[str, str] | None = None) -> T | None:
        """The environment's parsed value; None when unset or invalid (warned about once)."""
        raw = self.raw(environ)
        if raw is None:
            return None
        try:
            return self.parse(raw.strip())
        except ValueError as exc:
            self.warn_invalid(raw, str(exc))
            return None

    def get(self, environ: Mapping[str, str] | None = None) -> T:
        """The environment's value, or the default (warning once when the value is invalid)."""
        value = self.lookup(environ)
        return self.default if value is None else value

    def resolve(self, argument: T | None, environ: Mapping[str, str] | None = None) -> T:
        """``argument`` when given (not None), else :meth:`get`."""
        return argument if argument is not None else self.get(environ)

    def warn_invalid(self, raw: str, reason: str, fallback: str | None = None) -> None:
        """Log, once per variable and value, that ``raw`` is unusable and what is used instead."""
        key = (self.name, raw)
        with _warned_lock:
            if key in _warned:
                return
            _warned.add(key)
        _logger.warning("otel-workflow: invalid value %r for %s (%s); using %s", raw, self.name,
                        reason, fallback or self.default_doc)  # fmt: skip


def forget_warnings() -> None:
    """Warn again about values already warned about (for tests)."""
    with _warned_lock:
        _warned.clear()


# -- parsers: each raises ValueError saying what it expected -------------------------------


def parse_bool(raw: str) -> bool:
    """``true/1/yes/on`` or ``false/0/no/off``, any case."""
    value = raw.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected true or false")


def _int_between(minimum: int, maximum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = minimum - 1
        if not minimum <= value <= maximum:
            raise ValueError(f"expected an integer {minimum}-{maximum}")
        return value

    return parse


def _positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise ValueError("expected a positive number")
    return value


def _text(raw: str) -> str:
    return raw


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.lower()
        if value not in choices:
            raise ValueError(f"expected {', '.join(choices)}")
        return value

    return parse


_CAPTURE_VALUES: dict[str, tuple[bool, bool]] = {
    "none": (False, False), "false": (False, False), "0": (False, False),
    "args": (True, False), "input": (True, False),
    "result": (False, True), "output": (False, True),
    "all": (True, True), "true": (True, True), "1": (True, True),
}  # fmt: skip


def parse_capture(raw: str) -> tuple[bool, bool]:
    """``none|args|result|all`` (or ``true``/``false``) -> (capture args, capture result)."""
    try:
        return _CAPTURE_VALUES[raw.lower()]
    except KeyError:
        raise ValueError("expected none, args, result or all") from None


# -- the table ------------------------------------------------------------------------------

ENABLED = Setting("OTEL_WORKFLOW_ENABLED", parse_bool, True,
                  "`false` turns every decorator into a plain call", "`true`")  # fmt: skip
CAPTURE = Setting("OTEL_WORKFLOW_CAPTURE", parse_capture, (False, False),
                  "default capture: `none`, `args`, `result`, `all`", "`none`")  # fmt: skip
METRICS_PORT: Setting[int | None] = Setting(
    "OTEL_WORKFLOW_METRICS_PORT", _int_between(0, 65535), None,
    "serve `/metrics` on this port (0 = any free port)", "off",
)
METRICS_HOST = Setting("OTEL_WORKFLOW_METRICS_HOST", _text, "127.0.0.1",
                       "bind address of `/metrics`", "`127.0.0.1`")  # fmt: skip
STORE: Setting[str | None] = Setting("OTEL_WORKFLOW_STORE", _text, None,
                                     "path of the embedded SQLite store", "off")  # fmt: skip
#: The store the CLI reads and the demo writes when neither ``--store`` nor
#: ``OTEL_WORKFLOW_STORE`` names one: one file name, so the commands the demo prints work as is.
DEFAULT_STORE_FILE = "otel-workflow.db"
MAX_LABEL_VALUES = Setting("OTEL_WORKFLOW_MAX_LABEL_VALUES", _int_between(1, 1_000_000), 200,
                           "distinct values per metric label before `_OTHER`",
                           "`200`")  # fmt: skip
MULTIPROC_DIR: Setting[str | None] = Setting(
    "OTEL_WORKFLOW_MULTIPROC_DIR", _text, None,
    "shared directory: one `/metrics` across worker processes", "off",
)
PROPAGATE_THREADS = Setting("OTEL_WORKFLOW_PROPAGATE_THREADS", parse_bool, True,
                            "`false`: don't carry context into `ThreadPoolExecutor`",
                            "`true`")  # fmt: skip
INSTRUMENT = Setting("OTEL_WORKFLOW_INSTRUMENT", _text, "",
                     "comma-separated `module:attr` targets for the `opentelemetry-instrument` "
                     "hook; `=workflow` after one makes it a workflow", "none")  # fmt: skip
SHUTDOWN_TIMEOUT = Setting("OTEL_WORKFLOW_SHUTDOWN_TIMEOUT", _int_between(1, 3_600_000), 5000,
                           "deadline in ms of `handle.shutdown()` and of the shutdown at exit",
                           "`5000`")  # fmt: skip
SMTP_HOST = Setting("OTEL_WORKFLOW_SMTP_HOST", _text, "127.0.0.1",
                    "SMTP server for emailed reports", "`127.0.0.1`")  # fmt: skip
SMTP_PORT: Setting[int | None] = Setting(
    "OTEL_WORKFLOW_SMTP_PORT", _int_between(1, 65535), None,
    "SMTP server port", "25, 587 (starttls) or 465 (ssl)",
)
SMTP_MODE = Setting("OTEL_WORKFLOW_SMTP_MODE", _one_of("plain", "starttls", "ssl"), "plain",
                    "`plain`, `starttls` or `ssl`", "`plain`")  # fmt: skip
SMTP_USERNAME: Setting[str | None] = Setting("OTEL_WORKFLOW_SMTP_USERNAME", _text, None,
                                             "SMTP login name", "no login")  # fmt: skip
SMTP_PASSWORD: Setting[str | None] = Setting("OTEL_WORKFLOW_SMTP_PASSWORD", _text, None,
                                             "SMTP login password", "none")  # fmt: skip
SMTP_FROM = Setting("OTEL_WORKFLOW_SMTP_FROM", _text, "otel-workflow@localhost",
                    "sender address of emailed reports", "`otel-workflow@localhost`")  # fmt: skip
SMTP_TIMEOUT = Setting("OTEL_WORKFLOW_SMTP_TIMEOUT", _positive_float, 30.0,
                       "SMTP socket timeout in seconds", "`30`")  # fmt: skip
SMTP_CAFILE: Setting[str | None] = Setting(
    "OTEL_WORKFLOW_SMTP_CAFILE", _text, None,
    "PEM file of CA certificates to trust for SMTP TLS", "the system store",
)

# Standard OpenTelemetry variables the SDK leaves to us (our own OTLP metrics pusher and the
# protocol choice); documented with the standard ones, parsed by the same rule.
METRIC_EXPORT_INTERVAL = Setting("OTEL_METRIC_EXPORT_INTERVAL", _positive_float, 60000.0,
                                 "milliseconds between OTLP metric exports", "`60000`",
                                 standard=True)  # fmt: skip
OTLP_PROTOCOL = Setting("OTEL_EXPORTER_OTLP_PROTOCOL", _one_of("http/protobuf", "grpc"),
                        "http/protobuf", "OTLP protocol: `http/protobuf` or `grpc`",
                        "`http/protobuf`", standard=True)  # fmt: skip
OTLP_TRACES_PROTOCOL = dataclasses.replace(OTLP_PROTOCOL, name="OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
OTLP_METRICS_PROTOCOL = dataclasses.replace(OTLP_PROTOCOL,
                                            name="OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")

ALL: tuple[Setting[object], ...] = tuple(
    value for value in list(globals().values()) if isinstance(value, Setting)
)
"""Every setting, in definition order."""


def markdown_table() -> str:
    """The README's table of ``OTEL_WORKFLOW_*`` variables (a test keeps them equal)."""
    rows = ["| Variable | Meaning | Default |", "| --- | --- | --- |"]
    rows += [f"| `{s.name}` | {s.doc} | {s.default_doc} |" for s in ALL if not s.standard]
    return "\n".join(rows) + "\n"
