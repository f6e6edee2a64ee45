"""Grafana dashboards for otel-workflow metrics, generated from Python.

``python -m otel_workflow.dashboards`` writes ``grafana-dashboards/*.json`` (three
dashboards: "Workflow overview", "Step drill-down", "Errors").  The panel specs and their
PromQL live in :mod:`otel_workflow.dashboards.panels` and import without extra packages;
rendering JSON needs ``grafana-foundation-sdk`` (``pip install 'otel-workflow[dashboards]'``),
imported only when :func:`render_all` or :func:`generate` runs.

Example::

    from otel_workflow.dashboards import generate
    generate("grafana-dashboards")   # -> [Path('grafana-dashboards/errors.json'), ...]
"""

from __future__ import annotations

from pathlib import Path

from otel_workflow.dashboards.panels import DASHBOARDS, DashboardSpec, PanelSpec, Query

__all__ = ["DASHBOARDS", "DashboardSpec", "PanelSpec", "Query", "generate", "render_all"]

_MISSING_SDK = (
    "generating dashboards needs grafana-foundation-sdk: pip install 'otel-workflow[dashboards]'"
)


def render_all(trace_type: str = "tempo") -> dict[str, str]:
    """Every dashboard as JSON text, keyed by file name."""
    try:
        from otel_workflow.dashboards._build import render_dashboard
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.startswith("grafana_foundation_sdk"):
            raise ModuleNotFoundError(_MISSING_SDK, name=exc.name) from exc
        raise
    return {spec.file_name: render_dashboard(spec, trace_type) for spec in DASHBOARDS}


def generate(out_dir: str | Path, trace_type: str = "tempo") -> list[Path]:
    """Write every dashboard into ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(render_all(trace_type).items()):
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
