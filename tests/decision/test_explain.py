"""Explain: every rule and candidate for one customer, and what kept or dropped each, in words
and JSON, through the engine, the admin RPC and `forestall explain`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import grpc

from engine.api.generated import admin_pb2, admin_pb2_grpc, decision_pb2, decision_pb2_grpc
from engine.decision.engine import DecisionEngine
from engine.decision.types import DecideRequest
from engine.events import Complaint, Event, LineItem, Purchase
from engine.ruleset.live import LiveRuleSet
from engine.store.sqlite import SqliteStore
from tests.conftest import REPO
from tests.features.builders import AS_OF
from tests.helpers import AS_OF as HELPERS_AS_OF
from tests.helpers import days_ago, ingest, purchase, ts

POLICY = "diversity: {per_family: 1}\ncontact: {suppress_after_complaint_days: 14}\n"


def _bought(n: int, days: float, product: str, price: float = 10) -> Event:
    item = LineItem(product_id=product, quantity=1, unit_price=price)
    return Event(
        event_id=f"e{n}", customer_id="c", occurred_at=AS_OF - timedelta(days=days), payload=Purchase(items=[item])
    )


def _explanation(tmp_path: Path, rules_dir: Path, events: list[Event]):
    (rules_dir / "policy.yaml").write_text(POLICY)
    rules, store = LiveRuleSet(rules_dir, AS_OF), SqliteStore(tmp_path / "explain.db")
    try:
        engine = DecisionEngine(store, rules)
        engine.ingest(events)
        explanation = engine.explain(DecideRequest("c", AS_OF))
        stored = store.customer_decision_ids("c")
    finally:
        rules.close()
        store.close()
    return explanation, stored


def test_every_rule_is_accounted_for_with_its_verdict_and_reason(tmp_path, rules_dir):
    events = [
        _bought(1, 350, "boiler-ecotherm-30", 900),  # boiler-service-due: returned
        _bought(2, 300, "water-filter-3pack", 30),  # water-filter-change
        *(_bought(3 + n, d, "ink-305-black", 20) for n, d in enumerate((165, 110, 55))),  # ink-running-out
    ]

    explanation, stored = _explanation(tmp_path, rules_dir, events)

    verdicts = {c.rule_id: c.verdict for c in explanation.considered}
    by_rule = {c.rule_id: c for c in explanation.considered}
    assert verdicts["boiler-service-due"] == "returned"
    assert "priority 5 x value 120" in by_rule["boiler-service-due"].reason
    # Two replenishment actions, one allowed per family: the lower-ranked one is dropped, and says why.
    assert sorted(v for r, v in verdicts.items() if r in ("ink-running-out", "water-filter-change")) == [
        "dropped",
        "returned",
    ]
    dropped = next(c for c in explanation.considered if c.verdict == "dropped")
    assert dropped.reason == "diversity: 1 action(s) of the family replenishment ranked higher"
    assert by_rule["unhappy-reviewer-call"].verdict == "not matched"
    assert (
        "`event.kind equals 'review'` does not hold (event.kind is 'purchase')"
        in by_rule["unhappy-reviewer-call"].reason
    )
    assert {r.rule.id for r in LiveRuleSet(rules_dir, AS_OF).current.ruleset.rules} == set(verdicts)
    assert stored == []  # nothing is stored as a decision
    assert "RETURNED (2)" in explanation.text() and "DROPPED (1)" in explanation.text()
    assert json.loads(explanation.json())["considered"][0]["verdict"] == "returned"


def test_a_suppressed_action_says_by_what(tmp_path, rules_dir):
    complaint = Event(
        event_id="k",
        customer_id="c",
        occurred_at=AS_OF - timedelta(days=2),
        payload=Complaint(complaint_id="k1", state="opened"),
    )

    explanation, _ = _explanation(tmp_path, rules_dir, [_bought(1, 350, "boiler-ecotherm-30", 900), complaint])

    [boiler] = [c for c in explanation.considered if c.rule_id == "boiler-service-due"]
    assert (boiler.verdict, boiler.reason) == ("dropped", "suppressed: a complaint 2 days ago (14 days)")


def test_an_offer_a_better_rule_proposes_about_the_same_subject_says_so(tmp_path, rules_dir):
    # A second rule proposing the boiler's booking, ranked lower than boiler-service-due.
    (rules_dir / "maintenance_extra.yaml").write_text(
        "rules:\n"
        "  - id: boiler-booking-nudge\n"
        "    description: Any boiler owner may book a service\n"
        "    family: maintenance_due\n"
        "    when: {all: [{fact: asset.category, equals: boiler}]}\n"
        "    then: {offer: boiler-service-booking, value: 10, priority: 1, channels: [email], valid_for_days: 7}\n"
    )

    explanation, _ = _explanation(tmp_path, rules_dir, [_bought(1, 350, "boiler-ecotherm-30", 900)])

    [nudge] = [c for c in explanation.considered if c.rule_id == "boiler-booking-nudge"]
    assert (nudge.verdict, nudge.reason) == (
        "dropped",
        f"the offer boiler-service-booking is proposed about {nudge.subject} by boiler-service-due, ranked higher",
    )


def test_the_admin_rpc_explains(server, channel):
    decisions = decision_pb2_grpc.DecisionServiceStub(channel)
    decisions.IngestEvents(ingest(purchase("ann", days_ago(350), "boiler-ecotherm-30")))

    response = admin_pb2_grpc.AdminServiceStub(channel).Explain(
        admin_pb2.ExplainRequest(request=decision_pb2.DecideRequest(customer_id="ann", as_of=ts(HELPERS_AS_OF)))
    )

    assert "- boiler-service-due on asset:" in response.text
    assert json.loads(response.document_json)["customer_id"] == "ann"


def test_the_admin_rpc_names_a_bad_field(channel):
    try:
        admin_pb2_grpc.AdminServiceStub(channel).Explain(admin_pb2.ExplainRequest(request=decision_pb2.DecideRequest()))
    except grpc.RpcError as error:
        assert (error.code(), "customer_id" in error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, True)
    else:
        raise AssertionError("an empty customer id was explained")


def test_the_command_explains_a_customer_of_a_store(tmp_path, rules_dir):
    store = SqliteStore(tmp_path / "cli.db")
    store.ingest([_bought(1, 350, "boiler-ecotherm-30", 900)])
    store.close()

    # In a process of its own, like a user's: the command sets logging up for itself.
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "explain", "c", "--store", str(tmp_path / "cli.db"),
         "--rules-dir", str(rules_dir), "--models-dir", str(tmp_path / "none"), "--as-of", AS_OF.isoformat(),
         "--format", "json"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert [c["rule_id"] for c in document["considered"] if c["verdict"] == "returned"] == ["boiler-service-due"]
