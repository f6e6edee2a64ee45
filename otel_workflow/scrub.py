"""Secret scrubbing for every value that leaves the process, in bounded, linear time.

Two layers, used by :mod:`otel_workflow.capture`, ``ow.attributes``, exception messages and
stack traces, and by writers of spans that other instrumentation produced:

- **by key** — :func:`is_secret_key` says whether a name (an argument, a mapping key, a
  header, a field) holds a secret.  The list covers Sentry's and Elastic APM's defaults
  (``password``, ``passwd``, ``pwd``, ``secret``, ``token``, ``auth``, ``credentials``,
  ``cookie``, ``session``, ``*key``, ``*credit*``, ...) plus ``pin``, ``sig``/``signature``,
  ``dsn``, ``jwt``, ``otp``.
- **by value shape** — :func:`scrub_text` first cuts the text to a bound, *then* replaces
  credentials in URLs, secret-named query/``key=value`` parameters, bearer/basic tokens,
  JWTs, AWS access keys, well-known API-token prefixes and private-key blocks.

Every pattern is anchored at a run boundary (a look-behind that fails inside a run), so a
regex engine tries each run once: cost is linear in the bounded text, whatever its content.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

__all__ = [
    "REDACTED",
    "TRUNCATED_MARK",
    "exception_summary",
    "is_inert",
    "is_secret_key",
    "scrub_attributes",
    "scrub_text",
]

REDACTED = "[REDACTED]"
TRUNCATED_MARK = "…"

# How far past the cut the shape patterns still look, so a secret straddling the cut is
# recognised whole (and redacted) instead of leaking its first half.
_LOOKAHEAD = 256

# --- by key ---------------------------------------------------------------------------------

# A whole word of the key (after splitting camelCase and separators) that marks a secret.
_SECRET_WORDS = frozenset({
    "password", "passwd", "pwd", "pass", "passphrase", "secret", "secrets", "token", "tokens",
    "auth", "credential", "credentials", "creds", "cookie", "cookies", "session", "sessionid",
    "csrf", "csrftoken", "xsrf", "pin", "sig", "signature", "dsn", "jwt", "bearer", "otp",
    "totp", "mfa", "card", "cvv", "cvc", "ssn", "apikey", "privatekey",
})  # fmt: skip
# Anywhere in the key with separators removed (Elastic APM's ``*token*``, ``*session*``,
# ``*credit*`` wildcards; ``*card*`` is a word above, so ``cardinality`` is spared).
_SECRET_PARTS = (
    "password", "passwd", "secret", "token", "session", "credit", "cookie", "credential",
    "authoriz", "authentic", "oauth", "apikey", "privatekey", "signature", "passphrase",
)  # fmt: skip
# Sentry also drops these personal data headers/fields.
_SECRET_COMPACT = frozenset({"xforwardedfor", "ipaddress", "remoteaddr", "xrealip"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Whether a name (argument, mapping key, header, field) holds a secret.

    Case, separators and camelCase do not matter; Elastic APM's ``*key`` wildcard is kept,
    so ``api_key``, ``X-Api-Key`` and ``accessKey`` match (and so does ``cache_key``).

    >>> is_secret_key("db_password"), is_secret_key("X-Api-Key"), is_secret_key("user")
    (True, True, False)
    """
    if not isinstance(key, str):
        return False
    words = [w for w in _NON_ALNUM.split(_CAMEL.sub("_", key).lower()) if w]
    if not words:
        return False
    compact = "".join(words)
    if compact.endswith("key") or compact in _SECRET_COMPACT:
        return True
    for word in words:
        if word in _SECRET_WORDS:
            return True
        # Elastic's *auth*, sparing author/authority (authorization is caught by its part).
        if word.startswith("auth") and not word.startswith("author"):
            return True
    return any(part in compact for part in _SECRET_PARTS)


# --- by value shape -------------------------------------------------------------------------

# After ``scheme://``: the authority, up to the first character that cannot be in it.  The
# userinfo is everything before the authority's LAST ``@`` (passwords may contain ``@``).
_URL_AUTHORITY = re.compile(r"://([^\s/?#\"'<>\\\[\]{}|`]*+)")
# ``name=value`` / ``name: value`` / ``"name": "value"``: the name and separator only, so
# a value is scanned for further names unless the name is a secret (is_secret_key decides).
_KEY_SEP = re.compile(r"(?<![\w.\-])([A-Za-z_][\w.\-]{0,63}+)[\"']?\s{0,3}[=:]\s{0,3}")
# Text holding none of these (lower-cased) has no secret name in it, so the key=value pass
# is skipped; every word and part above contains one of them.
_NAME_STEMS = (
    "pass", "pwd", "secret", "token", "key", "auth", "sig", "pin", "sess", "cookie", "cred",
    "dsn", "jwt", "card", "otp", "mfa", "cvv", "cvc", "ssn", "bearer", "csrf", "xsrf",
    "forwarded", "addr", "ip",
)  # fmt: skip
# The value after a secret name; it may start with an auth scheme word.
_VALUE = re.compile(
    r"(?:(?i:bearer|basic|digest|token)\s{1,3})?"
    r"(?:\"[^\"\n]{0,512}+\"?|'[^'\n]{0,512}+'?|[^\s&,;'\")\]}>]{1,512}+)"
)
_AUTH_SCHEME = re.compile(r"(?i)(?<![\w-])(bearer|basic|digest)\s{1,3}[\w.~+/=-]{6,}+")
_JWT = re.compile(r"(?<![\w-])eyJ[\w-]{4,}+\.[\w-]{4,}+(?:\.[\w-]*+)?")
_AWS_KEY = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}")
_API_TOKEN = re.compile(
    r"(?<![\w-])(?:gh[pousr]_\w{20,}+|github_pat_\w{20,}+|xox[abprs]-[\w-]{10,}+|"
    r"sk_(?:live|test)_\w{16,}+|glpat-[\w-]{16,}+|AIza[\w-]{30,}+)"
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END[A-Z ]{0,40}PRIVATE KEY(?: BLOCK)?-----|.*)",
    re.DOTALL,
)


_REDACTED_STEM = REDACTED[:-1]


def _url_userinfo(match: re.Match[str]) -> str:
    authority = match.group(1)
    at = authority.rfind("@")
    if at < 0:
        return match.group(0)
    return f"://{REDACTED}{authority[at:]}"


def _scrub_key_values(text: str) -> str:
    lowered = text.lower()
    if not any(stem in lowered for stem in _NAME_STEMS):
        return text
    parts: list[str] = []
    done = 0
    for match in _KEY_SEP.finditer(text):
        # A name inside a value already redacted is part of that value.
        if match.start() < done or not is_secret_key(match.group(1)):
            continue
        pos = match.end()
        value = _VALUE.match(text, pos)
        if value is None or _REDACTED_STEM in value.group(0):
            continue  # nothing after the name, or a shape pattern already redacted it
        found = value.group(0)
        # Keep the value's quotes so the surrounding repr or JSON text stays well-formed.
        opening = found[0] if found[0] in "\"'" else ""
        closing = opening if opening and len(found) > 1 and found[-1] == opening else ""
        parts.append(text[done:pos])
        parts.append(f"{opening}{REDACTED}{closing}")
        done = value.end()
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def _scrub_shapes(text: str) -> str:
    # Cheap membership tests skip patterns that cannot match; each sub is linear.
    if "://" in text:
        text = _URL_AUTHORITY.sub(_url_userinfo, text)
    if "-----BEGIN" in text:
        text = _PRIVATE_KEY.sub(REDACTED, text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    if "=" in text or ":" in text:
        text = _scrub_key_values(text)
    text = _AWS_KEY.sub(REDACTED, text)
    return _API_TOKEN.sub(REDACTED, text)


# ASCII letters and digits, at most 19 of them: too short for an AWS key (20), and without
# the ``:``/``=``/``.``/``_``/``-``/space that every other pattern needs.  Keep this in step
# with the patterns above.
_INERT_MAX = 19


def is_inert(text: str) -> bool:
    """True when no shape pattern can match ``text``, decided cheaply (short ASCII
    alphanumerics); such a string passes :func:`scrub_text` unchanged."""
    return len(text) <= _INERT_MAX and text.isascii() and text.isalnum()


def scrub_text(text: str, max_length: int = 1024) -> str:
    """Cut ``text`` to ``max_length`` characters (plus ``…`` if cut), then redact secrets.

    Truncation comes first, so the cost is bounded by ``max_length`` whatever the input's
    size; the patterns look a little past the cut so a secret straddling it is still
    recognised.  Never raises for a ``str``.

    >>> scrub_text("connect redis://:pw@cache:6379 failed")
    'connect redis://[REDACTED]@cache:6379 failed'
    """
    if max_length < 1:
        raise ValueError(f"scrub_text: max_length must be >= 1, got {max_length!r}")
    cut = len(text) > max_length
    window = text[: max_length + _LOOKAHEAD] if cut else text
    scrubbed = _scrub_shapes(str(window))
    if cut:
        return scrubbed[:max_length] + TRUNCATED_MARK
    return scrubbed


# --- mappings and exceptions ----------------------------------------------------------------


def _attribute_value(value: Any, max_length: int) -> Any:
    if isinstance(value, str):
        return scrub_text(value, max_length)
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_attribute_value(v, max_length) for v in value[:128]]
    return scrub_text(_safe_repr(value), max_length)


def scrub_attributes(
    mapping: Mapping[str, Any], max_length: int = 1024, keep: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """A copy of ``mapping`` with secret-named values redacted and all strings scrubbed.

    Names in ``keep`` are never redacted by name (their values are still scrubbed by
    shape): the tracking API's ``session.id`` is an identifier, not a credential.
    """
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if key not in keep and is_secret_key(key):
            out[key] = REDACTED
        else:
            out[key] = _attribute_value(value, max_length)
    return out


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__} (repr failed)>"


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<{type(exc).__name__} (str failed)>"


def _type_name(cls: type) -> str:
    module = getattr(cls, "__module__", None)
    qualname = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "?")
    if not module or module == "builtins":
        return str(qualname)
    return f"{module}.{qualname}"


def exception_summary(
    exc: BaseException, max_message: int = 1024, max_stacktrace: int = 8192,
    max_frames: int = 64,
) -> tuple[str, str, str]:  # fmt: skip
    """``(type name, message, stack trace)`` of ``exc``: bounded, scrubbed, never raising.

    The type name is qualified like ``error.type`` (builtins unqualified); the message and
    the stack trace (its innermost ``max_frames`` frames per exception) go through
    :func:`scrub_text`.  An exception whose ``__str__`` raises still gets a summary.
    """
    type_name = "<unknown>"
    try:
        type_name = _type_name(type(exc))
        message = scrub_text(_safe_str(exc), max_message)
        try:
            lines = traceback.TracebackException.from_exception(exc, limit=-max_frames).format()
            # Join lazily: stop once past the bound, so a long chain costs no more.
            parts: list[str] = []
            size = 0
            for line in lines:
                parts.append(line)
                size += len(line)
                if size > max_stacktrace + _LOOKAHEAD:
                    break
            stack = scrub_text("".join(parts), max_stacktrace)
        except Exception:
            stack = f"{type_name}: {message}"
        return type_name, message, stack
    except Exception:  # pragma: no cover - a str subclass returning garbage, say
        return type_name, f"<{type_name} (summary failed)>", ""
