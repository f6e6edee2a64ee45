"""The scrubbing rules: secret names, secret-shaped values, exception summaries."""

from __future__ import annotations

import pytest

from otel_workflow.scrub import (
    REDACTED,
    TRUNCATED_MARK,
    exception_summary,
    is_inert,
    is_secret_key,
    scrub_attributes,
    scrub_text,
)

# Sentry's default denylist, Elastic APM's defaults (wildcards shown by an example each),
# and the names issue 9 found leaking.
_SECRET_NAMES = [
    "password", "passwd", "secret", "api_key", "apikey", "auth", "credentials", "privatekey",
    "private_key", "token", "session", "csrftoken", "sessionid", "cookie", "set_cookie",
    "authorization", "x_api_key", "x_forwarded_for", "ip_address",
    "pwd", "aws_access_key", "refresh_token", "user_session", "credit_card", "card",
    "pin", "sig", "signature", "X-Api-Key", "apiKey", "clientSecret", "DB_PASSWORD", "dsn",
    "Set-Cookie", "x-amz-security-token", "oauth_state", "authHeader",
]  # fmt: skip
_ORDINARY_NAMES = ["user", "name", "value", "author", "authority", "cardinality", "pinned",
                   "spin", "signal", "count", "url", "discarded", "id"]  # fmt: skip


@pytest.mark.parametrize("name", _SECRET_NAMES)
def test_secret_names(name: str) -> None:
    """Every default of Sentry and Elastic APM, and pwd/pin/sig, names a secret."""
    assert is_secret_key(name)


@pytest.mark.parametrize("name", _ORDINARY_NAMES)
def test_ordinary_names(name: str) -> None:
    """Names that only contain a secret word's letters are not secrets."""
    assert not is_secret_key(name)


_SHAPES = [
    ("redis://:PLNT1@cache:6379/0", "PLNT1", "redis://[REDACTED]@cache:6379/0"),
    ("amqp://guest:p@PLNT2@mq/vhost", "PLNT2", "amqp://[REDACTED]@mq/vhost"),
    ("https://api.example.com/v1?api_key=PLNT3&page=2", "PLNT3", "page=2"),
    ("GET /x?sig=PLNT4&signature=PLNT4b", "PLNT4", "GET /x?sig="),
    ("host=db password=PLNT5 user=app", "PLNT5", "user=app"),
    ('{"password": "PLNT6", "ok": 1}', "PLNT6", '"ok": 1'),
    ("Creds(user='ada', pwd='PLNT7')", "PLNT7", "user='ada'"),
    ("Authorization: Bearer PLNT8abcdef", "PLNT8", "Authorization:"),
    ("Basic dXNlcjpQTE5UOQ==", "dXNlcjpQTE5UOQ", "Basic [REDACTED]"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.PLNT10sig", "PLNT10", "jwt [REDACTED]"),
    ("key AKIAPLNT11ABCDEFGHIJ is old", "PLNT11", "is old"),
    ("-----BEGIN RSA PRIVATE KEY-----\nPLNT12\n-----END RSA PRIVATE KEY----- ok", "PLNT12", "ok"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nPLNT13 (cut before the end", "PLNT13", ""),
    ("push with ghp_PLNT14aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "PLNT14", "push with"),
    ("X-Api-Key: PLNT15", "PLNT15", "X-Api-Key:"),
]


@pytest.mark.parametrize(("text", "secret", "kept"), _SHAPES, ids=[s[1] for s in _SHAPES])
def test_secret_shapes_redacted(text: str, secret: str, kept: str) -> None:
    """Credentials in URLs, secret-named parameters, tokens, JWTs, AWS and private keys go."""
    out = scrub_text(text)
    assert secret not in out and REDACTED in out and kept in out


def test_scrub_text_truncates_first() -> None:
    """The result is cut to max_length plus the mark, whatever the input's length."""
    out = scrub_text("y" * 10_000_000, 100)
    assert out == "y" * 100 + TRUNCATED_MARK


def test_scrub_text_rejects_a_non_positive_bound() -> None:
    """max_length below 1 is refused with an error naming it."""
    with pytest.raises(ValueError, match="max_length"):
        scrub_text("x", 0)


def test_inert_strings_pass_unchanged() -> None:
    """What is_inert accepts, scrub_text leaves as it is; secret shapes are never inert."""
    for text in ["abc", "ada42", "A" * 19]:
        assert is_inert(text) and scrub_text(text) == text
    for text in ["AKIAIOSFODNN7EXAMPLE", "a=b", "x y", "eyJ.x", "é"]:
        assert not is_inert(text)


def test_scrub_attributes_by_name_and_shape() -> None:
    """Secret names are redacted, strings in values and lists scrubbed, kept names spared."""
    out = scrub_attributes(
        {"api_key": "k", "session.id": "s-1", "note": "see redis://:pw@h", "tags": ("a", "pwd=x"),
         "n": 3},
        keep=frozenset({"session.id"}),
    )  # fmt: skip
    assert out == {"api_key": REDACTED, "session.id": "s-1", "note": "see redis://[REDACTED]@h",
                   "tags": ["a", "pwd=[REDACTED]"], "n": 3}  # fmt: skip


class _StrRaises(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")


def test_exception_summary_when_str_raises() -> None:
    """An exception whose __str__ raises still gets a type, a message and a stack trace."""
    try:
        raise _StrRaises
    except _StrRaises as exc:
        type_name, message, stack = exception_summary(exc)
    assert type_name.endswith("_StrRaises")
    assert "str failed" in message and "test_exception_summary_when_str_raises" in stack


def test_exception_summary_scrubs_and_bounds() -> None:
    """A DSN in the message is redacted in message and stack; deep recursion stays bounded."""

    def dive(n: int) -> None:
        if n == 0:
            raise ConnectionError("no route to postgresql://app:PLNT16@db:5432/orders")
        dive(n - 1)

    try:
        dive(500)
    except ConnectionError as exc:
        type_name, message, stack = exception_summary(exc, max_stacktrace=4000)
    assert type_name == "ConnectionError"
    assert "PLNT16" not in message + stack and "postgresql://[REDACTED]@db" in message
    assert len(stack) <= 4001 and "dive" in stack
