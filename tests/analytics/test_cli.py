"""The analytics CLI: tables for people, CSV/JSON for machines, clear errors."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from otel_workflow._units import format_duration, format_percent
from otel_workflow.analytics.engine import AnalyticsEngine
from otel_workflow.cli import EXIT_ERROR, EXIT_PIPE_CLOSED, EXIT_USAGE, main

from .conftest import SpanFactory, Workload


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
    assert len(rows) == 2 and float(rows[0]["p95_seconds"]) >= float(rows[1]["p95_seconds"])


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


# --- as a real subprocess, the way people run it ----------------------------------------
def _cli(
    *argv: str, columns: int | None = 80, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [sys.executable, "-m", "otel_workflow.cli", *argv], env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip


# A duration, percentage, rate or count as the tables print them, whole.
_TOKEN = re.compile(r"^(-|\d[\d,]*|\d+(\.\d+)?( (ns|\u00b5s|ms|s|min|h)|%|/min)|[<>]\d+(\.\d+)?%)$")


@pytest.mark.parametrize(
    "argv",
    [["stats"], ["steps"], ["users"], ["errors-by-type"], ["trends", "--metric", "p95"],
     ["trends", "--metric", "error_rate", "--per-workflow"], ["trends", "--metric", "throughput"]],
)  # fmt: skip
def test_tables_fit_80_columns_without_breaking_a_value(
    workload: Workload, argv: list[str]
) -> None:
    """At COLUMNS=80 (piped) every line fits and every row has whole values in every column."""
    result = _cli(*argv, "--store", str(workload.path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(len(line) <= 80 for line in lines), lines
    header, rule, *body = lines[1:]
    rows = body[: body.index("")] if "" in body else body
    assert rows
    widths = [len(dash) for dash in rule.split("  ")]

    def cells(line: str) -> list[str]:
        out, at = [], 0
        for width in widths:
            out.append(line[at : at + width].strip())
            at += width + 2
        return out

    names = {"workflow", "step", "user", "type", "error type", "category", "start", "end",
             "first seen", "last seen"}  # fmt: skip
    for line in rows:  # every cell is present, and every value cell is one whole value
        values = [c for c, h in zip(cells(line), cells(header), strict=True) if h not in names]
        assert values and all(_TOKEN.match(c) for c in values), line


def test_stats_table_shows_the_engines_values_in_human_units(workload: Workload) -> None:
    """The stats table prints each workflow's p95 and success rate via the shared formatter."""
    result = _cli("stats", "--store", str(workload.path), columns=200)
    with AnalyticsEngine.from_store(workload.path) as engine:
        stats = engine.workflow_stats()
    for s in stats:
        (line,) = [x for x in result.stdout.splitlines() if x.startswith(s.workflow + " ")]
        assert format_duration(s.p95) in line and format_percent(s.success_rate) in line


def test_narrow_table_names_the_columns_it_left_out(workload: Workload) -> None:
    """A table cut to fit says which columns are missing; a wide one keeps them all."""
    narrow = _cli("stats", "--store", str(workload.path), columns=60).stdout
    wide = _cli("stats", "--store", str(workload.path), columns=300).stdout
    note = narrow.split("\n\n", 1)[1]
    assert note.startswith("(left out to fit 60 columns:") and "p50" in note
    assert all(len(line) <= 60 for line in narrow.splitlines())
    assert "left out" not in wide and " p50 " in wide.splitlines()[1] + " "


@pytest.mark.parametrize("columns", [80, 60, 44, 30])
def test_left_out_note_wraps_between_words_within_the_width(
    workload: Workload, columns: int
) -> None:
    """The note under a cut table fits the width and never splits a header or the hint."""
    out = _cli("steps", "--store", str(workload.path), columns=columns).stdout
    note_lines = out.split("\n\n", 1)[1].splitlines()
    assert note_lines and all(len(line) <= columns for line in note_lines), note_lines
    note = " ".join(note_lines)
    left_out = note.split(" columns: ", 1)[1].split(";", 1)[0].split(", ")
    header = out.splitlines()[1].split()
    assert left_out and not set(left_out) & set(header)
    for name in left_out:  # each header whole on one line ("cpu avg" not "cpu" / "avg")
        assert any(name in line for line in note_lines), (name, note_lines)
    assert any(line.endswith("all in --format csv)") for line in note_lines), note_lines


def test_piped_output_without_columns_is_not_cut(workload: Workload) -> None:
    """Piped with no $COLUMNS, the table keeps every column, however wide."""
    out = _cli("steps", "--store", str(workload.path), columns=None).stdout
    assert "left out" not in out and "cpu avg" in out.splitlines()[1]


def test_a_control_character_in_a_name_does_not_split_a_row(
    factory: SpanFactory, tmp_path: Path
) -> None:
    """A workflow named with a newline and an escape code prints as one visibly escaped row."""
    factory.execution("evil\nname\x1b[2J", 0, 0.5)
    path = factory.write(tmp_path / "s.db")
    out = _cli("stats", "--store", str(path)).stdout
    rows = out.split("\n\n")[0].splitlines()[3:]
    assert len(rows) == 1 and rows[0].startswith("evil\\nname\\x1b[2J")
    assert "\x1b" not in out


def test_trends_prints_durations_and_rates_for_people_and_raw_for_machines(
    workload: Workload,
) -> None:
    """`trends` tables show ms and %; its CSV keeps seconds and fractions in unit-named columns."""
    store = str(workload.path)
    p95 = _cli("trends", "--store", store, "--metric", "p95").stdout
    errors = _cli("trends", "--store", store, "--metric", "error_rate").stdout
    assert re.search(r"\d ms ", p95 + " ") and re.search(r"\d%", errors)
    machine = _cli("trends", "--store", store, "--metric", "p95", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(machine)))
    with AnalyticsEngine.from_store(workload.path) as engine:
        points = engine.trends("p95", "5m")
    assert [float(r["value_seconds"]) for r in rows] == pytest.approx([p.value for p in points])


def test_export_into_a_closed_pipe_ends_quietly(workload: Workload) -> None:
    """`export | head -1` exits with the documented code and prints no error."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "otel_workflow.cli", "export", "--store", str(workload.path),
         "--kind", "steps"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"trace_id,")  # read one line, as head -1 does
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == EXIT_PIPE_CLOSED and err == ""


def test_a_misspelt_option_shows_the_subcommands_usage(workload: Workload) -> None:
    """`stats --stroe` exits 2 with the stats usage and suggests --store."""
    result = _cli("stats", "--stroe", str(workload.path))
    assert result.returncode == EXIT_USAGE
    assert result.stderr.startswith("usage: otel-workflow stats ")
    assert "--stroe (did you mean --store?)" in result.stderr


def test_help_documents_the_exit_codes() -> None:
    """`--help` lists every exit code the CLI returns."""
    out = _cli("--help").stdout
    for code in (0, EXIT_ERROR, EXIT_USAGE, 130, EXIT_PIPE_CLOSED):
        assert re.search(rf"^  {code} +\w", out, re.MULTILINE), code
