"""Evidence: what separates a step's failing runs from its passing ones, from the store.

For one (workflow, step) over a window, every run's captured arguments
(``workflow.input``) and attributes are counted per value among failures and among
successes.  A value is evidence when it is in at least half the failures and its share of
the failures exceeds its share of the successes by at least half
(``currency='XAU'``: 9 of 9 failures, 0 of 120 successes); items are ranked by that
difference.  Durations too: when every failure ran longer than the successes' p95, that
is a timeout story (and the failures are at least twice the median and
50 ms).  Without argument capture the evidence says so.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter
from collections.abc import Iterable
from typing import Any

from otel_workflow import semconv
from otel_workflow.analytics import percentile
from otel_workflow.diagnosis.model import Evidence, EvidenceItem

MAX_ROWS = 20_000
"""Runs read per step (the newest); enough for counts, bounded for a big store."""
MAX_ITEMS = 8
MIN_SLOW_SECONDS = 0.05
_SKIP_ATTRIBUTES = frozenset({
    semconv.CAPTURE_INPUT, semconv.CAPTURE_OUTPUT, semconv.CAPTURE_TRUNCATED,
    semconv.CODE_FUNCTION_NAME, semconv.CODE_FILE_PATH, semconv.CODE_LINE_NUMBER,
    semconv.WORKFLOW_PAUSE_DURATION, semconv.ERROR_TYPE, semconv.ERROR_CATEGORY,
    "workflow.error.fingerprint",
})  # fmt: skip


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:80]


def _features(attributes: dict[str, Any]) -> tuple[set[tuple[str, str, Any]], bool]:
    features: set[tuple[str, str, Any]] = set()
    raw = attributes.get(semconv.CAPTURE_INPUT)
    captured = raw is not None
    if isinstance(raw, str):
        try:
            args = json.loads(raw)
        except ValueError:
            args = None
        if isinstance(args, dict):
            for name, value in args.items():
                features.add(("argument", str(name), _scalar(value)))
    for key, value in attributes.items():
        if key not in _SKIP_ATTRIBUTES and not key.startswith("workflow.step."):
            features.add(("attribute", key, _scalar(value)))
    return features, captured


def _fmt(value: Any) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value)


def step_runs(conn: sqlite3.Connection, workflow: str | None, step: str,
              since_ns: int | None) -> list[tuple[str, float, dict[str, Any]]]:  # fmt: skip
    """(status, duration, attributes) of the step's newest runs in the window."""
    sql = "SELECT status, duration, attributes FROM steps WHERE step = ?"
    params: list[Any] = [step]
    if workflow is not None:
        sql += " AND workflow = ?"
        params.append(workflow)
    if since_ns is not None:
        sql += " AND start_ns >= ?"
        params.append(since_ns)
    sql += " ORDER BY start_ns DESC LIMIT ?"
    params.append(MAX_ROWS)
    out = []
    for status, duration, text in conn.execute(sql, params):
        try:
            attrs = json.loads(text) if text else {}
        except ValueError:
            attrs = {}
        out.append((str(status), float(duration), attrs if isinstance(attrs, dict) else {}))
    return out


def compare(runs: Iterable[tuple[str, float, dict[str, Any]]], step: str = "") -> Evidence:
    """Evidence from runs (pure): see the module doc for the rule."""
    fail_counts: Counter[tuple[str, str, Any]] = Counter()
    ok_counts: Counter[tuple[str, str, Any]] = Counter()
    failures = successes = 0
    fail_durations: list[float] = []
    ok_durations: list[float] = []
    any_captured = False
    for status, duration, attrs in runs:
        if status == semconv.STATUS_CANCELLED:
            continue
        features, captured = _features(attrs)
        any_captured = any_captured or captured
        if status == semconv.STATUS_OK:
            successes += 1
            ok_counts.update(features)
            ok_durations.append(duration)
        else:
            failures += 1
            fail_counts.update(features)
            fail_durations.append(duration)
    items: list[tuple[float, EvidenceItem]] = []
    need = max(2, math.ceil(failures / 2)) if failures > 1 else 1
    for feature, with_fail in fail_counts.items():
        with_ok = ok_counts.get(feature, 0)
        share_fail = with_fail / failures
        share_ok = with_ok / successes if successes else 0.0
        if with_fail < need or share_fail - share_ok < 0.5:
            continue
        kind, key, value = feature
        text = (f"{key}={_fmt(value)}: {with_fail} of {failures} failures, "
                f"{with_ok} of {successes} successes")  # fmt: skip
        items.append((share_fail - share_ok, EvidenceItem(
            kind, key, value, with_fail, failures, with_ok, successes, text)))  # fmt: skip
    items.sort(key=lambda pair: (-pair[0], pair[1].kind != "argument", pair[1].key))
    result = [item for _, item in items[:MAX_ITEMS]]
    if len(ok_durations) >= 5 and fail_durations:
        ok_sorted = sorted(ok_durations)
        p95 = percentile(ok_sorted, 0.95)
        median = percentile(ok_sorted, 0.5) or 0.0
        fastest_failure = min(fail_durations)
        # Slow in earnest: past the p95, twice the typical run and at least 50 ms, so the
        # microseconds an exception costs never read as a timeout story.
        if p95 is not None and fastest_failure > p95 and fastest_failure >= max(
            2 * median, MIN_SLOW_SECONDS
        ):
            slower = len(fail_durations)
            result.insert(0, EvidenceItem(
                "duration", "duration", p95, slower, failures,
                sum(1 for d in ok_durations if d > p95), successes,
                f"all {failures} failures ran longer than the successes' p95 ({p95:.3g} s)",
            ))  # fmt: skip
    note = ""
    if not any_captured:
        note = (f"argument capture is off for step {step!r}: enable it with "
                "@ow.step(capture='args') (or OTEL_WORKFLOW_CAPTURE=args) to compare "
                "argument values")  # fmt: skip
    return Evidence(result, failures, successes, any_captured, note)


def step_evidence(conn: sqlite3.Connection, workflow: str | None, step: str,
                  since_ns: int | None) -> Evidence:  # fmt: skip
    return compare(step_runs(conn, workflow, step, since_ns), step)


def step_p95(conn: sqlite3.Connection, workflow: str | None, step: str,
             since_ns: int | None) -> float | None:  # fmt: skip
    """The step's p95 duration over its successful runs in the window."""
    durations = sorted(d for status, d, _ in step_runs(conn, workflow, step, since_ns)
                       if status == semconv.STATUS_OK)  # fmt: skip
    return percentile(durations, 0.95) if durations else None
