"""Rules in words: each operator, nesting and the action read as a business user would say them."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from engine.ruleset.describe import describe_condition, describe_then, describe_value, describe_when
from engine.ruleset.schema import Condition, Node, Then

NODE: TypeAdapter[Node] = TypeAdapter(Node)


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ({"fact": "asset.category", "equals": "boiler"}, "asset category is boiler"),
        ({"fact": "event.state", "not_equals": "delayed"}, "event state is not delayed"),
        ({"fact": "event.rating", "greater_than": 3}, "event rating is more than 3"),
        (
            {"fact": "category.days_since_last_purchase", "at_least": 60},
            "category days since last purchase is at least 60",
        ),
        ({"fact": "event.days_ago", "less_than": 2.5}, "event days ago is less than 2.5"),
        ({"fact": "event.days_ago", "at_most": 3.0}, "event days ago is at most 3"),
        ({"fact": "asset.days_until_service", "between": [-60, 30]}, "asset days until service is between -60 and 30"),
        ({"fact": "context.store", "in": ["s1", "s2"]}, "context store is one of s1, s2"),
        ({"fact": "follow_on.then_purchases", "not_in": [1, 2]}, "follow on then purchases is not one of 1, 2"),
        ({"fact": "asset.name", "exists": True}, "asset name is present"),
        ({"fact": "customer.days_since_last_purchase", "exists": False}, "customer days since last purchase is absent"),
        ({"fact": "event.text", "contains": "broken"}, "event text contains “broken”"),
        ({"fact": "event.text", "starts_with": "The box"}, "event text starts with “The box”"),
        ({"fact": "event.text", "ends_with": "!"}, "event text ends with “!”"),
        ({"fact": "asset.product_id", "matches": "boiler-*"}, "asset product id matches “boiler-*”"),
        ({"fact": "customer.first_name", "equals": "Ada Lovelace"}, "customer first name is “Ada Lovelace”"),
    ],
)
def test_each_operator_reads_as_words(condition, words):
    assert describe_condition(Condition.model_validate(condition)) == words


@pytest.mark.parametrize(
    ("value", "words"),
    [(120.0, "120"), (0.25, "0.25"), (-60, "-60"), ("heat_pump", "heat_pump"), ("", "“”"), (None, "none")],
)
def test_values_read_as_written(value, words):
    assert describe_value(value) == words


def test_a_lone_condition_is_the_whole_when():
    assert describe_when(NODE.validate_python({"fact": "asset.name", "exists": True})) == "asset name is present"


def test_a_top_level_group_is_a_list_and_nested_groups_are_bracketed():
    when = NODE.validate_python(
        {
            "all": [
                {"fact": "event.kind", "equals": "review"},
                {"any": [{"fact": "event.text", "contains": "broken"}, {"fact": "event.rating", "at_most": 2}]},
                {
                    "not": {
                        "all": [
                            {"fact": "context.store", "in": ["s1", "s2"]},
                            {"fact": "event.days_ago", "at_least": 7},
                        ]
                    }
                },
            ]
        }
    )

    assert describe_when(when) == (
        "all of: event kind is review; "
        "any of (event text contains “broken”; event rating is at most 2); "
        "not (all of (context store is one of s1, s2; event days ago is at least 7))"
    )
    assert describe_when(when, nested=True).startswith("all of (event kind is review; any of (")


@pytest.mark.parametrize(
    ("group", "words"),
    [
        (
            {"any": [{"fact": "event.rating", "equals": 1}, {"fact": "event.rating", "equals": 2}]},
            "any of: event rating is 1; event rating is 2",
        ),
        ({"not": {"fact": "event.kind", "equals": "review"}}, "not: event kind is review"),
    ],
)
def test_any_and_not_at_the_top(group, words):
    assert describe_when(NODE.validate_python(group)) == words


@pytest.mark.parametrize(
    ("then", "words"),
    [
        (
            {"offer": "boiler-service-booking", "value": 120, "priority": 5, "channels": ["email", "sms", "pos"]},
            "offer boiler-service-booking, value 120, priority 5, on email, sms or pos, valid 30 days",
        ),
        (
            {"offer": "care-call", "value": 19.5, "channels": ["call_centre", "email"], "valid_for_days": 1},
            "offer care-call, value 19.5, priority 1, on call centre or email, valid 1 day",
        ),
        (
            {"offer": "ink-refill", "value": 35.0, "channels": ["web"], "valid_for_days": 14},
            "offer ink-refill, value 35, priority 1, on web, valid 14 days",
        ),
    ],
)
def test_the_action_reads_as_one_phrase(then, words):
    assert describe_then(Then.model_validate(then)) == words
