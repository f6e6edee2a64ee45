"""Sampling scenarios, each in a fresh Python (``configure()`` sets set-once globals).

``python -m tests.integration._sampling_child <provider> <json-args>``: runs workflows of
two steps, injects the W3C ``traceparent`` inside every execution, and prints ``RESULT``
with the injected sampled flags.  ``provider`` is ``configure`` (configure() makes the
provider; the sampler comes from ``OTEL_TRACES_SAMPLER``), ``always_off`` or ``ratio``
(the user's own provider with that sampler, passed to configure()).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from opentelemetry import propagate

import otel_workflow as ow
from tests.integration._children import RESULT_PREFIX

CARRIERS: list[dict[str, str]] = []


@ow.step(name="reserve")
def reserve(n: int) -> int:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)  # what a downstream service would receive
    CARRIERS.append(carrier)
    return n


@ow.step(name="ship")
def ship(n: int) -> int:
    return n + 1


@ow.workflow(name="fulfil")
def fulfil(n: int) -> int:
    return ship(reserve(n))


def _user_provider(kind: str) -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, TraceIdRatioBased

    sampler = ALWAYS_OFF if kind == "always_off" else TraceIdRatioBased(0.1)
    return TracerProvider(sampler=sampler)


def main(argv: list[str]) -> int:
    kind, args = argv[0], json.loads(argv[1])
    provider = None if kind == "configure" else _user_provider(kind)
    handle = ow.configure(service_name="sampling", store=args["store"],
                          otlp_endpoint=args["endpoint"], tracer_provider=provider)  # fmt: skip
    for n in range(args["executions"]):
        fulfil(n)
    flags = [c["traceparent"].rsplit("-", 1)[1] for c in CARRIERS]
    ok = handle.shutdown(20000)
    print(RESULT_PREFIX + json.dumps({"flags": flags, "shutdown": ok}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
