"""The WSGI app the gunicorn test serves: instrumented work plus ``/metrics`` mounted.

Every worker (or, with ``--preload``, the parent) runs ``configure()`` with
``OTEL_WORKFLOW_MULTIPROC_DIR`` and ``OTEL_WORKFLOW_METRICS_PORT`` from the environment,
as an unmodified deployment would.  ``/work`` runs one workflow and answers with the pid.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import otel_workflow as ow
from otel_workflow.exporters.prometheus import metrics_wsgi_app

JOB = "gunicorn_job"

# process.pid in the resource: the test checks every worker reports its own, even when the
# resource was built in a --preload parent.
handle = ow.configure(service_name="gunicorn-it", resource_attributes={"process.pid": os.getpid()})
metrics = metrics_wsgi_app()


@ow.step(name="gunicorn_step")
def gunicorn_step(i: int) -> int:
    return i + 1


@ow.workflow(name=JOB, type="web")
def gunicorn_job(i: int) -> int:
    return gunicorn_step(i)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """``/metrics`` (the sum over workers); ``/work`` runs one execution; all answer the pid."""
    if environ.get("PATH_INFO") == "/metrics":
        return metrics(environ, start_response)  # type: ignore[no-any-return]
    if environ.get("PATH_INFO") == "/work":
        gunicorn_job(1)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
