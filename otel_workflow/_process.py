"""Process resource usage (resident memory, CPU time) without third-party packages."""

from __future__ import annotations

import os
import resource
import sys
import time

try:
    _PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
except (AttributeError, ValueError, OSError):  # pragma: no cover - non-POSIX
    _PAGE_SIZE = 4096


def resident_memory_bytes() -> int:
    """Current resident set size of this process in bytes (peak RSS where /proc is absent)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # ru_maxrss is in KiB on Linux and in bytes on macOS.
        return int(peak if sys.platform == "darwin" else peak * 1024)


def cpu_seconds() -> float:
    """User plus system CPU time consumed by this process, in seconds."""
    return time.process_time()
