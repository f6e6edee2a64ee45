"""configure(store=...) turns on the error diagnosis on that store."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.integration._subprocess import ROOT, child_env

_SCRIPT = textwrap.dedent('''
    import sys
    import otel_workflow as ow

    handle = ow.configure(service_name="features", store=sys.argv[1])

    @ow.step(name="charge")
    def charge(order_id):
        raise ValueError(f"order {order_id} has no items")

    @ow.workflow(name="checkout")
    def checkout(order_id):
        charge(order_id)

    for order_id in range(3):
        try:
            checkout(order_id)
        except ValueError:
            pass
    sys.exit(0 if handle.shutdown() else 1)
''')


@pytest.mark.integration
def test_configured_store_records_failures_for_the_diagnosis(tmp_path: Path) -> None:
    """Three failures of one kind, three ids in the message: one group of three, by step."""
    store = tmp_path / "features.db"
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(store)], cwd=ROOT, env=child_env({}),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    import otel_workflow as ow

    report = json.loads(ow.error_report(since="1h", format="json", store=store))
    (group,) = report["groups"].values()
    assert group["frequency"]["count"] == 3
    assert (group["workflow"], group["step"], group["category"]) == (
        "checkout", "charge", "validation")
    assert group["origin"]["step"] == "charge"


_UNFINISHED = textwrap.dedent('''
    import sys
    import otel_workflow as ow

    handle = ow.configure(service_name="unfinished", store=sys.argv[1])
    ex = ow.track_workflow_start("forgotten", type="batch")
    ex.track_step_execution("parse", duration=0.01)
    sys.exit(0 if handle.shutdown() else 1)
''')


@pytest.mark.integration
def test_shutdown_stores_unfinished_executions_as_cancelled(tmp_path: Path) -> None:
    """A tracked execution never completed reaches the store as cancelled at shutdown()."""
    store = tmp_path / "unfinished.db"
    proc = subprocess.run(
        [sys.executable, "-c", _UNFINISHED, str(store)], cwd=ROOT, env=child_env({}),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "never completed" in proc.stderr
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT workflow, status FROM executions").fetchall()
        steps = db.execute("SELECT step, status FROM steps").fetchall()
    assert rows == [("forgotten", "cancelled")]
    assert steps == [("parse", "ok")]
