"""The README's examples work as written, against a real server."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import grpc
import pytest

from engine.api.generated import decision_pb2_grpc
from engine.api.server import RunningServer, start_server
from engine.config import Settings
from tests.conftest import REPO
from tests.helpers import days_ago, ingest, purchase

pytestmark = pytest.mark.e2e


def _run_python(source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", source], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_the_readme_python_example_gets_a_maintenance_action(server):
    readme = (REPO / "README.md").read_text()
    [example] = re.findall(r"```python\n(.*?)```", readme, flags=re.S)

    result = _run_python(example.replace("127.0.0.1:50051", f"127.0.0.1:{server.port}"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("boiler-service-booking boiler-service-due {")


@pytest.fixture
def demo_server(tmp_path, rules_dir) -> Iterator[RunningServer]:
    """A server like the demo's: the sample rules and the sample models of the repo."""
    settings = Settings(port=0, store=tmp_path / "demo.db", rules_dir=rules_dir, models_dir=REPO / "models")
    running = start_server(settings.model_copy(update={"rules_poll_seconds": 0, "models_poll_seconds": 0}))
    yield running
    running.stop(grace=1)


def test_the_example_client_prints_the_action_its_reason_and_its_score(demo_server):
    # the example asks as of the server's clock
    with grpc.insecure_channel(f"127.0.0.1:{demo_server.port}") as channel:
        decisions = decision_pb2_grpc.DecisionServiceStub(channel)
        decisions.IngestEvents(ingest(purchase("demo-boiler", days_ago(350, datetime.now(UTC)), "boiler-ecotherm-30")))

    result = subprocess.run(
        [sys.executable, "examples/decide.py", "--target", f"127.0.0.1:{demo_server.port}", "demo-boiler"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    shown = (REPO / "README.md").read_text()
    models = re.search(r"; models (\S+)\)", shown)
    assert models and f"; models {models[1]})" in result.stdout  # the README shows the sample models serving
    assert re.search(r"- boiler-service-booking via EMAIL, score [0-9.]+\n", result.stdout)
    assert "because rule boiler-service-due" in result.stdout
    assert re.search(r"score: priority 5 x value 120 x response on email 0\.\d+ \(response model\)", result.stdout)
