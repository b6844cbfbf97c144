"""`forestall replay --target`: the same scenarios against a real server on loopback, the same JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.api.server import RunningServer
from tests.conftest import REPO
from tests.replay.conftest import run_replay


@pytest.fixture
def models_dir() -> Path:
    """The server serves the repository's models, as scenarios replay in process."""
    return REPO / "models"


# Scenarios with a policy of their own run in process only.
SERVABLE = [str(p) for p in sorted(Path("scenarios").rglob("*.yaml")) if "own" not in p.parts]


def test_the_library_gives_byte_identical_json_in_process_and_against_a_server(server: RunningServer):
    in_process = run_replay(*SERVABLE, report_format="json")
    remote = run_replay(*SERVABLE, report_format="json", target=f"127.0.0.1:{server.port}")

    assert in_process[0] == 0, in_process[1]
    assert remote == in_process
    assert json.loads(remote[1])["passed"] == len(SERVABLE) > 15


def test_a_scenario_with_a_policy_of_its_own_is_refused_by_a_server(server: RunningServer):
    scenario = "scenarios/policy/own/capacity.yaml"

    code, out = run_replay(scenario, target=f"127.0.0.1:{server.port}")

    assert code == 2
    assert "the scenario sets its own policy, which a server cannot take: replay it in process" in out


def test_runs_against_one_server_do_not_see_each_others_customers(server: RunningServer):
    target = f"127.0.0.1:{server.port}"

    first = run_replay("scenarios/maintenance", report_format="json", target=target)
    again = run_replay("scenarios/maintenance", report_format="json", target=target)

    assert first[0] == 0
    assert again == first
    assert server.engine.store.count_customers() == 2 * 3  # one customer a scenario, a run's own each time


def test_a_failure_against_the_server_reads_as_in_process(server: RunningServer, tmp_path):
    scenario = tmp_path / "email.yaml"
    scenario.write_text(
        "start: 2026-01-05T09:00:00Z\n"
        "customers:\n"
        "  - id: ada\n"
        "    timeline: [{at: -340d, purchase: boiler-ecotherm-30}]\n"
        "    checkpoints:\n"
        "      [{name: reminder, at: +0d, expect: {actions: [{rule: boiler-service-due, channel: email}]}}]\n"
    )

    in_process = run_replay(str(scenario))
    remote = run_replay(str(scenario), target=f"127.0.0.1:{server.port}")

    assert remote == in_process
    assert remote[0] == 2
    assert "expected boiler-service-due via email: it came back via sms, not email" in remote[1]


def test_the_command_exits_1_when_the_server_cannot_be_reached():
    command = [sys.executable, "-m", "engine.cli.main", "replay", "scenarios/edge", "--target", "127.0.0.1:1"]

    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "forestall: cannot reach a server at 127.0.0.1:1 within 5 s\n"
