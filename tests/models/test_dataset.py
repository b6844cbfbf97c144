"""Training rows: the response model describes the customer at the moment of each contact, its
decision's time when the store holds the decision, with labels that never read past the split."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import numpy as np

from engine.events import ContactOutcome, Event, LineItem, Purchase
from engine.features.derive import Touch, derive_facts
from engine.models.dataset import ExampleBuilder, TrainingPeriod
from engine.models.features import feature_rows
from engine.models.sources import from_store
from engine.store.base import StoredDecision
from engine.store.sqlite import SqliteStore
from engine.vocabulary import Channel, Outcome
from tests.models.conftest import CATALOGUE, PERIOD, SCHEMAS

RESPONSE = {"response": SCHEMAS["response"]}
VALIDATION = PERIOD.validation_cutoff
SLOT = PERIOD.training_cutoffs[-1]  # contacts made in the 30 days after it are rows of this cutoff
_ids = itertools.count()


def _at(moment: datetime, payload: object) -> Event:
    return Event(event_id=f"e{next(_ids):04d}", customer_id="c", occurred_at=moment, payload=payload)


def _bought(moment: datetime) -> Event:
    return _at(moment, Purchase(items=[LineItem(product_id="coffee-beans-1kg", quantity=1, unit_price=16)]))


def _outcome(moment: datetime, decision: str, outcome: Outcome, channel: Channel = Channel.SMS) -> Event:
    return _at(moment, ContactOutcome(decision_id=decision, action_id="a", outcome=outcome, channel=channel))


def _response_rows(histories, period=PERIOD, decided_at=None):
    builder = ExampleBuilder(CATALOGUE, period, RESPONSE)
    for events in histories:
        builder.add_customer(events, decided_at)
    return builder.examples()["response"]


def _column(name: str) -> int:
    return SCHEMAS["response"].names.index(name)


def test_a_response_row_describes_the_customer_just_before_the_contact():
    contact = SLOT + timedelta(days=12)
    history = [
        _bought(SLOT - timedelta(days=40)),
        _outcome(SLOT - timedelta(days=100), "d0", Outcome.DISMISSED),  # an earlier sms contact, before any cutoff
        _bought(SLOT + timedelta(days=5)),  # after the cutoff, before the contact: the customer had bought
        _outcome(contact, "d1", Outcome.ACCEPTED),  # the contact, dated by its first outcome
    ]

    rows = _response_rows([history])

    before = derive_facts([e for e in history if e.occurred_at < contact], CATALOGUE, contact, Touch(None))
    expected = feature_rows(SCHEMAS["response"], before)
    [row] = rows.x
    assert row.tobytes() == expected.matrix[expected.keys.index("sms")].tobytes()
    assert row[_column("customer.days_since_last_purchase")] == 7  # not 45, as at the cutoff
    assert row[_column("customer.{channel}_response_rate")] == 0  # its own acceptance is not read
    assert rows.y.tolist() == [1.0]
    assert rows.cutoff.tolist() == [len(PERIOD.training_cutoffs) - 1]


def test_a_contact_answered_after_the_horizon_is_a_no():
    made = SLOT + timedelta(days=3)
    history = [
        _bought(SLOT - timedelta(days=10)),
        _outcome(made, "d1", Outcome.DELIVERED),
        _outcome(made + timedelta(days=PERIOD.horizon_days, hours=1), "d1", Outcome.ACCEPTED),
        _outcome(made + timedelta(days=1), "d2", Outcome.DELIVERED, Channel.EMAIL),
        _outcome(made + timedelta(days=2), "d2", Outcome.CONVERTED, Channel.EMAIL),
    ]

    rows = _response_rows([history])

    assert rows.y.tolist() == [0.0, 1.0]  # sms, answered a month and an hour later; email, the next day


def test_a_contact_is_dated_by_its_decision_when_the_store_holds_it(tmp_path):
    decided = SLOT + timedelta(days=4)
    history = [
        _bought(SLOT - timedelta(days=30)),
        _bought(decided + timedelta(days=1)),  # between the decision and its first outcome
        _outcome(decided + timedelta(days=2), "d1", Outcome.DELIVERED),
        _outcome(decided + timedelta(days=6), "d1", Outcome.ACCEPTED),
    ]
    store = SqliteStore(tmp_path / "history.db")
    store.ingest(history)
    store.save_decision(StoredDecision("d1", "c", decided, "rules", "", {"a": {"channel": "sms"}}))
    store.close()

    from_the_store = from_store(str(tmp_path / "history.db"), 10_000, CATALOGUE, PERIOD, RESPONSE).examples["response"]
    without_decisions = _response_rows([history])

    since_purchase = _column("customer.days_since_last_purchase")
    assert from_the_store.x[0, since_purchase] == 34  # at the decision: the purchase after it is not known
    assert without_decisions.x[0, since_purchase] == 1  # at the first outcome, the day after that purchase
    assert from_the_store.y.tolist() == without_decisions.y.tolist() == [1.0]


def test_no_training_label_reads_past_the_validation_cutoff():
    # A horizon of 60 days: contacts in the last training slot would be judged on days after the split.
    period = TrainingPeriod(PERIOD.until, horizon_days=60, days_cap=60)
    validation = period.validation_cutoff
    history = [
        _bought(validation - timedelta(days=200)),
        _outcome(validation - timedelta(days=70), "early", Outcome.ACCEPTED),  # label window ends before the split
        _outcome(validation - timedelta(days=10), "late", Outcome.DELIVERED),  # its window runs past the split
        _outcome(validation + timedelta(days=5), "late", Outcome.ACCEPTED),
        _outcome(validation + timedelta(days=10), "held", Outcome.ACCEPTED),  # a validation row
    ]

    rows = _response_rows([history], period)

    validation_index = len(period.cutoffs) - 1
    # "early" is a row of the cutoff 90 days before the split; "late" is no row; "held" is validation's.
    assert period.cutoffs[validation_index - 2] == validation - timedelta(days=90)
    assert rows.cutoff.tolist() == [validation_index - 2, validation_index]
    assert rows.y.tolist() == [1.0, 1.0]
    assert np.all(rows.x[:, _column("channel.name=sms")] == 1)
