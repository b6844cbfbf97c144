"""The README's examples work as written, against a real server."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest

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


def test_the_example_client_prints_the_action_and_its_reason(server, decisions):
    # the example asks as of the server's clock
    decisions.IngestEvents(ingest(purchase("demo-boiler", days_ago(350, datetime.now(UTC)), "boiler-ecotherm-30")))

    result = subprocess.run(
        [sys.executable, "examples/decide.py", "--target", f"127.0.0.1:{server.port}", "demo-boiler"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "- boiler-service-booking via EMAIL, score 600" in result.stdout
    assert "because rule boiler-service-due" in result.stdout
