"""The customer state: folded in pieces or at once, kept and read back, it gives the same facts,
and its size stays bounded however long the history."""

from __future__ import annotations

import msgspec
import pytest

from engine.events import Complaint, ContactOutcome, Event, Review
from engine.features.derive import Touch, facts_of
from engine.features.state import CustomerState, fold
from engine.features.timeline import timeline
from engine.features.windows import LONGEST_WINDOW_DAYS
from engine.vocabulary import Channel, Outcome
from tests.features.builders import AS_OF, CATALOGUE, bought, event, of


def _daily_history(days: int) -> list[Event]:
    """A purchase, a review, a complaint and a contact every day for `days` days up to AS_OF."""
    events = []
    for n in range(days):
        events += [
            bought(n, "coffee-beans-1kg", price=2),
            event(n, Review(rating=1 + n % 5)),
            event(n, Complaint(complaint_id=f"k{n}", state="opened")),
            event(n, ContactOutcome(decision_id=f"d{n}", action_id="a", outcome=Outcome.OPENED, channel=Channel.SMS)),
        ]
    return timeline(events, AS_OF)


def _facts(state: CustomerState) -> list[dict[str, object]]:
    return facts_of(state, CATALOGUE, AS_OF, Touch("web"))


def test_folding_in_pieces_and_through_the_kept_form_gives_the_facts_of_folding_at_once():
    history = _daily_history(40) + timeline([bought(0, "boiler-ecotherm-30", price=900)], AS_OF)
    whole = fold(history, CATALOGUE)

    pieces = fold(history[:50], CATALOGUE)
    for start in range(50, len(history), 17):
        pieces = fold(history[start : start + 17], CATALOGUE, CustomerState.decode(pieces.encode()))

    assert pieces == whole
    assert _facts(pieces) == _facts(whole)


def test_an_event_earlier_than_the_latest_folded_is_refused():
    late, early = timeline([bought(1, "coffee-beans-1kg"), bought(5, "coffee-beans-1kg")], AS_OF)[::-1]
    state = fold([late], CATALOGUE)

    with pytest.raises(ValueError, match="does not follow"):
        state.apply(early, CATALOGUE)


def test_a_damaged_kept_state_is_refused_rather_than_misread():
    with pytest.raises(msgspec.DecodeError):
        CustomerState.decode(b'{"basis": "1:x", "spend": {"purchases": "many"}}')


def test_daily_totals_stay_bounded_and_windows_stay_exact_over_years_of_daily_events():
    state = fold(_daily_history(3 * 365), CATALOGUE)
    customer = _facts(state)[0]["customer"]

    slack = 31  # days held beyond a window before the oldest are forgotten
    assert len(state.spend.daily.days) <= LONGEST_WINDOW_DAYS + slack
    assert len(state.reviews.negative.days) <= 90 + slack
    assert len(state.complaints.opened) <= 90 + slack
    assert len(state.contacts.by_action) <= LONGEST_WINDOW_DAYS + slack
    assert len(msgspec.json.encode(state)) < 50_000
    assert customer["purchases_last_365_days"] == 365
    assert customer["spent_last_365_days"] == 730
    assert customer["complaints_last_90_days"] == 90
    assert customer["contacts_last_30_days"] == 30
    assert customer["negative_reviews_last_90_days"] == 36  # ratings 1 and 2: two days in five
    assert customer["purchase_count"] == 3 * 365


def test_the_customers_cadence_is_the_median_of_their_latest_ten_gaps():
    # Eleven gaps of 30 days, then ten of 9 days: the median of all would be 30.
    moments = [430 - 30 * n for n in range(12)] + [100 - 9 * n for n in range(1, 11)]
    state = fold(timeline([bought(d, "coffee-beans-1kg") for d in moments], AS_OF), CATALOGUE)

    [coffee] = of({str(i): f for i, f in enumerate(_facts(state))}, "consumable")
    assert (coffee["days_per_unit"], coffee["cadence_source"]) == (9, "customer")
    assert coffee["days_since_purchase"] == 10
