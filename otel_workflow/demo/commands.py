"""Commands the demo prints, spelled so they run when pasted into a fresh shell.

A fresh shell in the clone has no ``.venv/bin`` on ``PATH``, so a bare ``otel-workflow``
would be "command not found": the console script is named by the path that reaches it from
the current directory unless the ``otel-workflow`` on ``PATH`` is this very script.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

#: Every printed command line starts with this, so a person (and a test) can tell them apart.
PROMPT = "  $ "


def cli_command() -> str:
    """How to run ``otel-workflow`` from the current directory in a shell like this one."""
    script = Path(sys.executable).parent / "otel-workflow"
    on_path = shutil.which("otel-workflow")
    if on_path is not None and script.exists() and os.path.samefile(on_path, script):
        return "otel-workflow"
    if script.exists():
        return shlex.quote(_from_cwd(script))
    # Not installed as a script (e.g. run from a source tree): the module always works.
    return f"{shlex.quote(_from_cwd(Path(sys.executable)))} -m otel_workflow.cli"


def _from_cwd(path: Path) -> str:
    """``path`` relative to the current directory when it lies below it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(Path.cwd())
    except ValueError:
        return str(absolute)
    return str(relative)


def cli(*args: str, raw: str = "") -> str:
    """A printable ``otel-workflow`` command line; ``raw`` (a pipe, say) is added unquoted."""
    return shell(
        " ".join([cli_command(), *(shlex.quote(a) for a in args)]) + (f" {raw}" if raw else "")
    )


def shell(text: str) -> str:
    """A printable command line of any program."""
    return PROMPT + text


def activate_script() -> str | None:
    """The venv's ``activate`` script when ``otel-workflow`` is not on PATH, else None."""
    if cli_command() == "otel-workflow" or sys.prefix == sys.base_prefix:
        return None
    script = Path(sys.prefix) / "bin" / "activate"
    return shlex.quote(_from_cwd(script)) if script.exists() else None
