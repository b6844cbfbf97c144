"""The one feature-assembly function: fact fields in, model rows out, the same for training and serving."""

from __future__ import annotations

import numpy as np
import pytest

from engine.events import ContactOutcome
from engine.features.derive import Touch, derive_facts
from engine.models.features import MISSING, Feature, FeatureSchema, feature_rows, validate_schema
from engine.models.synthetic import population
from engine.vocabulary import Channel, Outcome
from tests.features.builders import AS_OF, CATALOGUE, bought, event
from tests.models.conftest import SCHEMAS


def _facts(*events):
    return derive_facts(events, CATALOGUE, AS_OF, Touch("pos"))


def _named(schema, rows, key):
    return dict(zip(schema.names, rows.matrix[rows.keys.index(key)].tolist(), strict=True))


def test_every_model_reads_only_fields_the_engine_derives():
    for schema in SCHEMAS.values():
        assert validate_schema(schema) == []


def test_a_renamed_field_is_caught():
    schema = FeatureSchema("customer", (Feature("x", "number", "customer.days_since_last_purchace"),))

    assert validate_schema(schema) == ["x: customer.days_since_last_purchace is not a fact field"]


def test_category_rows_carry_the_customer_and_the_category_fields():
    facts = _facts(bought(10, "coffee-beans-1kg", price=16), bought(40, "coffee-beans-1kg"), bought(5, "ink-305-black"))
    schema = SCHEMAS["next_purchase"]

    rows = feature_rows(schema, facts)
    coffee = _named(schema, rows, "coffee")

    assert sorted(rows.keys) == ["coffee", "printer_ink"]
    assert coffee["category.purchase_count"] == 2
    assert coffee["category.days_since_last_purchase"] == 10
    assert coffee["customer.days_since_last_purchase"] == 5
    assert coffee["category.name=coffee"] == 1 and coffee["category.name=printer_ink"] == 0
    assert rows.matrix.dtype == np.float32


def test_channel_rows_read_each_channel_response_rate_and_mark_absent_ones():
    replies = [
        event(20, ContactOutcome(decision_id="d1", action_id="a", outcome=Outcome.ACCEPTED, channel=Channel.SMS)),
        event(50, ContactOutcome(decision_id="d2", action_id="a", outcome=Outcome.DISMISSED, channel=Channel.SMS)),
    ]
    schema = SCHEMAS["response"]

    rows = feature_rows(schema, _facts(bought(3, "coffee-beans-1kg"), *replies))

    assert rows.keys == [c.value for c in Channel]
    assert _named(schema, rows, "sms")["customer.{channel}_response_rate"] == 0.5
    assert _named(schema, rows, "email")["customer.{channel}_response_rate"] == MISSING
    assert _named(schema, rows, "email")["channel.name=email"] == 1
    assert _named(schema, rows, "email")["channel.name=sms"] == 0


def test_a_customer_without_purchases_has_absent_recency_and_no_category_rows():
    facts = _facts(event(3, ContactOutcome(outcome=Outcome.OPENED, channel=Channel.EMAIL)))

    churn = feature_rows(SCHEMAS["churn"], facts)

    assert _named(SCHEMAS["churn"], churn, "customer")["customer.days_since_last_purchase"] == MISSING
    assert feature_rows(SCHEMAS["next_purchase"], facts).keys == []


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_the_schema_digest_survives_the_card_round_trip(name):
    schema = SCHEMAS[name]

    assert FeatureSchema.from_document(schema.document()).digest == schema.digest


def _plain_value(feature, row_key, customer, row_fact):
    """One column read the plain way, field by field: what the planned rows must equal."""
    if feature.kind == "one_hot":
        value = row_key if feature.source == "channel.name" else _read(row_fact, feature.source)
        return 1.0 if value == feature.value else 0.0
    source = feature.source.replace("{channel}", row_key)
    found = _read(row_fact if source.startswith("category.") else customer, source)
    return MISSING if found is None else float(found)


def _read(fact, name):
    prefix, _, key = name.partition(".")
    return fact.get(prefix, {}).get(key)


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_rows_equal_a_plain_reading_of_every_column_for_generated_customers(name):
    schema = SCHEMAS[name]
    histories = population(AS_OF, 60, seed=3)
    compared = 0

    for history in histories:
        facts = derive_facts(history, CATALOGUE, AS_OF, Touch(None))
        rows = feature_rows(schema, facts)
        customer = next(f for f in facts if f["subject"] == "customer")
        by_key = {str(f["category"]["name"]): f for f in facts if f["subject"] == "category"}
        for key, row in zip(rows.keys, rows.matrix.tolist(), strict=True):
            row_fact = by_key.get(key, customer)
            plain = [_plain_value(f, key, customer, row_fact) for f in schema.features]
            assert row == np.array(plain, dtype=np.float32).tolist(), (name, key)
            compared += 1

    assert compared >= 60


def test_category_rows_from_category_fields_equal_those_from_category_facts():
    facts = _facts(bought(10, "coffee-beans-1kg", price=16), bought(40, "coffee-beans-1kg"), bought(5, "ink-305-black"))
    schema = SCHEMAS["next_purchase"]
    customer_only = [f for f in facts if f["subject"] == "customer"]
    fields = [f["category"] for f in facts if f["subject"] == "category"]

    from_facts = feature_rows(schema, facts)
    from_fields = feature_rows(schema, customer_only, fields)

    assert from_fields.keys == from_facts.keys
    assert from_fields.matrix.tobytes() == from_facts.matrix.tobytes()
