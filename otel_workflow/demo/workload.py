"""A realistic sample workload: three workflow types, threads and asyncio, real failures.

- ``checkout`` (type ``order``, threads): validate -> reserve inventory -> charge payment
  (flaky external service, retried) -> send confirmation (async).
- ``nightly_etl`` (type ``etl``): a generator step streams records into a real SQLite
  table whose UNIQUE constraint rejects duplicates.
- ``build_report`` (type ``report``, asyncio): fetch sources concurrently (some time out),
  then a CPU-heavy render (the slow step).

Failures are the code's own (``ValueError``, ``ConnectionError``, ``TimeoutError``,
``sqlite3.IntegrityError``), so categories, error types and retries are real.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import otel_workflow as ow


class PaymentGatewayError(ConnectionError):
    """The (simulated) payment provider dropped the connection."""


@dataclass
class WorkloadSummary:
    executions: int = 0
    failed: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


class _Random:
    """The random draws of one execution, from a generator seeded by (seed, execution number).

    One generator per execution, not one shared by the worker threads: with a shared one,
    which execution gets which draw depends on thread scheduling, so the same seed would
    give different failures from run to run.  Within an execution the draws happen in the
    code's order (asyncio tasks start in creation order; the thread hop is sequential).
    """

    def __init__(self) -> None:
        self._current: contextvars.ContextVar[random.Random | None] = contextvars.ContextVar(
            "demo_rng", default=None
        )

    def start(self, seed: int, execution: int) -> None:
        # A string seed is hashed with SHA-512: stable across runs and PYTHONHASHSEED.
        self._current.set(random.Random(f"{seed}/{execution}"))

    def _get(self) -> random.Random:
        rng = self._current.get()
        if rng is None:  # a workflow called outside run_workload: a fresh, seeded stream
            rng = random.Random(0)
            self._current.set(rng)
        return rng

    def random(self) -> float:
        return self._get().random()

    def uniform(self, a: float, b: float) -> float:
        return self._get().uniform(a, b)

    def choice(self, items: list[str]) -> str:
        return self._get().choice(items)


_rng = _Random()
USERS = [f"user-{n:02d}" for n in range(1, 13)]


# -- order ----------------------------------------------------------------------------
@ow.step
def validate_order(order: dict[str, object]) -> None:
    time.sleep(_rng.uniform(0.0005, 0.002))
    if not order.get("items"):
        raise ValueError("order has no items")


@ow.step(name="reserve_inventory")
def reserve_inventory(order: dict[str, object]) -> str:
    time.sleep(_rng.uniform(0.002, 0.01))
    return f"res-{order['id']}"


@ow.step(name="charge_payment", retries=2, retry_on=PaymentGatewayError, backoff=0.001)
def charge_payment(order: dict[str, object]) -> str:
    time.sleep(_rng.uniform(0.005, 0.03))
    if _rng.random() < 0.15:
        raise PaymentGatewayError("payment gateway reset the connection")
    return f"pay-{order['id']}"


@ow.step(name="send_confirmation")
async def send_confirmation(order: dict[str, object]) -> None:
    await asyncio.sleep(_rng.uniform(0.001, 0.004))


@ow.workflow(name="checkout", type="order", version="3")
def checkout(order: dict[str, object], user_id: str) -> str:
    with ow.attributes(user_id=user_id, channel="web"):
        validate_order(order)
        reserve_inventory(order)
        payment = charge_payment(order)
        asyncio.run(send_confirmation(order))
        return payment


# -- etl ------------------------------------------------------------------------------
@ow.step(name="extract")
def extract(batch: int, size: int) -> Iterator[tuple[int, str]]:
    for n in range(size):
        # Every seventh batch re-sends a record: the load step's UNIQUE constraint rejects it.
        key = n if batch % 7 or n < size - 1 else 0
        yield batch * 1000 + key, f"record-{batch}-{n}"


@ow.step(name="transform")
def transform(rows: list[tuple[int, str]]) -> list[tuple[int, str]]:
    return [(key, value.upper()) for key, value in rows]


@ow.step(name="load")
def load(db: sqlite3.Connection, rows: list[tuple[int, str]]) -> int:
    with db:
        db.executemany("INSERT INTO records (id, value) VALUES (?, ?)", rows)
    return len(rows)


@ow.workflow(name="nightly_etl", type="etl")
def nightly_etl(batch: int) -> int:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE records (id INTEGER PRIMARY KEY, value TEXT UNIQUE)")
    try:
        rows = transform(list(extract(batch, 50)))
        return load(db, rows)
    finally:
        db.close()


# -- report (asyncio) -------------------------------------------------------------------
@ow.step(name="fetch_source")
async def fetch_source(source: str) -> str:
    delay = _rng.uniform(0.002, 0.02)
    if _rng.random() < 0.08:
        delay = 0.2  # a stuck upstream
    await asyncio.wait_for(asyncio.sleep(delay), timeout=0.1)  # TimeoutError when stuck
    return source


@ow.step(name="render")
def render(sources: list[str]) -> int:
    # Real CPU work so workflow.step.cpu_time has something to show.
    total = 0
    for n in range(20_000 + int(_rng.uniform(0, 40_000))):
        total += n * n % 7
    return total


@ow.workflow(name="build_report", type="report")
async def build_report(user_id: str) -> int:
    with ow.attributes(user_id=user_id):
        sources = await asyncio.gather(*(fetch_source(s) for s in ("sales", "stock", "web")))
        return await asyncio.to_thread(render, list(sources))


# -- driver -----------------------------------------------------------------------------
def _run_one(kind: str, n: int, seed: int) -> bool:
    # Each pool thread runs executions in its own context: the draws of one never leak.
    _rng.start(seed, n)
    try:
        if kind == "order":
            items = [] if _rng.random() < 0.05 else ["sku-1"]
            checkout({"id": n, "items": items}, _rng.choice(USERS))
        elif kind == "etl":
            nightly_etl(n)
        else:
            asyncio.run(build_report(_rng.choice(USERS)))
        return True
    except Exception:
        return False


def run_workload(
    executions: int = 300,
    concurrency: int = 4,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> WorkloadSummary:
    """Run ``executions`` workflow executions on ``concurrency`` threads.

    ``progress`` is called with 1 after each execution (for a progress bar).
    """
    if executions < 0 or concurrency < 1:
        raise ValueError("executions must be >= 0 and concurrency >= 1")
    kinds = ["order"] * 6 + ["etl"] * 2 + ["report"] * 2
    plan = [kinds[n % len(kinds)] for n in range(executions)]
    summary = WorkloadSummary()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="demo") as pool:
        futures = [
            (kind, pool.submit(contextvars.copy_context().run, _run_one, kind, n, seed))
            for n, kind in enumerate(plan)
        ]
        for kind, future in futures:
            ok = future.result()
            summary.executions += 1
            summary.failed += 0 if ok else 1
            summary.by_type[kind] = summary.by_type.get(kind, 0) + 1
            if progress is not None:
                progress(1)
    summary.seconds = time.perf_counter() - started
    return summary
