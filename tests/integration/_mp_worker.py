"""Worker processes for the multiprocess ``/metrics`` test (importable, so ``spawn`` works).

Every worker calls ``configure(multiprocess_dir=...)`` itself, as a gunicorn or Celery
worker would, runs ``mp_job`` ``executions`` times (every fourth fails) and either shuts
down (writing its final snapshot) or, with ``hold``, stays inside an ``mp_hold`` execution
(so its ``workflow_active`` gauge is 1) until the parent kills it.
"""

from __future__ import annotations

import threading
from typing import Any

import otel_workflow as ow

JOB = "mp_job"
HOLD = "mp_hold"
STEP = "mp_step"
WORKFLOW_TYPE = "mp"


@ow.step(name=STEP)
def mp_step(i: int) -> int:
    if i % 4 == 0:
        raise ValueError(f"item {i} rejected")
    return i


@ow.workflow(name=JOB, type=WORKFLOW_TYPE)
def mp_job(i: int) -> int:
    return mp_step(i)


@ow.workflow(name=HOLD, type=WORKFLOW_TYPE)
def mp_hold(entered: threading.Event, release: threading.Event) -> None:
    entered.set()
    release.wait()


def expected_counts(executions: int) -> tuple[int, int]:
    """(ok, error) executions of ``mp_job`` after ``executions`` calls."""
    errors = len(range(0, executions, 4))
    return executions - errors, errors


def run_worker(directory: str, executions: int, hold: bool, ready: Any) -> None:
    """The body of one worker process (see the module docstring)."""
    handle = ow.configure(service_name="mp-worker", multiprocess_dir=directory)
    for i in range(executions):
        try:
            mp_job(i)
        except ValueError:
            pass  # the failures are counted by the decorators; that is the point
    if not hold:
        handle.shutdown(10000)
        return
    entered, release = threading.Event(), threading.Event()
    threading.Thread(target=mp_hold, args=(entered, release), daemon=True).start()
    entered.wait(30)
    handle.force_flush(10000)  # the snapshot now shows mp_hold in progress
    ready.set()
    release.wait()  # never set: the parent kills this process
