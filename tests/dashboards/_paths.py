"""Repository paths the dashboard and config tests read."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "grafana-dashboards"
SCHEMA = DASHBOARD_DIR / "schema" / "dashboard.schema.json"
COLLECTOR_DIR = REPO / "collector-config"
PROMETHEUS_DIR = COLLECTOR_DIR / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
RULE_TESTS_DIR = PROMETHEUS_DIR / "tests"
