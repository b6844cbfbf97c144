"""Shared fixtures: the repo's rules, a real server on a free loopback port, stubs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import structlog

from engine.api.generated import admin_pb2_grpc, decision_pb2_grpc
from engine.api.server import RunningServer, start_server
from engine.config import Settings

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules"
DATA = Path(__file__).resolve().parent / "data"

# Test servers listen on free ports: the Prometheus endpoint's fixed default port would collide between
# them, and with other test runs on the machine. Tests of the endpoint ask for a free port (0).
os.environ["FORESTALL_PROMETHEUS_PORT"] = "off"


@pytest.fixture(autouse=True)
def _logging_as_structlog_defaults() -> Iterator[None]:
    """A command run in process configures logging, and caches each logger it reaches, for the whole
    process; set back after each test, so the loggers a later test reaches first are not cached with it
    and `capture_logs` sees them."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A private copy of the repo's rules folder, free to edit."""
    return Path(shutil.copytree(RULES, tmp_path / "rules"))


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """The models the `server` fixture serves: none, unless a test module overrides this fixture."""
    return tmp_path / "models"


@pytest.fixture
def server(tmp_path: Path, rules_dir: Path, models_dir: Path) -> Iterator[RunningServer]:
    # Watching is off so a test's ReloadRules is what loads its change (tests/api/test_hot_reload.py watches).
    settings = Settings(
        port=0,
        store=tmp_path / "store.db",
        rules_dir=rules_dir,
        models_dir=models_dir,
        workers=4,
        rules_poll_seconds=0,
        models_poll_seconds=0,
    )
    running = start_server(settings)
    yield running
    running.stop(grace=1)


@pytest.fixture
def channel(server: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield channel


@pytest.fixture
def decisions(channel: grpc.Channel) -> decision_pb2_grpc.DecisionServiceStub:
    return decision_pb2_grpc.DecisionServiceStub(channel)


@pytest.fixture
def admin(channel: grpc.Channel) -> admin_pb2_grpc.AdminServiceStub:
    return admin_pb2_grpc.AdminServiceStub(channel)
