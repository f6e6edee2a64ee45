"""The real-Prometheus test helper scrapes, queries and keeps exemplars."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Histogram, start_http_server

from otel_workflow.demo.prometheus import graph_url, render_config
from tests.support.prometheus import PrometheusStarter


@pytest.fixture
def exemplar_target() -> Iterator[str]:
    """A prometheus_client /metrics endpoint on 127.0.0.1 with one exemplar."""
    registry = CollectorRegistry()
    hist = Histogram("support_probe_seconds", "probe", registry=registry, buckets=(0.1, 1.0))
    hist.observe(0.05, exemplar={"trace_id": "0af7651916cd43dd8448eb211c80319c"})
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_started_server_has_scraped_the_target(
    prometheus: PrometheusStarter, exemplar_target: str
) -> None:
    """A started server is ready and has the target's samples once the starter returns."""
    prom = prometheus([exemplar_target])
    result = prom.query("support_probe_seconds_count")
    assert [float(r["value"][1]) for r in result] == [1.0]


def test_exemplars_are_ingested(prometheus: PrometheusStarter, exemplar_target: str) -> None:
    """Exemplars on an OpenMetrics exposition reach the exemplar query API."""
    prom = prometheus([exemplar_target])
    exemplars = prom.wait_for_exemplars("support_probe_seconds_bucket", timeout=30)
    labels = [e["labels"] for group in exemplars for e in group["exemplars"]]
    assert {"trace_id": "0af7651916cd43dd8448eb211c80319c"} in labels


def test_wait_for_and_range_query(prometheus: PrometheusStarter, exemplar_target: str) -> None:
    """wait_for returns the matching result and query_range returns a matrix."""
    prom = prometheus([exemplar_target])
    up = prom.wait_for("up", lambda r: bool(r) and r[0]["value"][1] == "1", timeout=30)
    assert up[0]["metric"]["instance"] == exemplar_target
    now = time.time()
    matrix = prom.query_range("up", now - 60, now, step=1)
    assert matrix and matrix[0]["values"]


def test_config_rejects_bad_targets() -> None:
    """A target without a port is rejected with a ValueError naming it."""
    with pytest.raises(ValueError, match="localhost"):
        render_config(["localhost"])
    with pytest.raises(TypeError):
        render_config("127.0.0.1:1")


def test_graph_url_encodes_the_expression() -> None:
    """The graph link carries the expression URL-encoded."""
    url = graph_url("http://127.0.0.1:9090/", 'sum(rate(x{a="b"}[5m]))')
    assert url.startswith("http://127.0.0.1:9090/graph?g0.expr=sum%28rate%28x%7Ba%3D%22b%22%7D")
