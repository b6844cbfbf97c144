"""The rule language end to end: joins across two facts, the latest event, text matching."""

from __future__ import annotations

import pytest

from engine.api.generated import common_pb2, decision_pb2
from tests.helpers import days_ago, decide, ingest, order_status, purchase, review

pytestmark = pytest.mark.e2e


def _rules(decisions, customer: str) -> list[str]:
    return [a.reason.rule_id for a in decisions.Decide(decide(customer)).actions]


def test_a_printer_owner_who_never_bought_ink_gets_the_join_rule(decisions):
    decisions.IngestEvents(ingest(purchase("pia", days_ago(30), "printer-deskjet-2720")))

    response = decisions.Decide(decide("pia"))

    [action] = [a for a in response.actions if a.reason.rule_id == "printer-without-ink"]
    assert action.reason.matched_facts["asset.category"] == "printer"
    assert action.reason.matched_facts["category.name"] == "printer_ink"
    assert action.reason.matched_facts["category.purchase_count"] == "0"
    assert "DeskJet 2720 printer" in action.message.text
    assert action.action_id.startswith("printer-without-ink:asset:")


def test_the_join_needs_both_facts(decisions):
    decisions.IngestEvents(
        ingest(
            purchase("quin", days_ago(30), "printer-deskjet-2720"),
            purchase("quin", days_ago(20), "ink-305-black"),  # ink 20 days ago: not "60 days without"
            purchase("ray", days_ago(90), "ink-305-black"),  # ink long ago, but no printer
        )
    )

    assert "printer-without-ink" not in _rules(decisions, "quin")
    assert "printer-without-ink" not in _rules(decisions, "ray")


def test_a_printer_owner_without_ink_for_60_days_gets_it(decisions):
    decisions.IngestEvents(
        ingest(purchase("sal", days_ago(300), "printer-deskjet-2720"), purchase("sal", days_ago(70), "ink-305-black"))
    )

    assert "printer-without-ink" in _rules(decisions, "sal")


def test_a_fresh_bad_review_gets_a_call_from_customer_care(decisions):
    decisions.IngestEvents(ingest(review("tia", days_ago(1), rating=1, text="Awful service")))

    [action] = decisions.Decide(decide("tia")).actions

    assert action.reason.rule_id == "unhappy-reviewer-call"
    assert action.family == common_pb2.PROBLEM_PREVENTION
    assert action.channel == common_pb2.CALL_CENTRE
    assert action.reason.matched_facts == {"event.kind": "review", "event.rating": "1", "event.days_ago": "1"}


def test_an_old_or_good_review_gets_no_call(decisions):
    decisions.IngestEvents(
        ingest(review("uma", days_ago(10), rating=1), review("vic", days_ago(1), rating=5, text="Lovely"))
    )

    assert _rules(decisions, "uma") == []
    assert _rules(decisions, "vic") == []


@pytest.mark.parametrize("text", ["It arrived BROKEN.", "box was damaged", "broken"])
def test_text_matching_ignores_case_and_finds_the_word_anywhere(decisions, text):
    decisions.IngestEvents(ingest(review("wes", days_ago(1), rating=4, text=text)))

    assert _rules(decisions, "wes") == ["broken-on-arrival"]


def test_a_delayed_order_gets_an_apology(decisions):
    decisions.IngestEvents(ingest(order_status("xia", days_ago(0.5), "o-1", decision_pb2.OrderStatus.DELAYED)))

    assert _rules(decisions, "xia") == ["delayed-order-apology"]
