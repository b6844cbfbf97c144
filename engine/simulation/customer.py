"""A simulated customer's latent state: what they own, use up, will need next, and what went wrong.

Forestall never sees this state, only the events it produces. A contact is judged
against it: `need_named` reads which need an action is about from the facts its rule
matched, and `Customer.need` says how well timed the action is for that need now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.catalogue import Product
from engine.simulation.market import Goods

ASSET, SUPPLY, FOLLOW_ON, GRIEVANCE = "asset", "supply", "follow_on", "grievance"
# The fact that names what an action is about, the first found in this order, and the kind of need it is.
NEED_FACTS = (
    ("follow_on.then_category", FOLLOW_ON),
    ("consumable.category", SUPPLY),
    ("category.name", SUPPLY),
    ("asset.category", ASSET),
    ("event.kind", GRIEVANCE),
)


@dataclass(frozen=True)
class Need:
    kind: str  # ASSET, SUPPLY, FOLLOW_ON or GRIEVANCE
    category: str  # a product category, or for a grievance the kind of event behind it


def need_named(matched_facts: Mapping[str, str]) -> Need | None:
    """The need an action addresses, read from the facts its rule matched; None when they name none."""
    return next((Need(kind, matched_facts[name]) for name, kind in NEED_FACTS if matched_facts.get(name)), None)


def timeliness(days_ahead: float, soon: float, far: float) -> float:
    """1 for a need due within `soon` days (or overdue), falling to 0 for one `far` days off."""
    if days_ahead <= soon:
        return 1.0
    return max(0.0, (far - days_ahead) / (far - soon))


@dataclass
class Supply:
    """A consumable the customer uses up at their own pace; `cycle` counts refills, so stale plans are ignored."""

    product: Product
    goods: Goods
    days_per_unit: float
    runs_out: float = 0.0
    cycle: int = 0
    lost: bool = False  # buys it elsewhere now

    def need(self, day: int) -> float:
        return 0.0 if self.lost else timeliness(self.runs_out - day, 10, 30)


@dataclass
class OwnedAsset:
    """An asset wearing towards its next service, due at `due` (by time or by its meter, whichever first)."""

    product: Product
    goods: Goods
    bought: float
    run_hours_per_day: float = 0.0  # for assets serviced by usage too
    last_service: float = 0.0
    due: float = 0.0
    cycle: int = 0
    booked: bool = False  # a visit is booked: nothing more to remind

    def need(self, day: int) -> float:
        if self.booked or self.product.service_interval_days is None:
            return 0.0
        return timeliness(self.due - day, 45, 120)

    def meter(self, day: int) -> float:
        return round(self.run_hours_per_day * (day - self.bought), 1)


@dataclass
class FollowOnNeed:
    """Something the customer will want about `due`: bought from us, elsewhere, or after a well-timed offer."""

    goods: Goods
    due: float
    done: bool = False

    def need(self, day: int) -> float:
        return 0.0 if self.done else timeliness(self.due - day, 45, 120)


@dataclass
class Grievance:
    """A delayed order or a bad review, open until handled or until it turned into a complaint."""

    kind: str  # the event kind behind it: order_status or review
    opened: int
    open: bool = True

    def need(self, day: int) -> float:
        return 1.0 if self.open else 0.0


Item = Supply | OwnedAsset | FollowOnNeed | Grievance


@dataclass
class Customer:
    """One simulated customer: what they own and use up, what they will need, and when they were contacted."""

    index: int
    customer_id: str
    taste: float  # their own readiness to respond to contact, in log-odds
    time_zone: str
    supplies: list[Supply] = field(default_factory=list)
    assets: list[OwnedAsset] = field(default_factory=list)
    follow_ons: list[FollowOnNeed] = field(default_factory=list)
    grievances: list[Grievance] = field(default_factory=list)
    contacts: list[int] = field(default_factory=list)  # days they were contacted
    events: int = 0

    def next_event_id(self) -> str:
        self.events += 1
        return f"{self.customer_id}-{self.events}"

    def need(self, need: Need | None, day: int) -> tuple[float, Item | None]:
        """How well timed help with `need` is today (0 to 1), and the item it would help with."""
        if need is None:
            return 0.0, None
        items: list[Item] = []
        if need.kind == SUPPLY:
            items = [s for s in self.supplies if s.goods.category == need.category]
        elif need.kind == ASSET:
            items = [a for a in self.assets if a.goods.category == need.category]
        elif need.kind == FOLLOW_ON:
            items = [f for f in self.follow_ons if f.goods.category == need.category]
        elif need.kind == GRIEVANCE:
            items = [g for g in self.grievances if g.kind == need.category]
        best = max(items, key=lambda item: item.need(day), default=None)
        return (best.need(day), best) if best is not None else (0.0, None)

    def contacted(self, day: int, window: int) -> int:
        """Contacts in the last `window` days, keeping only those."""
        self.contacts = [d for d in self.contacts if d > day - window]
        return len(self.contacts)
