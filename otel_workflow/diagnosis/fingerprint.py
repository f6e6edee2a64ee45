"""Group ids for errors, as Sentry groups: by in-app frames, never by line numbers.

Each exception of the chain contributes its type (the class name, since other
instrumentation records only that) and its in-app frames (all frames when none is in-app),
each keyed by module, function and the normalised source line.  Consecutive repeats of
one frame (recursion) count once.  Only when no exception of the chain has a frame does
the parameterised message stand in for the stack.  A rule's fingerprint replaces the
default (a string or a callable) or refines it (a list containing ``"{{ default }}"``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from otel_workflow.diagnosis.model import ErrorInfo, ExceptionEntry, Frame
from otel_workflow.diagnosis.params import parameterize

DEFAULT_MARK = "{{ default }}"
_SPACES = re.compile(r"\s+")
_LAMBDA_ID = re.compile(r"0x[0-9a-fA-F]+")


def normalise_line(line: str) -> str:
    """A source line with whitespace collapsed (reformatting indentation keeps the group)."""
    return _SPACES.sub(" ", line.strip())


def frame_key(frame: Frame) -> str:
    # Without a source line (no file on this host) the function alone stands for the frame,
    # never the line number, which moves whenever code above it changes.
    function = _LAMBDA_ID.sub("", frame.function)
    return f"{frame.module}|{function}|{normalise_line(frame.source_line)}"


def entry_components(entry: ExceptionEntry) -> list[str]:
    frames = [f for f in entry.frames if f.in_app] or list(entry.frames)
    keys: list[str] = []
    for frame in frames:
        key = frame_key(frame)
        if not keys or keys[-1] != key:  # recursion: one frame, however deep
            keys.append(key)
    return [f"type:{entry.short_type}", *(f"frame:{k}" for k in keys)]


def default_components(info: ErrorInfo) -> list[str]:
    """The parts the default fingerprint hashes (shown by ``errors show`` for why)."""
    if not info.has_stack:
        return [f"type:{info.top.short_type}", f"message:{parameterize(info.message)}"]
    parts: list[str] = []
    for entry in info.chain:
        parts.extend(entry_components(entry))
    return parts


def digest(parts: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8", "replace")).hexdigest()[:16]


def fingerprint(info: ErrorInfo, override: str | Sequence[str] | None = None) -> str:
    """The group id of ``info``: 16 hex digits, stable across processes and releases.

    ``override``: a string (the group is that string) or a list of parts where
    ``"{{ default }}"`` stands for the default components.
    """
    if isinstance(override, str):
        return digest([f"custom:{override}"])
    if override:
        parts: list[str] = []
        for part in override:
            if part == DEFAULT_MARK:
                parts.extend(default_components(info))
            else:
                parts.append(f"custom:{part}")
        return digest(parts)
    return digest(default_components(info))


def template(info: ErrorInfo) -> str:
    """The parameterised ``Type: message`` line that names a group in lists (``Type``
    alone for an exception without a message, as a traceback prints it)."""
    message = parameterize(info.message)
    return (f"{info.top.short_type}: {message}" if message else info.top.short_type)[:300]
