"""The one table of settings: precedence, warn-once fallback, and the README kept equal to it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import otel_workflow as ow
from otel_workflow import settings
from otel_workflow.instrumentor import parse_targets

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_warnings() -> Iterator[None]:
    """Each test sees warnings as if no value had been warned about yet."""
    settings.forget_warnings()
    yield
    settings.forget_warnings()


def _warnings(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and name in r.getMessage()]  # fmt: skip


def test_argument_wins_over_environment_and_environment_over_default() -> None:
    """resolve() takes the argument, else the environment's value, else the default."""
    env = {"OTEL_WORKFLOW_MAX_LABEL_VALUES": "7"}
    assert settings.MAX_LABEL_VALUES.resolve(3, env) == 3
    assert settings.MAX_LABEL_VALUES.resolve(None, env) == 7
    assert settings.MAX_LABEL_VALUES.resolve(None, {}) == settings.MAX_LABEL_VALUES.default


@pytest.mark.parametrize(
    ("setting", "raw", "expected"),
    [
        (settings.ENABLED, "OFF", False),
        (settings.ENABLED, " yes ", True),
        (settings.CAPTURE, "args", (True, False)),
        (settings.CAPTURE, "ALL", (True, True)),
        (settings.METRICS_PORT, "0", 0),
        (settings.SMTP_MODE, "StartTLS", "starttls"),
        (settings.SMTP_TIMEOUT, "2.5", 2.5),
        (settings.METRIC_EXPORT_INTERVAL, "250", 250.0),
    ],
)
def test_valid_values_parse(setting: settings.Setting[object], raw: str, expected: object) -> None:
    """A valid value is parsed to its typed form."""
    assert setting.get({setting.name: raw}) == expected


@pytest.mark.parametrize(
    ("setting", "raw"),
    [
        (settings.ENABLED, "maybe"),
        (settings.CAPTURE, "everything"),
        (settings.METRICS_PORT, "70000"),
        (settings.METRICS_PORT, "abc"),
        (settings.MAX_LABEL_VALUES, "0"),
        (settings.SMTP_MODE, "tls"),
        (settings.SMTP_TIMEOUT, "-1"),
        (settings.METRIC_EXPORT_INTERVAL, "0"),
        (settings.OTLP_PROTOCOL, "http/json"),
    ],
)
def test_invalid_value_warns_naming_it_and_falls_back(
    setting: settings.Setting[object], raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An invalid value logs a warning naming the variable and the value; the default is used."""
    with caplog.at_level(logging.WARNING, logger="otel_workflow"):
        assert setting.get({setting.name: raw}) == setting.default
    messages = _warnings(caplog, setting.name)
    assert len(messages) == 1 and repr(raw) in messages[0], messages


def test_blank_value_means_unset(caplog: pytest.LogCaptureFixture) -> None:
    """An empty or blank variable is the default, without a warning."""
    with caplog.at_level(logging.WARNING, logger="otel_workflow"):
        assert settings.ENABLED.get({"OTEL_WORKFLOW_ENABLED": "  "}) is True
    assert caplog.records == []


def test_bad_capture_warns_once_for_many_decorators(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bad OTEL_WORKFLOW_CAPTURE is reported once, however many decorators read it."""
    monkeypatch.setenv("OTEL_WORKFLOW_CAPTURE", "everything")
    with caplog.at_level(logging.WARNING, logger="otel_workflow"):
        for index in range(3):
            ow.step(name=f"s{index}")(lambda: None)
    assert len(_warnings(caplog, "OTEL_WORKFLOW_CAPTURE")) == 1


def test_bad_kind_drops_only_that_target(caplog: pytest.LogCaptureFixture) -> None:
    """A target with an unknown kind is dropped with a warning; the other targets are kept."""
    with caplog.at_level(logging.WARNING, logger="otel_workflow"):
        targets = parse_targets("shop:nightly=job, shop:Loader.load, shop:run=workflow")
    assert targets == [("shop:Loader.load", "step"), ("shop:run", "workflow")]
    messages = _warnings(caplog, "OTEL_WORKFLOW_INSTRUMENT")
    assert len(messages) == 1 and "shop:nightly=job" in messages[0]


def _configuration_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Configuration")
    return readme[start:readme.index("\n## ", start + 1)]


def test_readme_table_is_the_settings_table() -> None:
    """The README's configuration table is exactly the table generated from the settings."""
    assert settings.markdown_table() in _configuration_section()


def test_every_variable_mentioned_is_defined() -> None:
    """Every OTEL_WORKFLOW_* name in the README, the docs and the code is a defined setting."""
    defined = {s.name for s in settings.ALL}
    texts = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
             *(ROOT / "otel_workflow").rglob("*.py"),
             *(ROOT / "exporters").rglob("*.py")]  # fmt: skip
    mentioned: dict[str, Path] = {}
    for path in texts:
        for name in re.findall(r"OTEL_WORKFLOW_[A-Z0-9_]*[A-Z0-9]", path.read_text("utf-8")):
            mentioned.setdefault(name, path)
    # SMTP_* in prose stands for the family.
    unknown = {name: str(path) for name, path in mentioned.items()
               if name not in defined and name != "OTEL_WORKFLOW_SMTP"}  # fmt: skip
    assert unknown == {}


def test_variables_are_spelled_only_in_settings() -> None:
    """No module but settings.py spells an OTEL_WORKFLOW_* name as a string literal."""
    literal = re.compile(r"[\"']OTEL_WORKFLOW_")
    offenders = [
        str(path.relative_to(ROOT))
        for path in [*(ROOT / "otel_workflow").rglob("*.py"), *(ROOT / "exporters").rglob("*.py")]
        if path.name != "settings.py" and literal.search(path.read_text("utf-8"))
    ]
    assert offenders == []
