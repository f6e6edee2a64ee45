"""A configured store records each failure once, in the live exception's group (child process).

The steps live in a real file, so their stack traces carry Python 3.11+'s caret lines;
the recorder parses the step's and the workflow's span events and must recognise them as
one failure.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.integration._subprocess import ROOT, child_env

APP = textwrap.dedent('''
    import json
    import sys

    import otel_workflow as ow

    handle = ow.configure(service_name="carets", store=sys.argv[1])


    @ow.step(name="wait_for_stock")
    def wait_for_stock(order):
        if order["ready"] is False:
            raise TimeoutError()


    @ow.step(name="price")
    def price(order):
        return order["prices"]["sku"] * order["qty"]


    @ow.workflow(name="checkout")
    def checkout(order):
        wait_for_stock(order)
        return price(order)


    ORDERS = [{"ready": False}, {"ready": False}] + [
        {"ready": True, "prices": {}, "qty": n} for n in range(3)]
    live = []
    for order in ORDERS:
        try:
            checkout(order)
        except (TimeoutError, KeyError) as exc:
            live.append([type(exc).__name__, str(exc), ow.diagnose(exc).fingerprint])
    ok = handle.shutdown()
    print("LIVE " + json.dumps(live))
    sys.exit(0 if ok else 1)
''')


@pytest.mark.integration
def test_each_failure_is_one_occurrence_in_the_live_group(tmp_path: Path) -> None:
    """TimeoutError() and KeyError("sku") in a workflow: one group each, one row a failure."""
    app = tmp_path / "caret_app.py"
    app.write_text(APP)
    store = tmp_path / "carets.db"
    proc = subprocess.run(
        [sys.executable, str(app), str(store)], cwd=ROOT, env=child_env({}),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("LIVE ")]
    live = json.loads(line[len("LIVE "):])
    assert [(t, m) for t, m, _ in live] == [("TimeoutError", "")] * 2 + [("KeyError", "'sku'")] * 3

    conn = sqlite3.connect(store)
    try:
        groups = conn.execute(
            "SELECT fingerprint, type_name, template, step, count FROM diagnosis_groups"
            " ORDER BY type_name").fetchall()  # fmt: skip
        rows = conn.execute(
            "SELECT fingerprint, step, message FROM diagnosis_occurrences").fetchall()
    finally:
        conn.close()
    live_fps = {t: fp for t, _, fp in live}
    assert len({fp for _, _, fp in live}) == 2  # each failure kind is one live group
    assert groups == [
        (live_fps["KeyError"], "KeyError", "KeyError: 'sku'", "price", 3),
        (live_fps["TimeoutError"], "TimeoutError", "TimeoutError", "wait_for_stock", 2),
    ]
    # One occurrence per failure, each attributed to its step, with the real message.
    assert sorted(rows) == sorted(
        [(live_fps["TimeoutError"], "wait_for_stock", "")] * 2
        + [(live_fps["KeyError"], "price", "'sku'")] * 3)
