"""Uplift against the control group: known differences found, no difference not invented, the same seed the same
interval; and the hash assignment the contact policy will share."""

from __future__ import annotations

import hashlib

import pytest

from engine.events import Review
from engine.metrics.assignment import CONTROL, TREATED, HashAssignment, unit_hash
from engine.metrics.compute import CustomerRecord, Period, Tallies, compute
from engine.metrics.definitions import METRIC_BY_NAME
from engine.metrics.uplift import uplift
from tests.metrics.dataset import bought, day, event

MARCH = Period(day("2026-03-01"), day("2026-04-01"))


def by_prefix(customer_id: str) -> str:
    return TREATED if customer_id.startswith("t") else CONTROL


def population(treated_buy_per_ten: int, control_buy_per_ten: int, size: int = 200) -> Tallies:
    """`size` customers per group, all bought last year; of each ten, the first so many buy 50 in March."""
    customers = []
    for prefix, per_ten in (("t", treated_buy_per_ten), ("c", control_buy_per_ten)):
        for n in range(size):
            customer = f"{prefix}{n:03d}"
            events = [bought(customer, "2025-09-01", (1, 50))]
            if n % 10 < per_ten:
                events.append(bought(customer, "2026-03-10", (1, 50)))
            customers.append(CustomerRecord(customer, tuple(events)))
    return compute(customers, MARCH).overall


def test_treated_customers_who_buy_more_show_an_uplift_whose_interval_excludes_zero():
    tallies = population(treated_buy_per_ten=6, control_buy_per_ten=3)

    found = {u.metric: u for u in uplift(tallies, by_prefix, replicates=1000, seed=7)}

    purchase = found["purchase_rate"]
    # 120 of 200 treated bought, 60 of 200 control: 0.6 - 0.3
    assert (purchase.treated.value, purchase.control.value) == (0.6, 0.3)
    assert purchase.difference == pytest.approx(0.3)
    assert purchase.relative == pytest.approx(1.0)
    assert purchase.low is not None and purchase.high is not None
    assert 0 < purchase.low < 0.3 < purchase.high
    assert purchase.excludes_zero
    assert (purchase.replicates, purchase.dropped) == (1000, 0)
    # revenue per customer: 120 x 50 / 200 - 60 x 50 / 200 = 30 - 15
    assert found["revenue_per_customer"].difference == pytest.approx(15)
    assert found["revenue_per_customer"].excludes_zero
    # every order is 50 in both groups: no difference in the average check, and none found
    assert found["average_check"].difference == 0
    assert not found["average_check"].excludes_zero


def test_groups_that_do_not_differ_get_an_interval_around_zero():
    tallies = population(treated_buy_per_ten=4, control_buy_per_ten=4)

    [purchase] = uplift(tallies, by_prefix, [METRIC_BY_NAME["purchase_rate"]], seed=7)

    assert purchase.difference == 0
    assert purchase.low is not None and purchase.high is not None
    assert purchase.low < 0 < purchase.high
    assert not purchase.excludes_zero


def test_the_same_seed_gives_the_same_interval_and_another_seed_another():
    tallies = population(treated_buy_per_ten=6, control_buy_per_ten=3, size=50)

    first = uplift(tallies, by_prefix, replicates=300, seed=11)
    again = uplift(tallies, by_prefix, replicates=300, seed=11)
    other = uplift(tallies, by_prefix, replicates=300, seed=12)

    assert first == again
    assert [(u.low, u.high) for u in first] != [(u.low, u.high) for u in other]


def test_a_metric_a_group_cannot_have_says_why():
    customers = [CustomerRecord("t1", (bought("t1", "2026-03-02", (1, 10)),)), *_reviewers()]

    found = {u.metric: u for u in uplift(compute(customers, MARCH).overall, by_prefix, replicates=200)}

    # the treated customer wrote no review in March: no share of positive reviews to compare
    assert found["positive_review_share"].reason == "treated: no reviews in the period"
    assert found["positive_review_share"].difference is None
    # the control group bought nothing: no average check
    assert found["average_check"].reason == "control: no orders in the period"
    only_treated = {u.metric: u for u in uplift(compute(customers[:1], MARCH).overall, by_prefix)}
    assert only_treated["purchase_rate"].reason == "no control customers"


def test_a_rare_event_leaves_out_the_replicates_without_it():
    # one control customer of twenty reviewed in March; the treated five all did
    customers = [*_reviewers(), *(_reviewer(f"t{n}", 5) for n in range(5))]

    [positive] = uplift(
        compute(customers, MARCH).overall,
        by_prefix,
        [METRIC_BY_NAME["positive_review_share"]],
        replicates=400,
    )

    # treated: 5 of 5 reviews positive; control: 0 of 1
    assert positive.difference == 1.0
    # a replicate draws none of the one reviewer with probability (19/20)^20, about 36%
    assert 0.25 < positive.dropped / 400 < 0.47
    assert positive.replicates + positive.dropped == 400


def test_bad_parameters_are_refused():
    tallies = population(1, 1, size=5)
    with pytest.raises(ValueError, match="replicates"):
        uplift(tallies, by_prefix, replicates=0)
    with pytest.raises(ValueError, match="confidence"):
        uplift(tallies, by_prefix, confidence=1.0)


def test_the_hash_assignment_is_sha256_of_salt_and_id_and_holds_out_its_share():
    expected = int.from_bytes(hashlib.sha256(b"s\x00c-1").digest()[:8], "big") / 2**64
    assert unit_hash("s", "c-1") == expected

    tenth = HashAssignment(0.1, salt="s")
    ids = [f"c-{n}" for n in range(10_000)]
    control = {i for i in ids if tenth(i) == CONTROL}

    assert 900 < len(control) < 1100
    assert control == {i for i in ids if HashAssignment(0.1, salt="s")(i) == CONTROL}  # stable
    assert control < {i for i in ids if HashAssignment(0.2, salt="s")(i) == CONTROL}  # a larger share keeps them
    assert control != {i for i in ids if HashAssignment(0.1, salt="t")(i) == CONTROL}  # a new salt reshuffles
    assert {HashAssignment(0.0)(i) for i in ids} == {TREATED}
    assert {HashAssignment(1.0)(i) for i in ids} == {CONTROL}
    with pytest.raises(ValueError, match="between 0 and 1"):
        HashAssignment(1.5)


def _reviewer(customer: str, rating: int) -> CustomerRecord:
    return CustomerRecord(customer, (event(customer, "2026-03-05", Review(rating=rating)),))


def _reviewers() -> list[CustomerRecord]:
    """Twenty control customers: one reviewed 2 in March, the others only bought last year."""
    return [
        _reviewer("c00", 2),
        *(CustomerRecord(f"c{n:02d}", (bought(f"c{n:02d}", "2025-09-01", (1, 10)),)) for n in range(1, 20)),
    ]
