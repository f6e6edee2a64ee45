"""configure(): attaching, idempotence, failures that leave nothing behind, env and switches."""

from __future__ import annotations

import logging
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_workflow as ow
from otel_workflow import config, semconv, settings
from otel_workflow._runtime import RUNTIME
from tests.integration._subprocess import child_env
from tests.integration.conftest import RunChild
from tests.support.otlp_receiver import OTLPReceiver

pytestmark = pytest.mark.integration


@pytest.fixture
def no_handle() -> Iterator[None]:
    """No configure() handle before the test; any the test left behind is shut down."""
    assert config.current() is None
    settings.forget_warnings()  # each test sees its own warnings
    yield
    handle = config.current()
    if handle is not None:
        handle.shutdown(5000)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another socket is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_attaches_to_the_users_global_provider(run_child: RunChild) -> None:
    """With a global SDK provider already set, configure() adds to it instead of replacing it."""
    result = run_child("attach_existing")
    assert result["result"] == 42
    assert result["global_is_users"] is True
    assert result["handle_provider_is_users"] is True
    assert result["owns_provider"] is False
    assert result["span_names"] == ["add", "increment"]
    assert result["span_kinds"] == ["step", "workflow"]
    assert result["service_names"] == ["users-own"]


def test_second_call_returns_the_first_handle(run_child: RunChild) -> None:
    """Calling configure() again returns the same handle and starts nothing new."""
    result = run_child("attach_existing")
    assert result["second_is_same_handle"] is True
    assert result["second_metrics_port"] is None


def test_second_call_in_process_returns_the_same_handle(
    no_handle: None, memory_provider: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    """configure() twice in one process returns one handle; after shutdown a new one is made."""
    provider, _ = memory_provider
    first = ow.configure(metrics_port=0, tracer_provider=provider)
    assert ow.configure(metrics_port=0, tracer_provider=provider) is first
    first.shutdown(5000)
    assert config.current() is None
    second = ow.configure(tracer_provider=provider)
    assert second is not first
    second.shutdown(5000)


def test_port_in_use_raises_oserror_naming_the_port(
    no_handle: None, busy_port: int, memory_provider: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    """A metrics port already in use raises OSError naming it, and nothing is left set up."""
    provider, _ = memory_provider
    consumers, explicit = RUNTIME.metrics_consumers, RUNTIME.explicit_provider
    with pytest.raises(OSError, match=str(busy_port)):
        ow.configure(metrics_port=busy_port, tracer_provider=provider)
    assert config.current() is None
    assert RUNTIME.metrics_consumers == consumers
    assert RUNTIME.explicit_provider is explicit
    # Nothing half set up: the next attempt, on a free port, works from scratch.
    handle = ow.configure(metrics_port=0, tracer_provider=provider)
    assert handle.metrics_port not in (None, busy_port)
    handle.shutdown(5000)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"service_name": 42}, TypeError),
        ({"service_name": ""}, TypeError),
        ({"metrics_host": 127001}, TypeError),
        ({"metrics_port": -1}, ValueError),
        ({"metrics_port": 70000}, ValueError),
        ({"metrics_port": "9464"}, TypeError),
        ({"max_label_values": 0}, ValueError),
        ({"tracer_provider": "global"}, TypeError),
        ({"span_processors": [object()]}, TypeError),
        ({"no_such_option": True}, TypeError),
        ({"store": 5}, TypeError),
        ({"otlp_endpoint": 5}, TypeError),
        ({"enabled": "false"}, TypeError),
        ({"multiprocess_dir": 5}, TypeError),
        ({"resource_attributes": ["a"]}, TypeError),
        ({"shutdown_timeout_millis": 0}, ValueError),
    ],
)
def test_invalid_options_raise_and_leave_nothing(
    no_handle: None, options: dict[str, Any], error: type[Exception]
) -> None:
    """An invalid option raises a TypeError/ValueError naming it, and no handle is created."""
    consumers = RUNTIME.metrics_consumers
    name = next(iter(options))
    with pytest.raises(error, match=name.split("_")[-1]):
        ow.configure(**options)
    assert config.current() is None
    assert RUNTIME.metrics_consumers == consumers


@pytest.mark.parametrize("raw", ["abc", "70000", "-5"])
def test_invalid_metrics_port_env_warns_and_falls_back(
    no_handle: None,
    raw: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    memory_provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    """OTEL_WORKFLOW_METRICS_PORT=<invalid> logs a warning naming it and serves no /metrics."""
    provider, _ = memory_provider
    monkeypatch.setenv(config.ENV_METRICS_PORT, raw)
    with caplog.at_level(logging.WARNING, logger="otel_workflow"):
        handle = ow.configure(tracer_provider=provider)
    assert handle.metrics_port is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(config.ENV_METRICS_PORT in m and raw in m for m in warnings), warnings
    handle.shutdown(5000)


def test_metrics_port_env_is_used_when_valid(
    no_handle: None,
    monkeypatch: pytest.MonkeyPatch,
    memory_provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    """OTEL_WORKFLOW_METRICS_PORT=0 serves /metrics on a free port (argument absent)."""
    provider, _ = memory_provider
    monkeypatch.setenv(config.ENV_METRICS_PORT, "0")
    handle = ow.configure(tracer_provider=provider)
    assert isinstance(handle.metrics_port, int) and handle.metrics_port > 0
    handle.shutdown(5000)


def test_enabled_false_turns_everything_off(run_child: RunChild) -> None:
    """OTEL_WORKFLOW_ENABLED=false: same results, no spans, no workflow metrics."""
    result = run_child("disabled", env={"OTEL_WORKFLOW_ENABLED": "false"})
    assert result["results"] == [1, 2, 3, 4, 5]
    assert result["inventory"] == [11, 12, 13]
    assert result["active"] is False
    assert result["spans"] == 0
    assert result["executions"] == 0
    assert result["step_executions"] == 0


def test_enabled_by_default_records(run_child: RunChild) -> None:
    """The same scenario without OTEL_WORKFLOW_ENABLED records spans and metrics (control)."""
    result = run_child("disabled")
    assert result["results"] == [1, 2, 3, 4, 5]
    assert result["active"] is True
    assert result["spans"] == 5 * 2 + 1 + 3
    assert result["executions"] == 6
    assert result["step_executions"] == 8


def test_ratio_zero_still_feeds_store_and_processors(
    run_child: RunChild, otlp_receiver: OTLPReceiver, tmp_path: Path
) -> None:
    """traceidratio 0: every span reaches the store and in-process processors, none goes OTLP."""
    store = tmp_path / "store.db"
    result = run_child("sampler_zero", store=str(store), env={
        "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0",
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint,
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
    })  # fmt: skip
    assert result["shutdown"] is True
    # 5 checkouts: 5 workflow spans, 5 validate, 4 charge.
    assert result["in_memory_spans"] == 14
    assert result["in_memory_sampled"] == 0  # RECORD_ONLY: the true flag, recorded anyway
    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT count(*) FROM executions").fetchone()[0] == 5
        assert conn.execute("SELECT count(*) FROM steps").fetchone()[0] == 9
    # OTLP itself worked (metrics arrived before the child exited) yet carried no span.
    assert otlp_receiver.latest_metric(semconv.METRIC_WORKFLOW_EXECUTIONS) is not None
    assert otlp_receiver.spans() == []


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_failure_after_binding_releases_the_port(
    no_handle: None, tmp_path: Path, memory_provider: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    """A store that fails after /metrics was bound closes the port: a retry on it works."""
    provider, _ = memory_provider
    port = _free_port()
    consumers = RUNTIME.metrics_consumers
    with pytest.raises(OSError):
        ow.configure(metrics_port=port, store=tmp_path, tracer_provider=provider)
    assert config.current() is None
    assert RUNTIME.metrics_consumers == consumers
    handle = ow.configure(metrics_port=port, tracer_provider=provider)
    assert handle.metrics_port == port
    handle.shutdown(5000)


_NO_GLOBAL_CHILD = """
import sys
from opentelemetry import trace
import otel_workflow as ow
try:
    ow.configure(metrics_port={port}, store=sys.argv[1])
except OSError:
    pass
else:
    raise SystemExit("configure() did not raise")
assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider), "global provider set"
handle = ow.configure(metrics_port={port})
assert handle.metrics_port == {port} and handle.owns_provider
print("RETRY-OK")
"""


def test_failed_configure_sets_no_global_provider(tmp_path: Path) -> None:
    """A configure() that fails sets no global provider, so a retry in the process succeeds."""
    code = _NO_GLOBAL_CHILD.format(port=_free_port())
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=child_env({}),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0 and "RETRY-OK" in proc.stdout, proc.stderr


@pytest.mark.parametrize("variable", ["STORE", "MULTIPROC_DIR", "METRICS_HOST"])
def test_unusable_environment_value_warns_and_falls_back(
    no_handle: None, variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, memory_provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:  # fmt: skip
    """An unusable store, multiprocess directory or host from the environment warns and
    falls back (no store, no shared directory, 127.0.0.1) instead of raising."""
    provider, _ = memory_provider
    unusable = {
        "STORE": str(tmp_path),  # a directory, not a SQLite file
        "MULTIPROC_DIR": str(tmp_path / "missing"),
        "METRICS_HOST": "192.0.2.1",  # TEST-NET-1: never a local address, never routed
    }[variable]
    setting: settings.Setting[object] = getattr(settings, variable)
    monkeypatch.setenv(setting.name, unusable)
    monkeypatch.setenv(settings.METRICS_PORT.name, "0")
    with caplog.at_level(logging.WARNING, logger="otel_workflow"):
        handle = ow.configure(tracer_provider=provider)
    try:
        assert handle.store_path is None
        assert handle.snapshot_writer is None
        assert handle.metrics_server is not None and handle.metrics_server.host == "127.0.0.1"
        assert any(setting.name in m and unusable in m for m in _warnings(caplog)), caplog.text
    finally:
        handle.shutdown(5000)


@pytest.mark.parametrize("raw", ["0", "-5", "soon"])
def test_bad_metric_export_interval_warns_and_uses_the_default(
    no_handle: None, raw: str, monkeypatch: pytest.MonkeyPatch, otlp_receiver: OTLPReceiver,
    caplog: pytest.LogCaptureFixture, memory_provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:  # fmt: skip
    """A non-positive or non-numeric OTEL_METRIC_EXPORT_INTERVAL warns and uses 60 s."""
    provider, _ = memory_provider
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", raw)
    with caplog.at_level(logging.WARNING, logger="otel_workflow"):
        handle = ow.configure(tracer_provider=provider, otlp_endpoint=otlp_receiver.endpoint)
    try:
        assert handle.metrics_pusher.interval == 60.0
        assert any("OTEL_METRIC_EXPORT_INTERVAL" in m for m in _warnings(caplog))
    finally:
        handle.shutdown(5000)


def test_unknown_otlp_protocol_warns_and_uses_http(
    no_handle: None, monkeypatch: pytest.MonkeyPatch, otlp_receiver: OTLPReceiver,
    caplog: pytest.LogCaptureFixture, memory_provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:  # fmt: skip
    """An unknown OTEL_EXPORTER_OTLP_PROTOCOL warns naming it; OTLP/HTTP is used."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    provider, _ = memory_provider
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
    with caplog.at_level(logging.WARNING, logger="otel_workflow"):
        handle = ow.configure(tracer_provider=provider, otlp_endpoint=otlp_receiver.endpoint)
    try:
        assert isinstance(handle.metrics_pusher.exporter, OTLPMetricExporter)
        assert any("OTEL_EXPORTER_OTLP_PROTOCOL" in m and "carrier-pigeon" in m
                   for m in _warnings(caplog))  # fmt: skip
    finally:
        handle.shutdown(5000)


def test_second_call_warns_naming_every_ignored_option(
    no_handle: None, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    memory_provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:  # fmt: skip
    """A second configure() names each option it ignores, those without a None default too."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider, exporter = memory_provider
    first = ow.configure(tracer_provider=provider)
    with caplog.at_level(logging.WARNING, logger="otel_workflow"):
        again = ow.configure(span_processors=[SimpleSpanProcessor(exporter)],
                             resource_attributes={"team": "a"}, store=tmp_path / "s.db",
                             store_retention="7d")  # fmt: skip
    assert again is first
    (message,) = [m for m in _warnings(caplog) if "already called" in m]
    for option in ("span_processors", "resource_attributes", "store", "store_retention"):
        assert option in message
    first.shutdown(5000)
