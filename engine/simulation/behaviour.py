"""How simulated customers live and respond: every knob of the population model, with its default.

Rates are per day unless said otherwise; satisfaction runs from 0 to 1. The defaults
give a population where well-timed help is worth having and pestering costs
something; tests and benchmarks change single knobs with `dataclasses.replace`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.vocabulary import Channel


def _channel_log_odds() -> dict[Channel, float]:
    # How readily a contact on each channel is answered, before the customer's taste and need.
    return {
        Channel.EMAIL: -1.6,
        Channel.SMS: -0.9,
        Channel.PUSH: -2.2,
        Channel.POS: -0.2,
        Channel.WEB: -0.8,
        Channel.CALL_CENTRE: 0.3,
        Channel.MAIL: -2.0,
    }


@dataclass(frozen=True)
class Behaviour:
    """The population model's parameters (the module's docstring says how to read them)."""

    # --- who they are
    joining_share: float = 0.1  # customers whose first purchase falls inside the simulated period
    history_days: int = 700  # how far back the history of the others goes
    satisfaction_mean: float = 0.72  # the level customers drift back to, on average
    satisfaction_spread: float = 0.1
    satisfaction_drift: float = 0.02  # share of the gap to their own level closed each day
    consumables_owned: tuple[int, ...] = (0, 1, 1, 2, 2, 3)  # how many consumables a newcomer uses, drawn from
    asset_owner_share: float = 0.5  # of newcomers with an asset
    follow_on_buyer_share: float = 0.15  # of newcomers buying something a purchase follows (a stroller, a tent)
    new_item_rate: float = 1 / 500  # chance a day of buying something new to own (an asset, a stroller...)

    # --- churn: hazard x exp(slope x (mean - satisfaction)); churned customers do nothing more
    churn_hazard: float = 0.0006
    churn_satisfaction_slope: float = 8.0

    # --- consumables
    reorder_on_time_share: float = 0.5  # of refills a customer remembers before running out
    forgetful_delay_days: float = 14.0  # mean days out of stock for the others
    lost_per_day_out: float = 0.03  # chance, per day out of stock, they buy it elsewhere from then on
    satisfaction_per_day_out: float = 0.008

    # --- assets
    self_service_share: float = 0.45  # of services a customer books on their own, near the due date
    breakdown_after_days: float = 60.0  # mean days past due until a neglected asset breaks down
    breakdown_satisfaction: float = 0.3

    # --- follow-on purchases
    follow_on_self_share: float = 0.35  # of follow-on needs bought from us unprompted; the rest go elsewhere

    # --- orders, reviews and grievances
    web_share: float = 0.4
    delay_share: float = 0.08  # of web orders reported delayed the next day
    review_share: float = 0.12  # of purchases reviewed a few days later
    damaged_share: float = 0.02  # of reviews saying the item arrived damaged
    grievance_days: int = 4  # a delay or a bad review left that long without help...
    grievance_complaint: float = 0.5  # ...turns into a complaint with this chance
    grievance_satisfaction: float = 0.12  # lost when a grievance arises, given back when it is handled

    # --- responses to contact: log-odds of accepting
    channel_log_odds: dict[Channel, float] = field(default_factory=_channel_log_odds)
    taste_spread: float = 1.0  # each customer's own readiness to respond
    need_log_odds: float = 3.5  # an action meeting a real need at the right time
    satisfaction_log_odds: float = 2.0  # x (satisfaction - mean)
    fatigue_log_odds: float = 0.3  # per contact in the last `fatigue_days`
    fatigue_days: int = 30
    conversion_share: float = 0.75  # of acceptances of a purchasable need that convert there and then
    help_satisfaction: float = 0.1  # gained when a contact meets a need (x how well timed it was)
    irrelevant_satisfaction: float = 0.02  # lost when a contact meets no need
    complaint_log_odds: float = -6.0  # a complaint about the contact, raised by fatigue and irrelevance
    unsubscribe_log_odds: float = -5.0
    dismiss_share: float = 0.3  # of contacts not accepted, dismissed rather than ignored
