"""``python -m otel_workflow.dashboards``: write (or check) the dashboard JSON files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from otel_workflow.dashboards import generate, render_all


def main(argv: Sequence[str] | None = None) -> int:
    """Write the dashboards; with ``--check``, exit 1 if the files on disk differ."""
    parser = argparse.ArgumentParser(
        prog="python -m otel_workflow.dashboards",
        description="Generate the otel-workflow Grafana dashboards as JSON.",
    )
    parser.add_argument(
        "--out", default="grafana-dashboards", help="directory (default: %(default)s)"
    )
    parser.add_argument(
        "--trace-datasource-type",
        default="tempo",
        choices=("tempo", "jaeger"),
        help="plugin type the trace datasource variable lists (default: %(default)s)",
    )
    parser.add_argument("--check", action="store_true", help="only compare with the files in --out")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.check:
        stale = [
            name
            for name, text in sorted(render_all(args.trace_datasource_type).items())
            if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text
        ]
        for name in stale:
            print(f"out of date: {out / name}", file=sys.stderr)
        return 1 if stale else 0
    for path in generate(out, args.trace_datasource_type):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
