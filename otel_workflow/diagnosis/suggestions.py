"""Suggestions: a rule base per category and for well-known errors, each citing evidence.

Every suggestion says what to do and what it rests on (the message, the failing line, a
captured value, the step's p95, the evidence counts, the retry history), and carries a
score; the list is ranked by it.  A user rule's suggestion comes first.
"""

from __future__ import annotations

import re
from typing import Any

from otel_workflow.diagnosis.model import Evidence, Frame, Suggestion

_SQLITE_UNIQUE = re.compile(r"(?:UNIQUE|PRIMARY KEY) constraint failed: ([\w.]+(?:, [\w.]+)*)")
_SQLITE_OTHER = re.compile(r"(NOT NULL|CHECK|FOREIGN KEY) constraint failed(?:: ([\w.]+))?")
_PG_CONSTRAINT = re.compile(r'violates (?:unique|foreign key|check|not-null|exclusion) constraint "([^"]+)"')  # noqa: E501
_MONGO_DUP = re.compile(r"dup key: (\{[^}]*\})|index: (\S+)")
_PYDANTIC = re.compile(
    r"^(?P<field>[^\n]+)\n\s+(?P<msg>[^\[\n]+?)\s*\[type=(?P<type>[\w.]+),\s*input_value=(?P<value>.*?),"
    r"\s*input_type=(?P<itype>\w+)\]", re.MULTILINE)  # fmt: skip
_NONE_ATTR = re.compile(r"'NoneType' object has no attribute '(\w+)'")
_NOT_SUBSCRIPTABLE = re.compile(r"'NoneType' object is not (subscriptable|iterable|callable)")
_URL = re.compile(r"\b(https?)://([^/\s'\":]+)(?::(\d+))?")


def _frame_text(frame: Frame | None) -> str:
    if frame is None:
        return "the failing frame"
    return f"{frame.filename}:{frame.lineno} in {frame.function} (`{frame.source_line}`)"


def _none_locals(frame: Frame | None, attr: str | None = None) -> list[str]:
    if frame is None:
        return []
    names = [k for k, v in frame.locals.items() if v is None and not k.startswith("__")]
    if attr and frame.source_line:
        mentioned = [n for n in names if re.search(rf"\b{re.escape(n)}\s*\.\s*{attr}\b", frame.source_line)]  # noqa: E501
        if mentioned:
            return mentioned
    return [n for n in names if frame.source_line and re.search(rf"\b{re.escape(n)}\b", frame.source_line)]  # noqa: E501


def constraint_name(message: str) -> str | None:
    for pattern in (_SQLITE_UNIQUE, _PG_CONSTRAINT):
        found = pattern.search(message)
        if found:
            return found.group(1)
    found = _SQLITE_OTHER.search(message)
    if found:
        return found.group(2) or found.group(1)
    found = _MONGO_DUP.search(message)
    if found:
        return found.group(1) or found.group(2)
    return None


def host_of(message: str, frame: Frame | None) -> str | None:
    found = _URL.search(message)
    if found:
        return found.group(2) + (f":{found.group(3)}" if found.group(3) else "")
    for value in (frame.locals.values() if frame else ()):
        if isinstance(value, str):
            found = _URL.search(value)
            if found:
                return found.group(2) + (f":{found.group(3)}" if found.group(3) else "")
    return None


def suggest(*, category: str, error_type: str, message: str, root: Frame | None,
            status: int | None, retry_after: float | None, evidence: Evidence | None,
            p95: float | None, retried_attempts: int, retryable: bool,
            rule_suggestion: str | None, step: str | None) -> list[Suggestion]:  # fmt: skip
    """Ranked suggestions for one failure (pure)."""
    out: list[Suggestion] = []
    short = error_type.rsplit(".", 1)[-1]
    where = _frame_text(root)
    if rule_suggestion:
        out.append(Suggestion(rule_suggestion, f"registered rule for {short}", 1.0))
    if category == "timeout":
        limit = f"; the step's observed p95 is {p95:.3g} s" if p95 is not None else ""
        out.append(Suggestion(
            f"Retry with exponential backoff, or raise the time limit above what the call "
            f"needs{limit}.", f"{short}: {message[:120]}", 0.8))  # fmt: skip
    elif category == "constraint":
        name = constraint_name(message)
        target = f" on {name}" if name else ""
        out.append(Suggestion(
            f"Make the write idempotent: use an idempotency key or an upsert "
            f"(INSERT ... ON CONFLICT DO UPDATE/NOTHING){target}, so a rerun does not insert "
            f"the same row twice.", f"{short}: {message[:160]}", 0.85))  # fmt: skip
    elif category == "validation":
        found = _PYDANTIC.search(message)
        if found:
            out.append(Suggestion(
                f"Field {found.group('field').strip()!r} got {found.group('value')} "
                f"({found.group('itype')}); expected: {found.group('msg').strip().lower()} "
                f"(pydantic {found.group('type')}). Fix the producer or coerce the value before "
                f"the step.", f"{short} at {where}", 0.85))  # fmt: skip
        else:
            out.append(Suggestion(
                f"The input was rejected ({message[:120]}); validate it before the step and "
                f"do not retry: the same input fails again.", f"{short} at {where}",
                0.6))  # fmt: skip
    elif category == "external_service":
        host = host_of(message, root) or "the remote service"
        if status == 429:
            wait = f" (the server asked for {retry_after:g} s)" if retry_after else ""
            text = (f"{host} answered 429 Too Many Requests: back off and honour Retry-After"
                    f"{wait}, or lower the request rate.")  # fmt: skip
        elif status is not None and status >= 500:
            text = (f"{host} answered {status}: retry with exponential backoff and check the "
                    f"service's health.")  # fmt: skip
        else:
            text = (f"Could not reach {host} ({short}): check that it is up and reachable; "
                    f"transient failures retry with backoff.")  # fmt: skip
        out.append(Suggestion(text, f"{short}: {message[:160]}", 0.75))
    elif category == "programming":
        found = _NONE_ATTR.search(message) or _NOT_SUBSCRIPTABLE.search(message)
        if found:
            attr = found.group(1) if found.re is _NONE_ATTR else None
            names = _none_locals(root, attr)
            who = ", ".join(f"{n} is None" for n in names) or "a value is None"
            out.append(Suggestion(
                f"{who} at {where}: handle the missing value (or find why it is missing) "
                f"before using it.", f"{short}: {message[:120]}; locals at the failing frame",
                0.9))  # fmt: skip
        elif short == "KeyError":
            out.append(Suggestion(
                f"The key {message} is missing at {where}: use .get() with a default or "
                f"validate the input's keys first.", f"KeyError {message}", 0.85))  # fmt: skip
        else:
            out.append(Suggestion(f"A bug at {where}: {short}: {message[:120]}.",
                                  f"{short} in the user's code", 0.7))  # fmt: skip
    elif category == "auth":
        out.append(Suggestion("Check the credentials and permissions the step uses "
                              "(expired token, missing role); retrying will not help.",
                              f"{short}: {message[:120]}", 0.7))  # fmt: skip
    elif category == "not_found":
        out.append(Suggestion("The referenced item does not exist: check the id, or handle "
                              "absence explicitly.", f"{short}: {message[:120]}", 0.6))  # fmt: skip
    elif category == "configuration":
        out.append(Suggestion("Fix the configuration or the installed dependencies named in "
                              "the message.", f"{short}: {message[:120]}", 0.7))  # fmt: skip
    elif category == "resource":
        out.append(Suggestion("The process or a backend ran out of a resource: reduce the "
                              "batch size or raise the limit.", f"{short}: {message[:120]}",
                              0.6))  # fmt: skip
    if evidence is not None:
        for item in evidence.items[:2]:
            if item.kind == "duration":
                out.append(Suggestion(
                    "The failures are the slow runs: treat this as a timeout story (raise the "
                    "limit or speed up the call).", item.text, 0.7))  # fmt: skip
            else:
                out.append(Suggestion(
                    f"Failures go with {item.key}={item.value!r}: handle that value "
                    f"explicitly.", item.text,
                    0.8 * item.failures_with / max(item.failures, 1)))  # fmt: skip
    if retried_attempts and not retryable:
        out.append(Suggestion(
            f"Stop retrying {short} in step {step!r}: a {category} error cannot succeed on "
            f"retry; narrow the step's retry_on.",
            f"{retried_attempts} retried attempts of this error", 0.9))  # fmt: skip
    out.sort(key=lambda s: -s.score)
    return out


def retried_attempts(occurrences: list[dict[str, Any]]) -> int:
    """How many recorded occurrences were attempts after the first."""
    return sum(1 for o in occurrences if (o.get("attempt") or 1) > 1)
