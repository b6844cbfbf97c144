"""The `forestall` command as a user runs it: validate, serve, stop on SIGTERM, log safely."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from engine.api.generated import decision_pb2_grpc
from engine.ruleset.loader import load_rule_set
from tests.conftest import DATA, REPO, RULES
from tests.helpers import days_ago, decide, ingest, purchase

FORESTALL = [sys.executable, "-m", "engine.cli.main"]


def _run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FORESTALL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_validate_exits_0_on_the_sample_rules():
    result = _run("rules", "validate", str(RULES))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(load_rule_set(RULES).rules)} rules, valid" in result.stdout


def test_validate_exits_1_and_lists_every_error(tmp_path, rules_dir):
    (rules_dir / "mistakes.yaml").write_text((DATA / "rules" / "mistakes.yaml").read_text())

    pretty = _run("rules", "validate", str(rules_dir))
    as_json = _run("rules", "validate", str(rules_dir), "--format", "json")

    assert pretty.returncode == as_json.returncode == 1
    assert "errors occurred" in pretty.stdout
    assert f"{rules_dir / 'mistakes.yaml'}:16:11: unknown-operator:" in pretty.stdout
    [report] = json.loads(as_json.stdout)
    assert report["valid"] is False
    assert {"file", "line", "column", "code", "message"} <= set(report["errors"][0])


def test_a_moment_that_is_not_iso_8601_exits_2_naming_the_option():
    result = _run("report", "--from", "March", "--to", "2026-04-01")

    assert result.returncode == 2
    assert "error: argument --from: 'March' is not an ISO 8601 date or time" in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.e2e
def test_serve_logs_json_and_stops_gracefully_on_sigterm(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "FORESTALL_PORT": str(port),
        "FORESTALL_STORE": str(tmp_path / "s.db"),
        "FORESTALL_RULES_DIR": str(RULES),
    }
    process = subprocess.Popen([sys.executable, "server.py"], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            stub = decision_pb2_grpc.DecisionServiceStub(channel)
            stub.IngestEvents(ingest(purchase("secret-customer-42", days_ago(350), "boiler-ecotherm-30")))
            assert stub.Decide(decide("secret-customer-42")).actions
        process.send_signal(signal.SIGTERM)
        _, logs = process.communicate(timeout=30)
    finally:
        process.kill()

    assert process.returncode == 0
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert "auth_disabled" in events  # no tokens configured: the server says it runs open
    assert events.index("serving") < events.index("decided") and events[-2:] == ["stopping", "stopped"]
    assert "decided" in events
    assert "secret-customer-42" not in logs
    [decided] = [line for line in lines if line["event"] == "decided"]
    assert decided["customer"].startswith("c_")


def test_a_broken_rules_folder_stops_serve_with_the_errors(tmp_path, rules_dir):
    (rules_dir / "syntax.yaml").write_text((DATA / "rules" / "syntax.yaml").read_text())
    env = {**os.environ, "FORESTALL_PORT": "0", "FORESTALL_STORE": str(tmp_path / "s.db")}

    result = subprocess.run(
        [*FORESTALL, "serve", "--rules-dir", str(rules_dir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert f"{rules_dir / 'syntax.yaml'}:6:" in result.stderr
    assert "Traceback" not in result.stderr
