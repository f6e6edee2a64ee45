"""A real Prometheus server for tests.

Starts the ``prometheus`` binary (Debian package ``prometheus``) on 127.0.0.1 with a free
port, a temporary TSDB, a generated scrape config (the caller's targets, scraped every
second; exemplar storage on) and optional rule files, then waits until it is ready and
has scraped every target.  The launcher itself is :mod:`otel_workflow.demo.prometheus`
(also used by ``otel-workflow demo --prometheus``); this module adds the pytest glue.

Expose it in a ``conftest.py``::

    import pytest
    from tests.support.prometheus import prometheus_factory

    @pytest.fixture
    def prometheus(tmp_path_factory):
        with prometheus_factory(tmp_path_factory) as start:
            yield start

and use it in a test::

    def test_counts_are_scraped(prometheus):
        prom = prometheus(["127.0.0.1:9464"], rule_files=[...])  # ready and scraped once
        prom.wait_for("workflow_executions_total", lambda r: len(r) > 0, timeout=30)
        prom.query("sum(workflow_executions_total)")
        prom.query_range("up", start, end, step=1)
        prom.query_exemplars("workflow_duration_seconds_bucket", start, end)
        prom.wait_for_exemplars("workflow_duration_seconds_bucket", timeout=30)
        prom.url  # e.g. http://127.0.0.1:40123

Every server the starter started is stopped when the ``with`` block ends.  When the binary
is missing the starter calls ``pytest.skip("Prometheus binary not found (Debian package
prometheus)")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import pytest

from otel_workflow.demo.prometheus import (
    PrometheusError,
    PrometheusProcess,
    find_prometheus,
)

__all__ = [
    "SKIP_REASON",
    "PrometheusError",
    "PrometheusProcess",
    "PrometheusStarter",
    "prometheus_factory",
    "require_prometheus",
]

SKIP_REASON = "Prometheus binary not found (Debian package prometheus)"


def require_prometheus() -> str:
    """Path of the ``prometheus`` binary; skips the calling test when it is absent."""
    binary = find_prometheus()
    if binary is None:
        pytest.skip(SKIP_REASON)
    return binary


class PrometheusStarter:
    """Starts Prometheus servers for one test and stops them all on ``close()``."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp_path_factory = tmp_path_factory
        self._started: list[PrometheusProcess] = []

    def __call__(
        self,
        targets: Sequence[str],
        *,
        rule_files: Sequence[str | Path] = (),
        scrape_interval: str = "1s",
        wait_scrape: bool = True,
        timeout: float = 60.0,
    ) -> PrometheusProcess:
        """Start a server scraping ``targets``; return it ready (and scraped once, by default)."""
        binary = require_prometheus()
        workdir = self._tmp_path_factory.mktemp("prometheus")
        server = PrometheusProcess.start(
            binary=binary,
            workdir=workdir,
            targets=targets,
            rule_files=rule_files,
            scrape_interval=scrape_interval,
            ready_timeout=timeout,
        )
        self._started.append(server)
        if wait_scrape:
            server.wait_for_scrape(timeout=timeout)
        return server

    def close(self) -> None:
        """Stop every server this starter started."""
        while self._started:
            self._started.pop().stop()

    def __enter__(self) -> PrometheusStarter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def prometheus_factory(tmp_path_factory: pytest.TempPathFactory) -> PrometheusStarter:
    """A context-managed starter of real Prometheus servers (see the module docstring)."""
    return PrometheusStarter(tmp_path_factory)
