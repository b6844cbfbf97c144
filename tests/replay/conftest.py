"""Replay tests run from the repository root, as a user types paths: they appear in reports as given."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from engine.cli.replay import replay
from tests.conftest import REPO


@pytest.fixture(autouse=True)
def _in_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def run_replay(*paths: str, **options: Any) -> tuple[int, str]:
    """`forestall replay` in process, its report as text; logging is left as the test session has it."""
    output = io.StringIO()
    code = replay([Path(p) for p in paths], output=output, **options)
    return code, output.getvalue()
