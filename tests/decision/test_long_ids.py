"""Ids Forestall makes from other ids stay within the 128 characters an id may have: a long rule id
about an asset bought under a long purchase id still gives an action the caller can report an
outcome on, whose contact and outcome are kept, and whose cooldown holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.decision.engine import DecisionEngine, OutcomeReport
from engine.decision.types import DecideRequest
from engine.events import MAX_ID_LENGTH, Event, LineItem, Purchase, bounded_id
from engine.ruleset.live import LiveRuleSet
from engine.store.sqlite import SqliteStore
from engine.vocabulary import Outcome

T0 = datetime(2026, 6, 1, 9, tzinfo=UTC)
LONG_RULE = "boiler-service-due-" + "x" * 61  # 80 characters, the longest a rule id may be
LONG_PURCHASE = "purchase-" + "p" * 111  # 120 characters


def test_an_id_that_fits_is_kept_in_clear_and_one_that_does_not_is_digested_the_same_way_each_time():
    assert bounded_id("rule", "asset:p-1/0") == "rule:asset:p-1/0"
    long = bounded_id(LONG_RULE, f"asset:{LONG_PURCHASE}/0")
    assert len(long) <= MAX_ID_LENGTH and long.startswith(f"{LONG_RULE}:")
    assert long == bounded_id(LONG_RULE, f"asset:{LONG_PURCHASE}/0")
    assert long != bounded_id(LONG_RULE, f"asset:{LONG_PURCHASE}/1")


def test_a_long_rule_about_a_long_purchase_gives_an_action_that_is_kept_reported_and_cooled_down(
    tmp_path: Path, rules_dir: Path
):
    maintenance = rules_dir / "maintenance.yaml"
    maintenance.write_text(maintenance.read_text().replace("- id: boiler-service-due\n", f"- id: {LONG_RULE}\n"))
    rules, store = LiveRuleSet(rules_dir, T0), SqliteStore(tmp_path / "long.db")
    engine = DecisionEngine(store, rules)
    bought = Purchase(items=[LineItem(product_id="boiler-ecotherm-30", quantity=1, unit_price=1890)])
    engine.ingest(
        [Event(event_id=LONG_PURCHASE, customer_id="ada", occurred_at=T0 - timedelta(days=350), payload=bought)]
    )

    decision = engine.decide(DecideRequest("ada", T0))
    [action] = [a for a in decision.actions if a.reason.rule_id == LONG_RULE]
    engine.record_outcome(
        OutcomeReport(decision.decision_id, action.action_id, Outcome.ACCEPTED, T0 + timedelta(hours=1))
    )
    again = engine.preview(DecideRequest("ada", T0 + timedelta(days=1))).arbitrated

    assert len(action.action_id) <= MAX_ID_LENGTH
    kinds = [e["payload"]["kind"] for e in engine.export_customer("ada")["events"]]
    assert kinds.count("contact_made") == 1 and kinds.count("contact_outcome") == 1
    assert [o.outcome for o in store.outcomes(decision.decision_id)] == [Outcome.ACCEPTED]
    assert any(a.action_id == action.action_id and why.startswith("cooldown") for a, why in again.dropped), again
    rules.close()
    store.close()
