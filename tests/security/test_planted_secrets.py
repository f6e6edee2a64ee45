"""Planted secrets never leave the process: spans, OTLP bytes, the SQLite file, exports, report.

One workflow with capture on plants each secret of the corpus the way real code would
(arguments, records, headers, results, ``ow.attributes``, exception messages), next to a
visible marker that proves the case reached the outputs.  Every output is then searched
for every secret: the in-memory spans, the raw OTLP protobuf the official exporter sent to a
real receiver, the bytes of the SQLite store's files, CSV and JSON exports, an HTML report.
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import otel_workflow as ow
from otel_workflow.analytics import AnalyticsEngine
from otel_workflow.exporters.store import SQLiteSpanExporter
from otel_workflow.reports.render import render_report
from otel_workflow.testing import TelemetryCapture
from tests.support.otlp_receiver import OTLPReceiver


@dataclass(frozen=True)
class Plant:
    """One planted secret: how it is planted and the marker that must never come out."""

    id: str
    secret: str
    plant: Callable[[str, str], None]  # (secret, visible marker) -> None, inside the workflow
    exception: bool = False  # goes out through the step machine's exception_summary


@ow.step(name="take_named", capture=True)
def take_named(
    label: str, password: Any = None, pwd: Any = None, pin: Any = None, sig: Any = None,
    signature: Any = None, api_key: Any = None, token: Any = None, authorization: Any = None,
    cookie: Any = None, sessionid: Any = None, client_secret: Any = None,
    credit_card: Any = None, x_forwarded_for: Any = None, note: Any = None,
    config: Any = None, headers: Any = None, record: Any = None, **extra: Any,
) -> str:  # fmt: skip
    """A step whose parameters carry the planted values."""
    return "ok"


@ow.step(name="give_back", capture=True)
def give_back(label: str, value: Any) -> Any:
    """A step that returns the planted value as its result."""
    return value


@ow.step(name="fail_with", capture=True)
def fail_with(label: str, exc: BaseException) -> None:
    """A step that raises the planted exception."""
    raise exc


def _named(name: str, shape: Callable[[str], Any] = lambda s: s) -> Callable[[str, str], None]:
    return lambda secret, visible: take_named(visible, **{name: shape(secret)})


def _result(shape: Callable[[str], Any]) -> Callable[[str, str], None]:
    return lambda secret, visible: give_back(visible, shape(secret))


def _attributes(**shaped: Callable[[str], Any]) -> Callable[[str, str], None]:
    def plant(secret: str, visible: str) -> None:
        with ow.attributes(tag=visible, **{k: f(secret) for k, f in shaped.items()}):
            take_named(visible)

    return plant


def _raises(make: Callable[[str], BaseException]) -> Callable[[str, str], None]:
    def plant(secret: str, visible: str) -> None:
        try:
            fail_with(visible, make(secret))
        except Exception:  # the workflow carries on: each case is its own step
            pass

    return plant


Creds = namedtuple("Creds", ["user", "password"])


@dataclass
class ServiceConfig:
    """A dataclass with a secret field."""

    host: str
    api_token: str


class Login:
    """An object whose repr shows its fields."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password

    def __repr__(self) -> str:
        return f"Login(user={self.user!r}, password={self.password!r})"


def _jwt(secret: str) -> str:
    return f"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZGEifQ.{secret}Sig_w-x"


def _aws(secret: str) -> str:
    return f"AKIA{secret:X<16}"[:20]


PLANTS = [
    Plant("password parameter", "Pl01pw", _named("password")),
    Plant("pwd parameter", "Pl02pwd", _named("pwd")),
    Plant("pin parameter", "Pl03pin", _named("pin")),
    Plant("sig parameter", "Pl04sig", _named("sig")),
    Plant("signature parameter", "Pl05sgn", _named("signature")),
    Plant("api_key parameter", "Pl06key", _named("api_key")),
    Plant("token parameter", "Pl07tok", _named("token")),
    Plant("authorization parameter", "Pl08az", _named("authorization")),
    Plant("cookie parameter", "Pl09ck", _named("cookie")),
    Plant("sessionid parameter", "Pl10ses", _named("sessionid")),
    Plant("client_secret parameter", "Pl11cs", _named("client_secret")),
    Plant("credit_card parameter", "Pl12cc", _named("credit_card")),
    Plant("x_forwarded_for parameter", "Pl13xff", _named("x_forwarded_for")),
    Plant("refresh_token in **kwargs", "Pl14rt", _named("refresh_token")),
    Plant("dict key db_password", "Pl15db", _named("config", lambda s: {"db_password": s})),
    Plant(
        "nested aws_secret_access_key",
        "Pl16aws",
        _named("config", lambda s: {"aws": {"aws_secret_access_key": s}}),
    ),
    Plant("redis URL, empty user", "Pl17rd", _named("note", lambda s: f"redis://:{s}@cache:6379")),
    Plant("postgres URL", "Pl18pg", _named("note", lambda s: f"postgres://app:{s}@db:5432/x")),
    Plant(
        "password containing @",
        "Pl19at",
        _named("note", lambda s: f"amqp://guest:{s}@x@mq:5672/vh"),
    ),
    Plant(
        "query string api_key",
        "Pl20qs",
        _named("note", lambda s: f"https://api.example.com/v1/items?api_key={s}&page=2"),
    ),
    Plant("Bearer token in text", "Pl21br", _named("note", lambda s: f"sent Bearer {s}abcdef")),
    Plant(
        "Basic credentials in text", "Pl22bs", _named("note", lambda s: f"Basic {s}Zm9vOmJhcg==")
    ),
    Plant("JWT under an ordinary key", "Pl23jw", _named("note", _jwt)),
    Plant("AWS access key under an ordinary key", "PL24AWS", _named("note", _aws)),
    Plant(
        "private key block",
        "Pl25pk",
        _named(
            "note",
            lambda s: f"-----BEGIN RSA PRIVATE KEY-----\nMIIE{s}\n-----END RSA PRIVATE KEY-----",
        ),
    ),
    Plant("namedtuple field", "Pl26nt", _named("record", lambda s: Creds("ada", s))),
    Plant(
        "SimpleNamespace field", "Pl27ns", _named("record", lambda s: SimpleNamespace(api_key=s))
    ),
    Plant("repr showing fields", "Pl28rp", _named("record", lambda s: Login("ada", s))),
    Plant("dataclass field", "Pl29dc", _named("record", lambda s: ServiceConfig("db", s))),
    Plant(
        "headers as (name, value) pairs",
        "Pl30hp",
        _named("headers", lambda s: [("Accept", "json"), ("X-Api-Key", s)]),
    ),
    Plant(
        "header pair with a bearer",
        "Pl31hb",
        _named("headers", lambda s: [("Authorization", f"Token {s}")]),
    ),
    Plant("headers as a dict", "Pl32hd", _named("headers", lambda s: {"Cookie": f"sid={s}"})),
    Plant("GitHub token", "Pl33gh", _named("note", lambda s: f"ghp_{s}{'a' * 30}")),
    Plant("key=value in prose", "Pl34kv", _named("note", lambda s: f"host=db password={s} x=1")),
    Plant("JSON text in a string", "Pl35js", _named("note", lambda s: json.dumps({"secret": s}))),
    Plant(
        "secret straddling the string cut",
        "Pl36cut",
        _named("note", lambda s: "x" * 500 + f"postgres://app:{s}longpassword@db/x"),
    ),
    Plant("JWT returned as the result", "Pl37rj", _result(_jwt)),
    Plant("AWS key returned as the result", "PL38RES", _result(_aws)),
    Plant("dict with a token returned", "Pl39rd", _result(lambda s: {"access_token": s})),
    Plant("ow.attributes api_key", "Pl40aa", _attributes(api_key=lambda s: s)),
    Plant(
        "ow.attributes authorization Bearer",
        "Pl41ab",
        _attributes(authorization=lambda s: f"Bearer {s}abcdef"),
    ),
    Plant(
        "ow.attributes URL value",
        "Pl42au",
        _attributes(endpoint=lambda s: f"postgres://app:{s}@db/x"),
    ),
    Plant("ow.attributes list value", "Pl43al", _attributes(labels=lambda s: ["a", f"token={s}"])),
    Plant(
        "DSN in an exception message",
        "Pl44ex",
        _raises(
            lambda s: ConnectionError(f"could not connect to postgresql://app:{s}@db:5432/orders")
        ),
        exception=True,
    ),
    Plant(
        "password= in an exception message",
        "Pl45ep",
        _raises(lambda s: RuntimeError(f"login failed: user=ada password={s}")),
        exception=True,
    ),
    Plant(
        "Bearer token in an exception message",
        "Pl46eb",
        _raises(lambda s: PermissionError(f"rejected Authorization: Bearer {s}abcdef")),
        exception=True,
    ),
    Plant(
        "AWS key in an exception message",
        "PL47EXC",
        _raises(lambda s: ValueError(f"bad key {_aws(s)}")),
        exception=True,
    ),
    Plant(
        "JWT in an exception message",
        "Pl48ej",
        _raises(lambda s: ValueError(f"expired token {_jwt(s)}")),
        exception=True,
    ),
]


@ow.workflow(name="planted_secrets", capture=True)
def planted_secrets() -> str:
    """Run every plant, each with its visible marker."""
    for n, plant in enumerate(PLANTS):
        plant.plant(plant.secret, f"Visible{n:02d}")
    return "done"


@dataclass
class Outputs:
    """Every output of one run, as searchable text."""

    texts: dict[str, str]


def _span_text(capture: TelemetryCapture) -> str:
    parts = []
    for span in capture.spans():
        parts.append(span.name)
        parts.append(json.dumps(dict(span.attributes or {}), default=str))
        parts.append(str(span.status.description))
        for event in span.events:
            parts.append(event.name + json.dumps(dict(event.attributes or {}), default=str))
    return "\n".join(parts)


def _files_text(folder: Path) -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in sorted(folder.iterdir()))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outputs]:
    """Run the planted workflow once through spans, OTLP and the store; export; report."""
    folder = tmp_path_factory.mktemp("planted")
    store_dir = folder / "store"
    store_dir.mkdir()
    store = store_dir / "spans.db"
    with OTLPReceiver() as receiver:
        capture = TelemetryCapture().start()
        try:
            provider = capture.tracer_provider
            provider.add_span_processor(SimpleSpanProcessor(SQLiteSpanExporter(store)))
            provider.add_span_processor(
                SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces"))
            )
            assert planted_secrets() == "done"
            receiver.wait_until(lambda r: len(r.spans()) == len(capture.spans()), timeout=30)
            texts = {"spans": _span_text(capture)}
            otlp = b"".join(r.SerializeToString() for r in receiver.trace_requests)
            texts["otlp"] = otlp.decode("latin-1")
        finally:
            capture.stop()
    texts["sqlite"] = _files_text(store_dir)
    exports = folder / "exports"
    exports.mkdir()
    with AnalyticsEngine.from_store(store) as engine:
        for kind in ("executions", "steps"):
            engine.export_csv(exports / f"{kind}.csv", kind=kind)
            engine.export_json(exports / f"{kind}.json", kind=kind)
        report = render_report(engine, folder / "report.html")
    texts["exports"] = _files_text(exports)
    texts["report"] = report.read_text(encoding="utf-8")
    yield Outputs(texts)


def test_corpus_markers_are_distinct() -> None:
    """No secret marker contains another, so a search for one cannot hide a leak of another."""
    secrets = [p.secret for p in PLANTS]
    assert len(secrets) == 48 and len({s.lower() for s in secrets}) == len(secrets)
    assert not any(a != b and a in b for a in secrets for b in secrets)


@pytest.mark.parametrize("output", ["spans", "otlp", "sqlite"])
def test_every_plant_reached_the_output(outputs: Outputs, output: str) -> None:
    """Each case's visible marker is present: the search below looks where the data went."""
    missing = [n for n in range(len(PLANTS)) if f"Visible{n:02d}" not in outputs.texts[output]]
    assert missing == []


@pytest.mark.parametrize("plant", [pytest.param(p, id=p.id) for p in PLANTS])
def test_planted_secret_never_leaves(outputs: Outputs, plant: Plant) -> None:
    """The planted secret appears in none of the outputs."""
    leaked = [name for name, text in outputs.texts.items() if plant.secret in text]
    assert leaked == [], f"{plant.id}: {plant.secret!r} leaked into {leaked}"
