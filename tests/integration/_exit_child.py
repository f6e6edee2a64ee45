"""A child process that configures OTLP from the environment, runs workflows and exits
without calling ``shutdown()``: the exit hook must export the rest within its deadline."""

from __future__ import annotations

import sys
import time

import otel_workflow as ow

EXIT_MARK = "EXITING-AT "


@ow.step
def double(value: int) -> int:
    return 2 * value


@ow.workflow(type="exit-check")
def job(value: int) -> int:
    return double(value)


def main(argv: list[str]) -> int:
    executions = int(argv[1])
    ow.configure(service_name="exit-child")
    for value in range(executions):
        job(value)
    print(f"{EXIT_MARK}{time.time()}", flush=True)
    return 0  # no handle.shutdown(): the exit hook is what is tested


if __name__ == "__main__":
    sys.exit(main(sys.argv))
