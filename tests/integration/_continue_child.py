"""An execution whose second half runs in another process.

``python -m tests.integration._continue_child first STORE`` runs the workflow ``order``:
two steps here, then it injects a carrier and runs ``... second STORE CARRIER_JSON`` as a
child process, which continues the same execution with two more steps.  Both processes
write the same SQLite store.
"""

from __future__ import annotations

import json
import subprocess
import sys

import otel_workflow as ow


@ow.step(name="receive")
def receive() -> None:
    pass


@ow.step(name="reserve")
def reserve() -> None:
    pass


@ow.step(name="pack")
def pack() -> None:
    pass


@ow.step(name="ship")
def ship() -> None:
    pass


@ow.workflow(name="order", type="fulfilment")
def order(store: str) -> None:
    with ow.attributes(user_id="u-42"):
        receive()
        reserve()
        carrier = ow.inject()
        subprocess.run([sys.executable, "-m", "tests.integration._continue_child", "second",
                        store, json.dumps(carrier)], check=True, timeout=120)  # fmt: skip


def main(argv: list[str]) -> int:
    role, store = argv[0], argv[1]
    handle = ow.configure(service_name=f"continue-{role}", store=store)
    if role == "first":
        order(store)
    else:
        with ow.continue_execution(json.loads(argv[2])):
            pack()
            ship()
    return 0 if handle.shutdown() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
