"""Prometheus config and rules: promtool checks and unit tests, and names that match semconv."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # types-PyYAML is not a dev dependency

from otel_workflow import semconv as sc
from otel_workflow.dashboards.panels import all_queries
from tests.dashboards._paths import PROMETHEUS_DIR, RULE_TESTS_DIR, RULES_DIR


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool binary not found (Debian package prometheus)")
    return path


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def _rules(name: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((RULES_DIR / name).read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def test_promtool_check_config() -> None:
    """promtool accepts the shipped prometheus.yml and the rule files it loads."""
    result = _run([_promtool(), "check", "config", "prometheus.yml"], PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 rule files found" in result.stdout


def test_promtool_check_rules() -> None:
    """promtool accepts every rule file."""
    files = sorted(str(p) for p in RULES_DIR.glob("*.yml"))
    result = _run([_promtool(), "check", "rules", *files], RULES_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", sorted(p.name for p in RULE_TESTS_DIR.glob("*.yml")), ids=str)
def test_promtool_rule_unit_tests(test_file: str) -> None:
    """The rule unit tests pass under promtool test rules."""
    result = _run([_promtool(), "test", "rules", test_file], RULE_TESTS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_catch_a_broken_threshold(tmp_path: Path) -> None:
    """With the error-rate threshold changed, the alert unit tests fail."""
    promtool = _promtool()
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    shutil.copy(RULES_DIR / "recording.yml", tmp_path / "rules")
    alerts = (RULES_DIR / "alerts.yml").read_text(encoding="utf-8")
    assert "error_ratio_rate5m > 0.05" in alerts
    (tmp_path / "rules" / "alerts.yml").write_text(
        alerts.replace("error_ratio_rate5m > 0.05", "error_ratio_rate5m > 0.5"), encoding="utf-8"
    )
    shutil.copy(RULE_TESTS_DIR / "alerts_test.yml", tmp_path / "tests")
    result = _run([promtool, "test", "rules", "alerts_test.yml"], tmp_path / "tests")
    assert result.returncode != 0
    assert "WorkflowErrorRateHigh" in result.stdout + result.stderr


def test_every_semconv_recording_rule_is_recorded() -> None:
    """Each PROM_RULE_* name in semconv is recorded by recording.yml, and nothing else is."""
    recorded = {rule["record"] for rule in _rules("recording.yml")}
    expected = {v for k, v in vars(sc).items() if k.startswith("PROM_RULE_")}
    assert recorded == expected


def test_rules_read_only_series_the_dashboards_read() -> None:
    """The rules aggregate the raw series the dashboards query (they only make them cheaper)."""
    raw = re.compile(
        r"\b(workflow_[a-z_]+?(?:_total|_seconds_bucket|_seconds_sum|_seconds_count))\b"
    )
    read_by_rules = {m for rule in _rules("recording.yml") for m in raw.findall(rule["expr"])}
    read_by_dashboards = {m for _, _, query in all_queries() for m in raw.findall(query.expr)}
    assert read_by_rules and read_by_rules <= read_by_dashboards
    assert not any(re.search(r"[a-z_]+:[a-z_0-9]+:", q.expr) for _, _, q in all_queries())


def test_rules_use_only_exposed_metric_names() -> None:
    """Raw metric names in the rules are the PROM_* names the SDK exposes."""
    exposed = {
        v for k, v in vars(sc).items() if k.startswith("PROM_") and not k.startswith("PROM_LABEL")
    }
    exposed |= {f"{sc.PROM_WORKFLOW_DURATION}_bucket", f"{sc.PROM_STEP_DURATION}_bucket"}
    exposed |= {f"{sc.PROM_STEP_CPU_TIME}_{s}" for s in ("sum", "count", "bucket")}
    exposed.add("up")
    for rule in _rules("recording.yml") + _rules("alerts.yml"):
        for name in re.findall(
            r"\b(?:workflow|otel_workflow|process)_[a-z_]+\b(?=[\[{ )])", rule["expr"]
        ):
            if name in {sc.PROM_LABEL_WORKFLOW, sc.PROM_LABEL_WORKFLOW_TYPE, sc.PROM_LABEL_STEP,
                        sc.PROM_LABEL_STATUS, sc.PROM_LABEL_ERROR_CATEGORY,
                        "otel_workflow_component", "otel_workflow_label"}:  # fmt: skip
                continue
            assert name in exposed, (name, rule.get("record") or rule.get("alert"))


def test_alerts_cover_the_required_conditions() -> None:
    """Error rate, p99 regression against yesterday, stuck executions and SDK self-metrics."""
    alerts = {rule["alert"]: rule for rule in _rules("alerts.yml")}
    assert "offset 1d" in alerts["WorkflowP99Regression"]["expr"]
    assert sc.PROM_WORKFLOW_ACTIVE in alerts["WorkflowExecutionsStuck"]["expr"]
    assert sc.PROM_SELF_SPANS_DROPPED in alerts["OtelWorkflowSpansDropped"]["expr"]
    assert sc.PROM_SELF_ERRORS in alerts["OtelWorkflowInstrumentationErrors"]["expr"]
    assert sc.PROM_RULE_WORKFLOW_ERROR_RATIO in alerts["WorkflowErrorRateHigh"]["expr"]
    for rule in alerts.values():
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
