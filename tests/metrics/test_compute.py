"""Every metric against values worked out by hand on the fixed data set of tests/metrics/dataset.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.events import ContactMade, ContactOutcome, Event
from engine.metrics.compute import (
    CustomerRecord,
    Funnel,
    MetricValue,
    Period,
    compute,
    funnels,
    months,
    read_customers,
    tally,
)
from engine.metrics.definitions import Component
from engine.store.sqlite import SqliteStore
from engine.vocabulary import Channel, Outcome
from tests.metrics.dataset import CUSTOMERS, day, fill

MARCH = Period(day("2026-03-01"), day("2026-04-01"))
FEBRUARY = Period(day("2026-02-01"), day("2026-03-01"))


def values(metrics: dict[str, MetricValue]) -> dict[str, float | None]:
    return {name: metric.value for name, metric in metrics.items()}


def test_the_components_of_march_by_hand():
    sums = compute(CUSTOMERS, MARCH).overall.sums()

    assert sums == {
        # events in [2025-04-01, 2026-04-01): all but c02 (2025-03-15 only) and c12 (2023)
        Component.CUSTOMERS: 10,
        # latest review in [2025-04-01, 2026-04-01) at 4 or more: c01 (5), c03 (4); not c05 (2), c06 (5 then 3),
        # c07 (5, but in 2025-02), c11 (4 then 1)
        Component.SATISFIED: 2,
        # a purchase in [2025-03-01, 2026-03-01): c01, c02, c05, c06, c07, c09
        Component.CUSTOMERS_AT_START: 6,
        # a purchase in [2025-04-01, 2026-04-01): c01, c03, c04, c05, c06, c07, c08 (order D), c09, c10
        Component.CUSTOMERS_AT_END: 9,
        # at the end, not at the start: c03, c08, c10 (first orders) and c04 (won back after 2024-12)
        Component.NEW_CUSTOMERS: 4,
        # K_end - K_new = 9 - 4: c01, c05, c06, c07, c09
        Component.RETAINED: 5,
        # c01, c03, c04, c08 (D; C is cancelled), c10
        Component.ORDERS: 5,
        # 100 (1x80 + 2x10) + 200 + 60 (3x20) + 40 (2x20) + 150
        Component.REVENUE: 550,
        Component.BUYERS: 5,
        # c01 5, c03 4, c05 2, c11 4 and 1
        Component.REVIEWS: 5,
        Component.POSITIVE_REVIEWS: 3,
        # c05: k1 (opened, then resolved) and k2
        Component.COMPLAINTS: 2,
        # d1, d3, d4 (d2 is of February)
        Component.DECISIONS: 3,
        # d1 a1, a2; d3 a1, a2
        Component.ACTIONS: 4,
        # d1 a1 (delivered, converted), d1 a2 (delivered, dismissed), d3 a1 (accepted, by event)
        Component.CONTACTED: 3,
        # d1 a1 (converted), d3 a1
        Component.ACCEPTED: 2,
        Component.CONVERTED: 1,
        # d1 a1: 120 by RecordOutcome and 120 by event, once; the 9 of an unknown decision is nobody's
        Component.ATTRIBUTED_REVENUE: 120,
    }


def test_every_metric_of_march_by_hand():
    march = compute(CUSTOMERS, MARCH).overall.metrics()

    assert values(march) == pytest.approx(
        {
            "satisfaction": 2 / 10,  # K_satisfied / K_total
            "retention": (9 - 4) / 6,  # (K_end - K_new) / K_start
            "average_check": 550 / 5,  # revenue / orders = 110
            "positive_review_share": 3 / 5,
            "complaint_share": 2 / 10,
            "acceptance_rate": 2 / 3,  # accepted / contacted
            "conversion_rate": 1 / 3,
            "revenue_per_decision": 120 / 3,  # attributed revenue / decisions = 40
            "purchase_rate": 5 / 10,  # buyers / K_total
            "revenue_per_customer": 550 / 10,
        }
    )
    assert march["retention"] == MetricValue(5 / 6, 5, 6)


def test_february_has_no_new_customers_no_orders_and_one_review():
    february = compute(CUSTOMERS, FEBRUARY).overall

    sums = february.sums()
    # start window [2025-02-01, 2026-02-01) and end window [2025-03-01, 2026-03-01) hold the same buyers:
    # c01, c02, c05, c06, c07, c09 (c04's 2024-12 is in neither)
    assert (sums[Component.CUSTOMERS_AT_START], sums[Component.CUSTOMERS_AT_END]) == (6, 6)
    assert sums[Component.NEW_CUSTOMERS] == 0
    # base window [2025-03-01, 2026-03-01): those six; c07's review of 2025-02 is out, their purchase in
    assert sums[Component.CUSTOMERS] == 6
    assert values(february.metrics()) == {
        "satisfaction": 0.0,  # c06's latest is 3; c01's 5 comes in March
        "retention": 1.0,  # (6 - 0) / 6
        "average_check": None,
        "positive_review_share": 0.0,  # c06's 3 of 2026-02-01: 0 / 1
        "complaint_share": 0.0,
        "acceptance_rate": 1.0,  # d2 a1 accepted: 1 / 1
        "conversion_rate": 0.0,
        "revenue_per_decision": 0.0,  # 0 / 1
        "purchase_rate": 0.0,
        "revenue_per_customer": 0.0,
    }
    assert february.metrics()["average_check"].reason == "no orders in the period"


def test_an_empty_period_has_no_values_and_says_why():
    empty = compute(CUSTOMERS, Period(day("2030-01-01"), day("2030-02-01"))).overall.metrics()

    assert values(empty) == dict.fromkeys(empty)
    assert {name: m.reason for name, m in empty.items()} == {
        "satisfaction": "no customers",
        "retention": "no customers active at the period start",
        "average_check": "no orders in the period",
        "positive_review_share": "no reviews in the period",
        "complaint_share": "no customers",
        "acceptance_rate": "no action of the period's decisions has an outcome",
        "conversion_rate": "no action of the period's decisions has an outcome",
        "revenue_per_decision": "no decisions in the period",
        "purchase_rate": "no customers",
        "revenue_per_customer": "no customers",
    }


def test_a_quiet_period_has_customers_but_no_orders_reviews_or_decisions():
    # [2026-04-10, 2026-04-20): base window [2025-04-20, 2026-04-20): the same ten as in March (c07's 2025-05-01
    # is in). Active at the start [2025-04-10, 2026-04-10) and at the end [2025-04-20, 2026-04-20): the nine of
    # March's end but c08, whose order D was cancelled on 2026-04-05, before this period ends: 8 and 8
    quiet = compute(CUSTOMERS, Period(day("2026-04-10"), day("2026-04-20"))).overall

    sums = quiet.sums()
    assert (sums[Component.CUSTOMERS], sums[Component.CUSTOMERS_AT_START], sums[Component.CUSTOMERS_AT_END]) == (
        10,
        8,
        8,
    )
    metrics = quiet.metrics()
    assert values(metrics) == {
        # satisfaction is a level, not a flow: c01 and c03 are still satisfied
        "satisfaction": 2 / 10,
        "retention": 1.0,  # (8 - 0) / 8
        "average_check": None,
        "positive_review_share": None,
        "complaint_share": 0.0,
        "acceptance_rate": None,
        "conversion_rate": None,
        "revenue_per_decision": None,
        "purchase_rate": 0.0,
        "revenue_per_customer": 0.0,
    }
    assert metrics["positive_review_share"].reason == "no reviews in the period"


def test_a_cohort_counts_only_its_customers():
    no_decisions = {f"c{n:02d}" for n in range(1, 9)}  # c01..c08: no decisions

    by_set = compute(CUSTOMERS, MARCH, cohort=no_decisions).overall.metrics()
    by_predicate = compute(CUSTOMERS, MARCH).overall.metrics(lambda c: c in no_decisions)

    assert by_set == by_predicate
    # base: c01, c03..c08 = 7; orders c01, c03, c04, c08: 100 + 200 + 60 + 40 = 400
    assert by_set["average_check"].value == 400 / 4
    assert by_set["complaint_share"].value == 2 / 7
    assert by_set["revenue_per_decision"] == MetricValue(None, 0, 0, "no decisions in the period")


def test_funnels_by_family_channel_and_rule():
    actions = compute(CUSTOMERS, MARCH).actions

    # d1 a1: maintenance_due, email, r-boiler: delivered, converted 120
    # d1 a2: replenishment, sms, r-ink: delivered, dismissed
    # d3 a1: maintenance_due, sms, r-boiler: accepted
    # d3 a2: planned_purchase, pos, r-seat: no outcome
    assert funnels(actions, "family") == {
        "maintenance_due": Funnel(actions=2, contacted=2, accepted=2, converted=1, revenue=120),
        "planned_purchase": Funnel(actions=1),
        "replenishment": Funnel(actions=1, contacted=1),
    }
    assert funnels(actions, "channel") == {
        "email": Funnel(1, 1, 1, 1, 120),
        "pos": Funnel(1),
        "sms": Funnel(2, 2, 1, 0, 0),
    }
    by_rule = funnels(actions, "rule")
    assert list(by_rule) == ["r-boiler", "r-ink", "r-seat"]
    assert by_rule["r-boiler"].acceptance_rate.value == 1.0
    assert by_rule["r-boiler"].conversion_rate.value == 1 / 2
    assert by_rule["r-boiler"].revenue_per_action.value == 60
    assert by_rule["r-seat"].acceptance_rate.reason == "no action with an outcome"


def test_months_cut_a_period_at_calendar_months_and_tally_each():
    period = Period(day("2026-02-01"), day("2026-04-01"))

    computed = compute(CUSTOMERS, period)

    assert [t.period for t in computed.monthly] == [FEBRUARY, MARCH]
    assert [t.period.label for t in computed.monthly] == ["2026-02", "2026-03"]
    assert computed.monthly[1].metrics() == compute(CUSTOMERS, MARCH).overall.metrics()
    assert [p.label for p in months(Period(day("2026-01-15"), day("2026-03-10")))] == [
        "2026-01-15T00:00:00+00:00 .. 2026-02-01T00:00:00+00:00",
        "2026-02",
        "2026-03-01T00:00:00+00:00 .. 2026-03-10T00:00:00+00:00",
    ]
    assert months(Period(day("2025-12-01"), day("2026-01-01")))[0].label == "2025-12"


def test_a_period_must_end_after_it_starts_and_have_a_zone():
    with pytest.raises(ValueError, match="end after it starts"):
        Period(day("2026-03-01"), day("2026-03-01"))
    with pytest.raises(ValueError, match="time zone"):
        Period(day("2026-03-01").replace(tzinfo=None), day("2026-04-01"))


def test_read_from_a_store_the_metrics_are_the_same(tmp_path):
    store = fill(SqliteStore(tmp_path / "store.db"))
    try:
        from_store = compute(read_customers(store), MARCH)
        cohort = compute(read_customers(store, cohort={"c09", "c10"}), MARCH)
    finally:
        store.close()

    assert from_store.overall.metrics() == compute(CUSTOMERS, MARCH).overall.metrics()
    assert from_store.actions == compute(CUSTOMERS, MARCH).actions
    assert (from_store.customers_read, from_store.compacted_customers) == (12, 0)
    assert cohort.overall.customer_ids == ("c09", "c10")


def test_contacts_and_answers_to_them_do_not_put_a_customer_in_the_base():
    sent = Event(
        event_id="contact:d1:a1",
        customer_id="quiet",
        occurred_at=datetime(2026, 3, 10, tzinfo=UTC),
        payload=ContactMade(channel=Channel.EMAIL, decision_id="d1", action_id="a1"),
    )
    answered = Event(
        event_id="outcome:d1:a1:opened",
        customer_id="quiet",
        occurred_at=datetime(2026, 3, 11, tzinfo=UTC),
        payload=ContactOutcome(decision_id="d1", action_id="a1", outcome=Outcome.OPENED),
    )
    march = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))

    assert tally(CustomerRecord("quiet", (sent, answered)), march)[Component.CUSTOMERS] == 0
