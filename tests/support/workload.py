"""A small instrumented workload that serves ``/metrics``, for tests that need real data.

Run it as a subprocess (``configure()`` is process-global, so tests never call it in the
pytest process)::

    proc = subprocess.Popen([sys.executable, "-m", "tests.support.workload"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = read_metrics_port(proc)      # first line: "METRICS_PORT <port>"
    ...                                  # scrape 127.0.0.1:<port>
    proc.stdin.close(); proc.wait()      # closing stdin stops it

It keeps running executions until its stdin closes: two thread-based workflows and one
asyncio workflow, steps that burn a little CPU, and failures of several categories
(timeout, external service, validation; each already in the first batch), so every
dashboard panel has data to show.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

__all__ = ["read_metrics_port", "start_workload"]


def start_workload(cwd: str | None = None) -> subprocess.Popen[str]:
    """Start the workload in a subprocess; stop it by closing its stdin."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.workload"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        cwd=cwd,
    )


def read_metrics_port(proc: subprocess.Popen[str]) -> int:
    """The port the workload announced on its first stdout line."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("METRICS_PORT "):
        raise RuntimeError(f"workload did not announce its port (exit {proc.poll()}): {line!r}")
    return int(line.split()[1])


def _burn(iterations: int) -> int:
    # Real CPU work, so workflow.step.cpu_time has something to measure.
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return total


def _main() -> int:
    import otel_workflow as ow

    # Explicit names: the default (the qualified name) would read "_main.<locals>.checkout".
    handle = ow.configure(service_name="dashboard-test-workload", metrics_port=0)

    @ow.step(name="validate")
    def validate(order_id: int) -> None:
        if order_id % 11 == 5:
            raise ValueError(f"order {order_id} has no items")

    @ow.step(name="charge", retries=1)
    def charge(order_id: int) -> int:
        _burn(2000)
        if order_id % 7 == 3:
            raise TimeoutError("payment gateway timed out")
        return order_id

    @ow.step(name="ship")
    def ship(order_id: int) -> None:
        _burn(500)
        if order_id % 13 == 2:
            raise ConnectionError("carrier API unreachable")

    @ow.workflow(name="checkout", type="order", version="1")
    def checkout(order_id: int) -> None:
        validate(order_id)
        charge(order_id)
        ship(order_id)

    @ow.step(name="lookup")
    def lookup(refund_id: int) -> int:
        return _burn(1000)

    @ow.workflow(name="refund", type="payment")
    def refund(refund_id: int) -> None:
        lookup(refund_id)

    @ow.step(name="fetch_stock")
    async def fetch_stock(sku: int) -> int:
        await asyncio.sleep(0)
        return sku

    @ow.workflow(name="sync_inventory", type="inventory")
    async def sync_inventory(batch: int) -> None:
        await asyncio.gather(*(fetch_stock(batch * 10 + i) for i in range(3)))

    stop = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    print(f"METRICS_PORT {handle.metrics_port}", flush=True)

    n = 0
    while True:  # at least one batch, even if stdin is already closed
        for _ in range(5):
            n += 1
            for run, arg in ((checkout, n), (refund, n)):
                try:
                    run(arg)
                except Exception:  # the failures are the point of this workload
                    pass
        asyncio.run(sync_inventory(n))
        # Pacing, not synchronisation: a steady trickle of executions between scrapes.
        if stop.wait(0.05):
            break
    handle.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
