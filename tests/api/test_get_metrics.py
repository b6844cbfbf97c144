"""GetMetrics through a real server: the hand-computed figures of tests/metrics/dataset.py, the same figures
as `forestall report` writes in its JSON, series by day, week and month, and bad requests named by field."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from engine.api.generated import admin_pb2, admin_pb2_grpc
from engine.api.server import RunningServer, start_server
from engine.config import Settings
from engine.metrics.definitions import METRICS
from engine.store.sqlite import SqliteStore
from tests.conftest import REPO
from tests.metrics.dataset import fill

pytestmark = pytest.mark.e2e

POLICY_CONTROL = re.compile(r"^  share: 0\.0 .*$", re.M)


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    path = tmp_path / "metrics.db"
    fill(SqliteStore(path)).close()
    return path


@pytest.fixture
def served(tmp_path: Path, rules_dir: Path, store_file: Path) -> Iterator[RunningServer]:
    # The contact policy holds out a quarter of customers, under its own salt: the default control group.
    policy = rules_dir / "policy.yaml"
    text = policy.read_text(encoding="utf-8")
    text, replaced = POLICY_CONTROL.subn("  share: 0.25", text)
    assert replaced == 1
    policy.write_text(text.replace("salt: forestall-control", "salt: q1"), encoding="utf-8")
    settings = Settings(port=0, store=store_file, rules_dir=rules_dir, rules_poll_seconds=0, models_poll_seconds=0)
    running = start_server(settings)
    yield running
    running.stop(grace=1)


@pytest.fixture
def admin(served: RunningServer) -> Iterator[admin_pb2_grpc.AdminServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{served.port}") as channel:
        yield admin_pb2_grpc.AdminServiceStub(channel)


def metrics(admin, **fields: object) -> admin_pb2.GetMetricsResponse:
    return admin.GetMetrics(admin_pb2.GetMetricsRequest(**{"replicates": 200, **fields}))


def report_json(tmp_path: Path, store_file: Path, *options: str) -> dict:
    """`forestall report`'s JSON, from a process of its own: the command configures logging for its process."""
    out = tmp_path / "report.json"
    argv = ["report", "--store", str(store_file), "--out", str(tmp_path / "report.html"), "--json", str(out)]
    command = [sys.executable, "-m", "engine.cli.main", *argv, "--replicates", "200", *options]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text(encoding="utf-8"))


def value(message, field: str = "value") -> float | None:
    return getattr(message, field) if message.HasField(field) else None


def test_march_by_hand(admin):
    found = metrics(admin, from_date="2026-03-01", to_date="2026-04-01")
    by_name = {m.name: m for m in found.metrics}

    assert [m.name for m in found.metrics] == [m.name for m in METRICS]
    assert found.period.label == "2026-03"
    assert found.customers_read == 12
    assert {name: value(m) for name, m in by_name.items()} == pytest.approx(
        {
            "satisfaction": 2 / 10,
            "retention": (9 - 4) / 6,
            "average_check": 550 / 5,
            "positive_review_share": 3 / 5,
            "complaint_share": 2 / 10,
            "acceptance_rate": 2 / 3,
            "conversion_rate": 1 / 3,
            "revenue_per_decision": 120 / 3,
            "purchase_rate": 5 / 10,
            "revenue_per_customer": 550 / 10,
        }
    )
    retention = by_name["retention"]
    assert (retention.numerator, retention.denominator, retention.formula) == (5, 6, "R = (K_end - K_new) / K_start")
    assert by_name["average_check"].unit == "money"
    # d1 (c09): a1 maintenance by email, converted for 120; a2 replenishment by sms, dismissed.
    # d3 (c10): a1 maintenance by sms, accepted; a2 planned purchase at the pos, never heard of.
    family = {f.value: f for f in found.by_family}
    assert (family["maintenance_due"].actions, family["maintenance_due"].accepted) == (2, 2)
    assert (family["maintenance_due"].converted, family["maintenance_due"].revenue) == (1, 120)
    assert value(family["replenishment"], "acceptance_rate") == 0
    assert value(family["planned_purchase"], "acceptance_rate") is None  # nothing contacted
    assert [(f.value, f.contacted) for f in found.by_channel] == [("email", 1), ("pos", 0), ("sms", 2)]
    assert [r.value for r in found.top_rules] == ["r-boiler", "r-ink", "r-seat"]
    # The decisioning metrics are not compared across groups; the others are.
    assert not by_name["acceptance_rate"].HasField("uplift")
    assert by_name["retention"].HasField("uplift")


def test_the_rpc_gives_the_figures_of_forestall_report(admin, tmp_path, store_file):
    document = report_json(
        tmp_path, store_file, "--from", "2026-01-01", "--to", "2026-04-01", "--control-share", "0.3", "--salt", "s"
    )
    found = metrics(admin, from_date="2026-01-01", to_date="2026-04-01", control_share=0.3, control_salt="s")

    assert {m.name: value(m) for m in found.metrics} == {n: m["value"] for n, m in document["metrics"].items()}
    assert {m.name: (m.numerator, m.denominator) for m in found.metrics} == {
        n: (m["numerator"], m["denominator"]) for n, m in document["metrics"].items()
    }
    # The months of the series are the report's over time.
    assert [b.label for b in found.buckets] == [month["label"] for month in document["over_time"]]
    for metric in found.metrics:
        assert [value(p) for p in metric.series] == [month["metrics"][metric.name] for month in document["over_time"]]
    uplift = {u["metric"]: u for u in document["uplift"]["metrics"]}
    compared = [m for m in found.metrics if m.HasField("uplift")]
    assert {m.name for m in compared} == set(uplift)
    for metric in compared:
        expected = uplift[metric.name]
        got = metric.uplift
        for field in ("treated", "control", "difference", "low", "high", "relative"):
            assert value(got, field) == expected[field], (metric.name, field)
        assert (got.replicates_used, got.excludes_zero) == (expected["replicates_used"], expected["excludes_zero"])
    assert (found.control.treated_customers, found.control.control_customers) == (
        document["uplift"]["treated_customers"],
        document["uplift"]["control_customers"],
    )
    assert found.control.control_customers > 0
    for mine, theirs in [(found.by_family, "family"), (found.by_channel, "channel")]:
        assert [(f.value, f.actions, f.accepted, f.revenue, value(f, "conversion_rate")) for f in mine] == [
            (f["value"], f["actions"], f["accepted"], f["revenue"], f["conversion_rate"])
            for f in document["funnels"][theirs]
        ]
    assert [r.value for r in found.top_rules] == [r["value"] for r in document["top_rules"]]


def test_the_control_group_is_the_policys_unless_asked(admin, tmp_path, store_file, rules_dir, monkeypatch):
    monkeypatch.setenv("FORESTALL_RULES_DIR", str(rules_dir))
    document = report_json(tmp_path, store_file, "--from", "2026-03-01", "--to", "2026-04-01")
    found = metrics(admin, from_date="2026-03-01", to_date="2026-04-01")

    assert (found.control.control_share, found.control.control_salt) == (0.25, "q1")
    assert document["uplift"]["assignment"] == {"method": "sha256 hash", "control_share": 0.25, "salt": "q1"}
    assert found.control.control_customers == document["uplift"]["control_customers"]
    by_name = {m.name: m for m in found.metrics}
    for expected in document["uplift"]["metrics"]:
        assert value(by_name[expected["metric"]].uplift, "difference") == expected["difference"]

    asked = metrics(admin, from_date="2026-03-01", to_date="2026-04-01", control_share=0.0)
    assert (asked.control.control_share, asked.control.control_customers) == (0.0, 0)


def test_weeks_start_on_monday_and_the_edges_are_partial(admin):
    found = metrics(admin, from_date="2026-03-01", to_date="2026-04-01", bucket=admin_pb2.METRICS_BUCKET_WEEK)
    average_check = next(m for m in found.metrics if m.name == "average_check")

    # 2026-03-01 is a Sunday: a one-day slice, four Monday-to-Monday weeks, and the 30th and 31st.
    assert [b.from_time.ToDatetime().date().isoformat() for b in found.buckets] == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-09",
        "2026-03-16",
        "2026-03-23",
        "2026-03-30",
    ]
    assert found.buckets[-1].to_time.ToDatetime().date().isoformat() == "2026-04-01"
    # c01's 100 on the 5th; c03's 200 and c08's 40 (order C is cancelled) on the 10th and 14th;
    # c04's 60 on the 20th; c10's 150 on the 26th.
    assert [value(p) for p in average_check.series] == [None, 100, 120, 60, 150, None]
    assert average_check.series[0].reason == "no orders in the period"


def test_days_cut_at_midnight_utc(admin):
    found = metrics(admin, from_date="2026-03-09T12:00:00", to_date="2026-03-12", bucket=admin_pb2.METRICS_BUCKET_DAY)
    average_check = next(m for m in found.metrics if m.name == "average_check")

    assert [b.label for b in found.buckets] == [
        "2026-03-09T12:00:00+00:00 .. 2026-03-10T00:00:00+00:00",
        "2026-03-10T00:00:00+00:00 .. 2026-03-11T00:00:00+00:00",
        "2026-03-11T00:00:00+00:00 .. 2026-03-12T00:00:00+00:00",
    ]
    assert [value(p) for p in average_check.series] == [None, 200, None]  # c03's first order, on the 10th


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        ({"from_date": "2026-04-01", "to_date": "2026-03-01"}, "to_date: 2026-03-01T00:00:00+00:00 is not after"),
        ({"from_date": "2026-03-01", "to_date": "2026-03-01"}, "to_date: "),
        ({"from_date": "March", "to_date": "2026-04-01"}, "from_date: 'March' is not an ISO 8601 date or time"),
        ({"from_date": "2026-03-01", "to_date": "2026-13-01"}, "to_date: '2026-13-01' is not an ISO 8601"),
        ({"to_date": "2026-04-01"}, "from_date: is required"),
        ({"from_date": "2026-03-01", "to_date": "2026-04-01", "bucket": 9}, "bucket: unknown value 9"),
        ({"from_date": "2024-01-01", "to_date": "2026-01-01", "bucket": 1}, "bucket: the period has more than 400"),
        ({"from_date": "2026-03-01", "to_date": "2026-04-01", "control_share": 1.5}, "control_share: 1.5 is not"),
        ({"from_date": "2026-03-01", "to_date": "2026-04-01", "replicates": 10**6}, "replicates: 1000000 exceeds"),
    ],
)
def test_bad_requests_name_the_field(admin, fields, details):
    with pytest.raises(grpc.RpcError) as raised:
        admin.GetMetrics(admin_pb2.GetMetricsRequest(**fields))

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details().startswith(details), raised.value.details()


def test_the_example_client_prints_the_weeks(served):
    period = ["--from", "2026-03-01", "--to", "2026-04-01", "--bucket", "week"]
    result = subprocess.run(
        [sys.executable, "examples/metrics.py", "--target", f"127.0.0.1:{served.port}", *period],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2026-03: 12 customers, ")
    assert "- average_check = 110   by week: - 100 120 60 150 -   treated - control " in result.stdout
    assert "  maintenance_due: 2 actions, acceptance 1\n" in result.stdout
