"""A mypy plugin that lets mypy see ``exporters/`` as ``otel_workflow.exporters``.

The packaging maps the top-level ``exporters/`` directory to ``otel_workflow.exporters``
(``[tool.setuptools.package-dir]``), but mypy finds modules by directory name only and
does not run the editable install's import hook.  Loading this plugin makes a view
``build/mypy-view/otel_workflow/exporters`` (a link to ``exporters/``, outside the
repository's tracked files) that ``mypy_path`` points at, so the exporters are checked
under their real module names.  The plugin adds no checks of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

from mypy.plugin import Plugin

_ROOT = Path(__file__).resolve().parent.parent
_VIEW = _ROOT / "build" / "mypy-view" / "otel_workflow"


def _ensure_view() -> None:
    _VIEW.mkdir(parents=True, exist_ok=True)
    link = _VIEW / "exporters"
    if link.is_symlink() and link.resolve() == (_ROOT / "exporters").resolve():
        return
    if link.is_symlink():
        link.unlink()
    os.symlink(_ROOT / "exporters", link, target_is_directory=True)


_ensure_view()


def plugin(version: str) -> type[Plugin]:
    """The entry point mypy calls; the view above is all this plugin is for."""
    return Plugin
