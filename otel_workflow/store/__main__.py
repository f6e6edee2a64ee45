"""``python -m otel_workflow.store migrate PATH``: upgrade a store file in place."""

from __future__ import annotations

import argparse
import sys

from otel_workflow.store.connection import migrate
from otel_workflow.store.schema import StoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m otel_workflow.store")
    commands = parser.add_subparsers(dest="command", required=True)
    upgrade = commands.add_parser("migrate", help="upgrade a store to this version's schema")
    upgrade.add_argument("path", help="the store file")
    args = parser.parse_args(argv)
    try:
        before, after = migrate(args.path)
    except (StoreError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if before == after:
        print(f"{args.path}: already at store schema version {after}")
    else:
        print(f"{args.path}: migrated from store schema version {before} to {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
