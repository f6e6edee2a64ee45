"""Fixtures for the dashboard, rule and collector-config tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.prometheus import PrometheusStarter, prometheus_factory


@pytest.fixture
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusStarter]:
    """Starter of real Prometheus servers, all stopped after the test."""
    with prometheus_factory(tmp_path_factory) as start:
        yield start
