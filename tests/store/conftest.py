"""Fixtures for the store tests: the span factory of the analytics tests and the v1 file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.analytics.conftest import SpanFactory

V1_FIXTURE = Path(__file__).parent / "fixtures" / "store_v1.db"


@pytest.fixture
def factory() -> SpanFactory:
    """A fresh span factory."""
    return SpanFactory()


@pytest.fixture
def v1_store(tmp_path: Path) -> Path:
    """A copy of the store file written by the v1 code (20 executions, 36 steps)."""
    path = tmp_path / "v1.db"
    shutil.copyfile(V1_FIXTURE, path)
    return path
