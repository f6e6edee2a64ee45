"""The demo workload, instrumented with /metrics and the store, run in two phases.

Run as ``python -m tests.analytics._agreement_workload STORE EXECUTIONS``.  Protocol on
stdout/stdin: ``METRICS_PORT <port>``; a warm-up run (so every series exists before the
measured range), then ``WARM <unix time>``; wait for a ``go`` line; the measured run,
then ``DONE <unix time>``; keep serving /metrics until stdin closes.

Each phase also runs :data:`RETRY_PROBE_RUNS` executions of ``retry_probe``, whose
``flaky`` step fails twice and then succeeds (``retries=3``): two retried attempts and no
failure per execution.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

RETRY_PROBE_RUNS = 5


def _retry_probe() -> Callable[[], None]:
    import otel_workflow as ow

    attempts = [0]

    @ow.step(name="flaky", retries=3, backoff=0)
    def flaky() -> None:
        attempts[0] += 1
        if attempts[0] % 3:  # attempts 1 and 2 of every 3 fail
            raise ConnectionError("flaky dependency")

    @ow.workflow(name="retry_probe", type="probe")
    def retry_probe() -> None:
        flaky()

    def run() -> None:
        for _ in range(RETRY_PROBE_RUNS):
            retry_probe()

    return run


def main() -> int:
    import otel_workflow as ow
    from otel_workflow.demo.workload import run_workload

    store, executions = sys.argv[1], int(sys.argv[2])
    handle = ow.configure(service_name="agreement-test", metrics_port=0, store=store)
    print(f"METRICS_PORT {handle.metrics_port}", flush=True)
    probe = _retry_probe()
    run_workload(executions=executions, concurrency=4, seed=11)
    probe()
    handle.force_flush()
    print(f"WARM {time.time():.3f}", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    run_workload(executions=executions, concurrency=4, seed=11)
    probe()
    handle.force_flush()
    print(f"DONE {time.time():.3f}", flush=True)
    sys.stdin.read()
    handle.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
