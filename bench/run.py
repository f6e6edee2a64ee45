"""``make bench``: every benchmark, each printing figures and ratios (never asserted).

Each benchmark runs in its own process: the overhead benchmark needs a process where no
global tracer provider was ever set.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "overhead.py", "capture_bench.py", "debugger_bench.py", "diagnosis_bench.py",
    "metrics_bench.py", "store_bench.py", "report_bench.py",
]


def main() -> int:
    failed = 0
    for name in BENCHMARKS:
        path = HERE / name
        if not path.exists():
            continue
        print(f"\n=== {name} ===", flush=True)
        failed += subprocess.call([sys.executable, str(path)]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
