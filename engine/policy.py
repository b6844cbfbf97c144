"""The contact policy: what business users decide about ranking, eligibility, diversity and
hold-outs, in `rules/policy.yaml`, validated and hot-reloaded with the rules.

Rules say what could be done; the policy decides what is done now:

- `priority`: an action's score is priority x value x propensity (the response model)
  x its business levers (per rule, family and offer) x the context weights that apply;
- `eligibility`: consent per channel (a channel the customer withdrew or unsubscribed
  from is not used, unless they are on it now), account statuses never contacted,
  offer validity windows, and offers the caller says are
  unavailable (out of stock) in a context key;
- `diversity`: at most so many actions per subject (asset, consumable...) and per family;
- `contact`: frequency caps per channel (at most N contacts in D days), cooldowns per
  action and per family, each channel's daily capacity (shared by every replica), quiet
  hours in the customer's own time zone (an outbound action due in them is sent when
  they end), the send hour learnt from when the customer answers, and suppression for
  some days after a complaint (all but problem prevention) or after the customer
  dismissed the same action;
- `control`: a deterministic share of customers, per family if wished, held out: their
  actions are decided and logged, not returned, so that uplift can be measured.

A folder without `policy.yaml` has the default policy: consent respected, one action
per subject, no lever, no hold-out.
"""

from __future__ import annotations

from datetime import date, time
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.catalogue import Slug
from engine.features.customer import KEPT_PER_CHANNEL, KEPT_RESPONSE_TIMES, SENT_MEMORY_DAYS
from engine.metrics.assignment import DEFAULT_SALT, unit_hash
from engine.vocabulary import Channel, Family

POLICY_FILE = "policy.yaml"
Multiplier = Annotated[float, Field(gt=0, le=100)]
Share = Annotated[float, Field(ge=0, le=1)]
Days = Annotated[float, Field(ge=0, le=SENT_MEMORY_DAYS)]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Levers(_Entry):
    """Business multipliers of an action's score, by the rule, family and offer behind it; 1 if absent."""

    rules: dict[str, Multiplier] = {}
    families: dict[Family, Multiplier] = {}
    offers: dict[str, Multiplier] = {}


class ContextWeight(_Entry):
    """Multiplies the score of every action of a request whose context has `key` equal to `value`."""

    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    value: str
    weight: Multiplier


class Priority(_Entry):
    levers: Levers = Levers()
    context_weights: list[ContextWeight] = []


class OfferWindow(_Entry):
    """An offer proposed only from `valid_from` to `valid_until` (dates in UTC, both included)."""

    offer: Slug
    valid_from: date | None = None
    valid_until: date | None = None


class Eligibility(_Entry):
    respect_consent: bool = True
    # Profile statuses (customer.status) never contacted: nothing is sent, only shown where they are now.
    excluded_statuses: list[Annotated[str, Field(min_length=1, max_length=64)]] = []
    offers: list[OfferWindow] = []
    # A request context key listing unavailable offer ids, comma-separated (e.g. stock outs).
    unavailable_offers_key: Annotated[str, Field(pattern=r"^([a-z][a-z0-9_]{0,31})?$")] = ""


class Diversity(_Entry):
    per_subject: Annotated[int, Field(ge=1)] = 1
    per_family: Annotated[int, Field(ge=1)] | None = None


class QuietHours(_Entry):
    """Local times between which nothing is sent; `start` after `end` spans midnight (21:00 to 08:00)."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


class FrequencyCap(_Entry):
    """At most `at_most` contacts on these channels, together, in any `days` days (a rolling window)."""

    channels: Annotated[list[Channel], Field(min_length=1)]
    at_most: Annotated[int, Field(ge=0, le=KEPT_PER_CHANNEL)]
    days: Annotated[float, Field(gt=0, le=SENT_MEMORY_DAYS)]


class Cooldown(_Entry):
    """Days after an action was sent before it is sent again, and per family before another of the family is."""

    action_days: Days = 0
    families: dict[Family, Days] = {}


class SendTime(_Entry):
    """Outbound actions go at the local hour the customer has most often opened, accepted or converted
    at, once they have done so `min_responses` times, if that hour comes within `max_delay_hours`."""

    learn_from_responses: bool = True
    min_responses: Annotated[int, Field(ge=1, le=KEPT_RESPONSE_TIMES)] = 3
    max_delay_hours: Annotated[int, Field(ge=1, le=72)] = 24


class Contact(_Entry):
    caps: list[FrequencyCap] = []
    cooldown: Cooldown = Cooldown()
    # The most actions each channel may be given a day (a call centre's calls), across every replica;
    # days are those of `default_time_zone`.
    capacity: dict[Channel, Annotated[int, Field(ge=0)]] = {}
    send_time: SendTime = SendTime()
    quiet_hours: QuietHours | None = None
    # The time zone of customers whose profile gives none.
    default_time_zone: str = "UTC"
    suppress_after_complaint_days: Annotated[float, Field(ge=0, le=3650)] = 0
    suppress_after_dismissal_days: Annotated[float, Field(ge=0, le=3650)] = 0

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}; expected a name like Europe/Paris") from None
        return name


class Control(_Entry):
    """Who is held out: `share` of customers, or the share of a family where `families` gives one."""

    share: Share = 0.0
    families: dict[Family, Share] = {}
    salt: Annotated[str, Field(min_length=1, max_length=128)] = DEFAULT_SALT

    def holds_out(self, customer_id: str, family: Family) -> bool:
        """Deterministic: the same customer, salt and share give the same answer on every replica."""
        share = self.families.get(family, self.share)
        return share > 0 and unit_hash(self.salt, customer_id) < share


class Policy(_Entry):
    priority: Priority = Priority()
    eligibility: Eligibility = Eligibility()
    diversity: Diversity = Diversity()
    contact: Contact = Contact()
    control: Control = Control()

    def lever(self, rule_id: str, family: Family, offer_id: str) -> float:
        levers = self.priority.levers
        return levers.rules.get(rule_id, 1.0) * levers.families.get(family, 1.0) * levers.offers.get(offer_id, 1.0)

    def offer_window(self, offer_id: str) -> OfferWindow | None:
        return next((w for w in self.eligibility.offers if w.offer == offer_id), None)
