"""Fixtures for the core SDK's integration tests: subprocesses, OTLP receiver, Prometheus."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_workflow._guard import reset_internal_errors
from otel_workflow._metrics import REGISTRY
from tests.integration import _subprocess
from tests.support.otlp_receiver import OTLPReceiver
from tests.support.prometheus import PrometheusStarter, prometheus_factory

RunChild = Callable[..., dict[str, Any]]


@pytest.fixture
def run_child() -> RunChild:
    """Run a scenario of ``tests.integration._children`` in a new Python; return its result."""
    return _subprocess.run_child


@pytest.fixture
def otlp_receiver() -> Iterator[OTLPReceiver]:
    """A real OTLP/HTTP receiver on 127.0.0.1 (free port), closed after the test."""
    with OTLPReceiver() as receiver:
        yield receiver


@pytest.fixture
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusStarter]:
    """Starter of real Prometheus servers, all stopped after the test."""
    with prometheus_factory(tmp_path_factory) as start:
        yield start


@pytest.fixture
def fresh_metrics() -> Iterator[None]:
    """Start from zeroed otel-workflow metrics in this (the pytest) process."""
    REGISTRY.reset()
    reset_internal_errors()
    yield
    REGISTRY.reset()


@pytest.fixture
def memory_provider() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """An SDK tracer provider (never the global one) exporting to memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()
