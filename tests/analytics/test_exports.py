"""CSV and JSON exports: header and stable columns, versioned structure, streaming."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from pathlib import Path

from otel_workflow.analytics import AnalyticsEngine
from otel_workflow.analytics.exports import (
    EXECUTION_COLUMNS,
    EXPORT_FORMAT_VERSION,
    STEP_COLUMNS,
)

from .conftest import SpanFactory, Workload


def test_csv_has_header_and_stable_columns(workload: Workload, tmp_path: Path) -> None:
    """CSV starts with the documented header and has one row per execution."""
    out = tmp_path / "executions.csv"
    with AnalyticsEngine.from_store(workload.path) as engine:
        count = engine.export_csv(out)
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(EXECUTION_COLUMNS)
    assert count == len(rows) - 1 == sum(len(d) for d in workload.durations.values())
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["workflow"] in workload.durations and first["start"].endswith("+00:00")
    assert json.loads(first["attributes"]) == {"code.function.name": f"run_{first['workflow']}"}


def test_csv_of_steps_filtered_by_workflow(workload: Workload) -> None:
    """A workflow filter exports only that workflow's step rows."""
    buffer = io.StringIO()
    with AnalyticsEngine.from_store(workload.path) as engine:
        count = engine.export_csv(buffer, kind="steps", workflow="refund")
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert list(rows[0]) == list(STEP_COLUMNS)
    assert count == len(rows) == 3 * len(workload.durations["refund"])
    assert {r["workflow"] for r in rows} == {"refund"}


def test_json_document_structure(workload: Workload, tmp_path: Path) -> None:
    """JSON export is the documented versioned document with typed rows."""
    out = tmp_path / "steps.json"
    with AnalyticsEngine.from_store(workload.path) as engine:
        count = engine.export_json(out, kind="steps", since="2026-01-01T00:30:00Z")
    doc = json.loads(out.read_text())
    assert doc["format"] == "otel-workflow-export" and doc["version"] == EXPORT_FORMAT_VERSION == 2
    assert doc["kind"] == "steps" and doc["columns"] == list(STEP_COLUMNS)
    assert doc["range"]["since"] == "2026-01-01T00:30:00+00:00" and doc["range"]["until"] is None
    assert doc["row_count"] == count == len(doc["rows"]) > 0
    row = doc["rows"][0]
    assert isinstance(row["duration_seconds"], float) and isinstance(row["attributes"], dict)
    assert row["start"] >= "2026-01-01T00:30:00"


def test_empty_json_export_is_valid(workload: Workload) -> None:
    """An export matching nothing is still a valid document with no rows."""
    buffer = io.StringIO()
    with AnalyticsEngine.from_store(workload.path) as engine:
        assert engine.export_json(buffer, workflow="nope") == 0
    doc = json.loads(buffer.getvalue())
    assert doc["rows"] == [] and doc["row_count"] == 0


def test_stats_exports(workload: Workload) -> None:
    """workflow_stats export as CSV with the statistics' fields, seconds named *_seconds."""
    buffer = io.StringIO()
    with AnalyticsEngine.from_store(workload.path) as engine:
        assert engine.export_csv(buffer, kind="workflow_stats") == 3
        stats = {s.workflow: s for s in engine.workflow_stats()}
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    header = list(rows[0])
    assert header[:3] == ["workflow", "workflow_type", "count"]
    assert {"p99_seconds", "avg_seconds", "max_seconds"} <= set(header)
    assert not {"p99", "avg", "max"} & set(header)
    for row in rows:
        assert float(row["p95_seconds"]) == stats[row["workflow"]].p95


def test_every_number_in_seconds_names_its_unit(workload: Workload) -> None:
    """No export column holds seconds under a bare name: raw rows and both statistics kinds."""
    with AnalyticsEngine.from_store(workload.path) as engine:
        for kind in ("executions", "steps", "workflow_stats", "step_stats"):
            buffer = io.StringIO()
            engine.export_json(buffer, kind=kind)
            columns = json.loads(buffer.getvalue())["columns"]
            bare = {"duration", "cpu_time", "avg", "min", "max", "p50", "p95", "p99",
                    "total_cpu_time", "avg_cpu_time"} & set(columns)  # fmt: skip
            assert not bare, (kind, bare)
            assert any(c.endswith("_seconds") for c in columns), kind


def test_exports_and_stats_csv_name_columns_alike(workload: Workload) -> None:
    """`export --kind step_stats` and `stats`-style `steps --format csv` share column names."""
    import subprocess
    import sys

    def header(*argv: str) -> list[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "otel_workflow.cli", *argv, "--store", str(workload.path),
             "--format", "csv"], capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        return proc.stdout.splitlines()[0].split(",")

    assert header("export", "--kind", "step_stats") == header("steps")
    assert header("export", "--kind", "workflow_stats") == header("stats")


def test_exports_are_streamed(tmp_path: Path) -> None:
    """Exporting many rows holds only a small, bounded amount of memory."""
    factory = SpanFactory()
    for i in range(6000):
        factory.execution("bulk", i * 0.01, 0.001, extra={"payload": "x" * 200})
    path = factory.write(tmp_path / "s.db")
    with AnalyticsEngine.from_store(path) as engine:
        columns, rows = engine.iter_rows("executions")
        assert columns == list(EXECUTION_COLUMNS) and not isinstance(rows, list)
        for fmt in ("csv", "json"):
            out = tmp_path / f"bulk.{fmt}"
            tracemalloc.start()
            try:
                written = getattr(engine, f"export_{fmt}")(out)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert written == 6000
            # The output is ~2.5 MB; holding it (or all rows) would exceed this bound.
            assert peak < out.stat().st_size / 4, (fmt, peak, out.stat().st_size)


def test_csv_neutralises_formula_cells_and_keeps_numbers(
    factory: SpanFactory, tmp_path: Path
) -> None:
    """Text cells starting like a formula get a leading quote in CSV; numbers and JSON do not."""
    dangerous = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
    for i, user in enumerate(dangerous):
        factory.execution("=cmd|' /C calc'!A0", i, 0.25, user_id=user)
    factory.execution("order", 100, 0.5, user_id="plain")
    path = factory.write(tmp_path / "s.db")
    out = tmp_path / "x.csv"
    with AnalyticsEngine.from_store(path) as engine:
        engine.export_csv(out)
        engine.export_json(tmp_path / "x.json")
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    users = [r["user_id"] for r in rows]
    assert users == ["'" + u for u in dangerous] + ["plain"]
    assert {r["workflow"] for r in rows} == {"'=cmd|' /C calc'!A0", "order"}
    assert [r["duration_seconds"] for r in rows] == ["0.25"] * len(dangerous) + ["0.5"]
    doc = json.loads((tmp_path / "x.json").read_text())
    assert [r["user_id"] for r in doc["rows"]] == [*dangerous, "plain"]


def test_csv_keeps_negative_numbers_as_numbers(tmp_path: Path) -> None:
    """A genuinely numeric cell such as -1.5 is written as a number, not quoted."""
    from otel_workflow.analytics.exports import write_csv

    out = io.StringIO()
    write_csv(out, ["delta", "label"], [[-1.5, "-1.5"], [-3, "ok"]])
    assert out.getvalue().splitlines() == ["delta,label", "-1.5,'-1.5", "-3,ok"]
