"""otel-workflow: OpenTelemetry instrumentation for Python workflows (work in progress)."""

from __future__ import annotations

__all__: list[str] = []
