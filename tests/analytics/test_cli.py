"""The analytics CLI: tables for people, CSV/JSON for machines, clear errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from otel_workflow.cli import main

from .conftest import Workload


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_stats_table(workload: Workload, capsys: pytest.CaptureFixture[str]) -> None:
    """`stats` prints a table with every workflow and its percentiles."""
    code, out, _ = _run(capsys, "stats", "--store", str(workload.path))
    assert code == 0
    for name in workload.durations:
        assert name in out
    assert "p95" in out and "success" in out


def test_stats_json_matches_engine(workload: Workload, capsys: pytest.CaptureFixture[str]) -> None:
    """`stats --format json` prints the engine's statistics as JSON."""
    code, out, _ = _run(capsys, "stats", "--store", str(workload.path), "--format", "json")
    assert code == 0
    stats = {s["workflow"]: s for s in json.loads(out)}
    assert {k: v["count"] for k, v in stats.items()} == {
        k: len(v) for k, v in workload.durations.items()
    }


def test_steps_csv_sorted_by_p95(workload: Workload, capsys: pytest.CaptureFixture[str]) -> None:
    """`steps --sort p95 --limit 2 --format csv` gives the two slowest steps with a header."""
    code, out, _ = _run(
        capsys, "steps", "--store", str(workload.path), "--sort", "p95", "--limit", "2",
        "--format", "csv",
    )  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 2 and float(rows[0]["p95"]) >= float(rows[1]["p95"])


def test_trends_users_and_errors(workload: Workload, capsys: pytest.CaptureFixture[str]) -> None:
    """`trends`, `users` and `errors-by-type` run and print their data."""
    store = str(workload.path)
    code, out, _ = _run(capsys, "trends", "--store", store, "--metric", "count",
                        "--interval", "30m", "--format", "json")  # fmt: skip
    assert code == 0 and sum(p["value"] for p in json.loads(out)) == 400
    code, out, _ = _run(capsys, "users", "--store", store, "--limit", "1")
    assert code == 0 and "user-" in out
    code, out, _ = _run(capsys, "errors-by-type", "--store", store, "--workflow", "order")
    assert code == 0 and "TimeoutError" in out and "refund" not in out


def test_export_to_file(
    workload: Workload, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`export --kind steps --format json --out FILE` writes the versioned document."""
    out_file = tmp_path / "steps.json"
    code, _, err = _run(capsys, "export", "--store", str(workload.path), "--kind", "steps",
                        "--format", "json", "--out", str(out_file))  # fmt: skip
    assert code == 0 and "wrote 1200 steps rows" in err
    assert json.loads(out_file.read_text())["row_count"] == 1200


def test_empty_range_says_so(workload: Workload, capsys: pytest.CaptureFixture[str]) -> None:
    """A range with no data prints a note instead of an empty table."""
    code, out, _ = _run(capsys, "stats", "--store", str(workload.path), "--since", "15m")
    assert code == 0 and "no data in the range" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["stats", "--since", "yesterday"], "malformed time 'yesterday'"),
        (["trends", "--interval", "5 min"], "malformed duration '5 min'"),
        (["trends", "--metric", "p42"], "unknown trend metric 'p42'"),
    ],
)
def test_bad_input_is_a_clear_error(
    workload: Workload, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Malformed ranges, intervals and metrics exit 1 with a message naming the value."""
    code, _, err = _run(capsys, *argv, "--store", str(workload.path))
    assert code == 1 and message in err


def test_missing_store_and_users_on_prometheus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing store is an error naming it; `users` on Prometheus explains why not."""
    code, _, err = _run(capsys, "stats", "--store", str(tmp_path / "none.db"))
    assert code == 1 and "none.db" in err
    code, _, err = _run(capsys, "users", "--prometheus", "http://127.0.0.1:9")
    assert code == 2 and "no user label by design" in err
