"""The user's frames of an exception, without ours, each with its locals captured.

The hook path hands ``on_error`` hooks the live exception; the debugger shows the failing
frames' variables and the diagnosis fingerprints and explains them.  Both need the frames
of the user's code (and the libraries it called) with otel-workflow's and wrapt's wrapper
frames taken out, and locals turned into bounded, scrubbed data by the one capture
function.  The exception's own traceback is never modified.
"""

from __future__ import annotations

import linecache
import sysconfig
import types
from dataclasses import dataclass, field
from typing import Any

from otel_workflow.capture import CaptureLimits, capture

MAX_FRAMES = 20
"""Frames captured per exception, innermost kept (Google's snapshot debugger: 20)."""

_OUR_MODULES = ("otel_workflow.", "wrapt.")
_OUR_EXACT = ("otel_workflow", "wrapt")


def _library_prefixes() -> tuple[str, ...]:
    paths = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            paths.add(path)
    return tuple(sorted(paths, key=len, reverse=True))


_LIBRARY_PREFIXES = _library_prefixes()


@dataclass(frozen=True)
class FrameSnapshot:
    """One frame of a failure, as data (safe to store and show)."""

    filename: str
    lineno: int
    function: str
    module: str
    source_line: str
    in_app: bool  # the user's own code, not the standard library or an installed package
    locals: dict[str, Any] = field(default_factory=dict)
    locals_truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "filename": self.filename, "lineno": self.lineno, "function": self.function,
            "module": self.module, "source_line": self.source_line, "in_app": self.in_app,
            "locals": self.locals, "locals_truncated": self.locals_truncated,
        }  # fmt: skip


def is_our_frame(frame: types.FrameType) -> bool:
    """True for otel-workflow's and wrapt's own frames."""
    module = frame.f_globals.get("__name__") or ""
    return module in _OUR_EXACT or module.startswith(_OUR_MODULES)


def is_in_app(filename: str) -> bool:
    """False for the standard library, installed packages and frozen modules."""
    if filename.startswith("<"):
        return False
    return not filename.startswith(_LIBRARY_PREFIXES)


def user_tracebacks(exc: BaseException) -> list[types.TracebackType]:
    """The traceback entries of ``exc`` that are not ours, outermost first."""
    entries = []
    tb = exc.__traceback__
    while tb is not None:
        if not is_our_frame(tb.tb_frame):
            entries.append(tb)
        tb = tb.tb_next
    return entries


def capture_frames(
    exc: BaseException, limits: CaptureLimits | None = None, *, max_frames: int = MAX_FRAMES,
    with_locals: bool = True,
) -> list[FrameSnapshot]:  # fmt: skip
    """The user's frames of ``exc`` (innermost ``max_frames`` kept), outermost first."""
    limits = limits or CaptureLimits()
    snapshots = []
    for tb in user_tracebacks(exc)[-max_frames:]:
        frame = tb.tb_frame
        code = frame.f_code
        lineno = tb.tb_lineno
        filename = code.co_filename
        source = linecache.getline(filename, lineno, frame.f_globals).strip()
        local_data: dict[str, Any] = {}
        truncated = False
        if with_locals:
            captured = capture(dict(frame.f_locals), limits)
            if isinstance(captured.data, dict):
                local_data = captured.data
            truncated = captured.truncated
        snapshots.append(FrameSnapshot(
            filename=filename, lineno=lineno, function=code.co_name,
            module=frame.f_globals.get("__name__") or "", source_line=source[:512],
            in_app=is_in_app(filename), locals=local_data, locals_truncated=truncated,
        ))  # fmt: skip
    return snapshots
