"""Links from a report's execution tables to a trace viewer (Jaeger, Tempo, Grafana...).

A link template is a URL with placeholders, checked once before any report is written:

>>> check_trace_url("http://127.0.0.1:16686/trace/{trace_id}")
'http://127.0.0.1:16686/trace/{trace_id}'

Placeholders are ``{trace_id}``, ``{span_id}`` and ``{execution_id}``, nothing else (no
attribute access, no format spec), and the scheme must be ``http`` or ``https``.  Values
are percent-encoded, since execution ids come from telemetry.
"""

from __future__ import annotations

import string
import urllib.parse

from otel_workflow.analytics.models import ExecutionRecord, Outlier

TRACE_URL_FIELDS = ("trace_id", "span_id", "execution_id")
"""The placeholders a trace link template may use."""


def check_trace_url(template: str | None) -> str | None:
    """``template`` if it is a valid link template (or None); else a ValueError naming it."""
    if template is None:
        return None
    if not isinstance(template, str):
        raise TypeError(f"trace_url must be a string or None, got {template!r}")
    scheme = urllib.parse.urlsplit(template).scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"trace_url must be an http or https URL, got {template!r}")
    try:
        parsed = [
            (field, spec, conv) for _, field, spec, conv in string.Formatter().parse(template)
        ]
    except ValueError as exc:
        raise ValueError(f"trace_url is not a valid template ({exc}): {template!r}") from None
    fields = [field for field, _, _ in parsed if field is not None]
    for field, spec, conv in parsed:
        if field is not None and (field not in TRACE_URL_FIELDS or spec or conv):
            raise ValueError(
                f"trace_url placeholder {{{field}}} is not allowed: use "
                + ", ".join(f"{{{name}}}" for name in TRACE_URL_FIELDS)
            )
    if "trace_id" not in fields and "execution_id" not in fields:
        raise ValueError(
            f"trace_url needs a {{trace_id}} or {{execution_id}} placeholder: {template!r}"
        )
    return template


def trace_link(template: str, record: ExecutionRecord | Outlier) -> str:
    """The link for one execution (``template`` already checked by :func:`check_trace_url`)."""
    values = {
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "execution_id": record.execution_id or "",
    }
    return template.format_map({k: urllib.parse.quote(v, safe="") for k, v in values.items()})


__all__ = ["TRACE_URL_FIELDS", "check_trace_url", "trace_link"]
