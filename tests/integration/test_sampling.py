"""Honest sampling: every execution is recorded in-process, only sampled ones leave it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration._children import RESULT_PREFIX
from tests.integration._subprocess import ROOT, child_env
from tests.support.otlp_receiver import OTLPReceiver

EXECUTIONS = 200


def _run(kind: str, store: Path, receiver: OTLPReceiver, env: dict[str, str]) -> list[str]:
    args = {"store": str(store), "endpoint": receiver.endpoint, "executions": EXECUTIONS}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.integration._sampling_child", kind, json.dumps(args)],
        cwd=ROOT, env=child_env(env), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    assert proc.returncode == 0 and lines, proc.stderr
    result = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    assert result["shutdown"] is True
    flags: list[str] = result["flags"]
    return flags


def _stored(store: Path) -> tuple[int, int]:
    with sqlite3.connect(store) as db:
        executions = db.execute("SELECT COUNT(*) FROM executions").fetchone()[0]
        steps = db.execute("SELECT COUNT(*) FROM steps").fetchone()[0]
    return executions, steps


@pytest.mark.integration
@pytest.mark.parametrize(("kind", "env"), [
    ("configure", {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}),
    ("always_off", {}),
    ("ratio", {}),
])  # fmt: skip
def test_store_sees_every_execution_otlp_only_sampled_ones(
    kind: str, env: dict[str, str], tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    """The store keeps all executions; OTLP gets exactly the traces traceparent calls sampled."""
    store = tmp_path / "sampling.db"
    flags = _run(kind, store, otlp_receiver, env)
    assert len(flags) == EXECUTIONS
    # The sampled bit is 0x01 (newer SDKs also set 0x02, "random trace id").
    sampled = sum(int(flag, 16) & 1 for flag in flags)
    if kind == "always_off":
        assert sampled == 0
    else:
        # A 0.1 ratio over 200 trace ids: some sampled, most not (bounds ~1e-6 likely).
        assert 2 <= sampled <= 50
    assert _stored(store) == (EXECUTIONS, 2 * EXECUTIONS)
    spans = otlp_receiver.spans()
    assert len(spans) == 3 * sampled  # the workflow and its two steps, whole traces only
    assert len({s.trace_id for s in spans}) == sampled
