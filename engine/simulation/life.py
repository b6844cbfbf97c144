"""The simulated population's life, one day at a time: what each customer does, and what contact changes.

`World.live(day)` runs a day: satisfaction drifts back to each customer's own level,
some customers churn (more the less satisfied they are; never before day 0), some buy
something new to own, and the tasks due that day happen: refills, service visits,
breakdowns, follow-on purchases, meter readings, reviews, order delays and grievances
turning into complaints. What customers do becomes events, taken with `drain`.
`World.answer` applies a response to contact: a purchase, a booked visit, a handled
grievance, a complaint or an unsubscription.

Days before 0 are the history Forestall is given before the simulation starts:
customers join on a day of their own and live as they will later, but for churn.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from engine.catalogue import Catalogue, Product
from engine.decision.types import Action
from engine.events import (
    Complaint,
    Event,
    LineItem,
    OrderStatus,
    Payload,
    ProfileUpdate,
    Purchase,
    Review,
    ServiceVisit,
    UsageReading,
)
from engine.simulation.behaviour import Behaviour
from engine.simulation.calendar import AFTERNOON, Agenda, Clock
from engine.simulation.customer import Customer, FollowOnNeed, Grievance, OwnedAsset, Supply
from engine.simulation.market import Goods, Market
from engine.simulation.response import Response, respond
from engine.vocabulary import Channel, Outcome

TIME_ZONES = ("Europe/Paris", "Europe/London", "Europe/Berlin", "Europe/Madrid")
CONSENTED = [Channel.EMAIL, Channel.SMS, Channel.PUSH]
METER_READING_DAYS = 30
ORDER_CHANNELS = (Channel.POS, Channel.WEB)


@dataclass(frozen=True)
class Task:
    """Something due on a day: `kind` names the handler, `cycle` the refill or service it belongs to."""

    kind: str
    customer: int
    item: object = None
    cycle: int = 0


class World:
    """The population, its latent state and its agenda, living one day per `live` call."""

    def __init__(
        self, customers: int, days: int, catalogue: Catalogue, clock: Clock, seed: int, behaviour: Behaviour
    ) -> None:
        self.behaviour = behaviour
        self.clock = clock
        self.market = Market(catalogue)
        self.rng = random.Random(seed)
        self.draws = np.random.default_rng(seed)
        self.agenda: Agenda[Task] = Agenda()
        self.pending: list[Event] = []
        # Customers who came to us today (bought, had a visit, wrote...): when last, and on which channel.
        self.touched: dict[int, tuple[datetime, Channel | None]] = {}
        spread = behaviour.satisfaction_spread
        self.level = np.clip(self.draws.normal(behaviour.satisfaction_mean, spread, customers), 0, 1)
        self.satisfaction = self.level.copy()
        self.alive = np.ones(customers, dtype=bool)
        self.joined = np.zeros(customers, dtype=bool)
        self.customers = [self._newcomer(index, customers, days) for index in range(customers)]

    def _newcomer(self, index: int, total: int, days: int) -> Customer:
        """A customer joining on a day of the history, or for `joining_share` of them, of the simulation."""
        b, rng = self.behaviour, self.rng
        joins = rng.randrange(days) if rng.random() < b.joining_share else -rng.randint(30, b.history_days)
        taste, time_zone = rng.gauss(0, b.taste_spread), rng.choice(TIME_ZONES)
        self.agenda.add(joins, Task("join", index))
        return Customer(index, f"sim-{index:0{len(str(total - 1))}d}", taste, time_zone)

    # ---- a day ------------------------------------------------------------------------------------

    def live(self, day: int) -> None:
        b = self.behaviour
        self.satisfaction += (self.level - self.satisfaction) * b.satisfaction_drift
        active = self.alive & self.joined
        if day >= 0:
            hazard = b.churn_hazard * np.exp(b.churn_satisfaction_slope * (b.satisfaction_mean - self.satisfaction))
            self.alive &= ~(active & (self.draws.random(len(self.customers)) < hazard))
            active = self.alive & self.joined
        for index in np.flatnonzero(active & (self.draws.random(len(self.customers)) < b.new_item_rate)):
            self._buy_something_new(self.customers[index], day)
        for task in self.agenda.take(day):
            if task.kind == "join" or self.alive[task.customer]:
                getattr(self, f"_on_{task.kind}")(self.customers[task.customer], day, task)

    def drain(self) -> list[Event]:
        """The events customers caused since the last call."""
        events, self.pending = self.pending, []
        return events

    def take_touched(self) -> dict[int, tuple[datetime, Channel | None]]:
        touched, self.touched = self.touched, {}
        return touched

    def answer(self, customer: Customer, action: Action, day: int, at: datetime) -> tuple[Response, float]:
        """The customer's response to an action shown to them at `at`, its effects, and the amount it brought."""
        b = self.behaviour
        if not self.alive[customer.index]:
            return Response(Outcome.DELIVERED, 0.0, None), 0.0
        response = respond(customer, action, day, float(self.satisfaction[customer.index]), b, self.rng)
        item, outcome, then = response.item, response.outcome, at + timedelta(minutes=1)
        amount = 0.0
        if outcome in (Outcome.ACCEPTED, Outcome.CONVERTED) and item is not None and response.need > 0:
            self._feel(customer, b.help_satisfaction * response.need)
            if isinstance(item, Grievance):
                item.open = False
                self._feel(customer, b.grievance_satisfaction)
            elif isinstance(item, OwnedAsset):
                amount = self._book(customer, item, day) if outcome is Outcome.CONVERTED else 0.0
            elif outcome is Outcome.CONVERTED:
                channel = action.channel if action.channel in ORDER_CHANNELS else Channel.WEB
                if isinstance(item, Supply):
                    amount = self._refill(customer, item, day, then, channel)
                elif isinstance(item, FollowOnNeed):
                    item.done = True
                    amount = self._buy(customer, then, [(item.goods, 1)], channel)
        elif response.need == 0:
            self._feel(customer, -b.irrelevant_satisfaction)
        if outcome is Outcome.COMPLAINED:
            self._complain(customer, then, "contact")
        elif outcome is Outcome.UNSUBSCRIBED:
            self._emit(customer, then, ProfileUpdate(consent_withdrawn=[action.channel]))
        return response, amount

    def churned(self) -> list[str]:
        return [c.customer_id for c in self.customers if not self.alive[c.index]]

    # ---- tasks ------------------------------------------------------------------------------------

    def _on_join(self, customer: Customer, day: int, task: Task) -> None:
        rng, market, b = self.rng, self.market, self.behaviour
        self.joined[customer.index] = True
        at = self._afternoon(day)
        profile = ProfileUpdate(first_name="Sam", time_zone=customer.time_zone, consent_granted=CONSENTED)
        self._emit(customer, at, profile)
        for product in rng.sample(market.consumables, min(len(market.consumables), rng.choice(b.consumables_owned))):
            self._use(customer, product, day)
        if market.assets and rng.random() < b.asset_owner_share:
            self._own(customer, rng.choice(market.assets), day, at)
        if market.follow_ons and rng.random() < b.follow_on_buyer_share:
            self._buy_follow_on_starter(customer, day, at)
        if not customer.supplies and not customer.assets and not customer.follow_ons:
            self._buy_something_new(customer, day)

    def _on_reorder(self, customer: Customer, day: int, task: Task) -> None:
        supply = task.item
        assert isinstance(supply, Supply)
        if supply.lost or task.cycle != supply.cycle:  # refilled since, or gone elsewhere
            return
        days_out = day - supply.runs_out
        if days_out > 0 and self.rng.random() < 1 - (1 - self.behaviour.lost_per_day_out) ** days_out:
            supply.lost = True
            self._feel(customer, -self.behaviour.satisfaction_per_day_out * days_out)
            return
        self._refill(customer, supply, day, self._afternoon(day), self._order_channel())

    def _on_service(self, customer: Customer, day: int, task: Task) -> None:
        asset = task.item
        assert isinstance(asset, OwnedAsset)
        if task.cycle != asset.cycle:
            return
        at = self._afternoon(day)
        self._emit(customer, at, ServiceVisit(product_id=asset.product.id))
        self._buy(customer, at, [(self.market.service(asset.product), 1)], Channel.POS, reviewed=False)
        self._plan_service(customer, asset, day)

    def _on_breakdown(self, customer: Customer, day: int, task: Task) -> None:
        asset = task.item
        assert isinstance(asset, OwnedAsset)
        if task.cycle != asset.cycle:
            return
        self._feel(customer, -self.behaviour.breakdown_satisfaction)
        self._complain(customer, self._afternoon(day), "breakdown")
        self._book(customer, asset, day, lead=(1, 4))

    def _on_reading(self, customer: Customer, day: int, task: Task) -> None:
        asset = task.item
        assert isinstance(asset, OwnedAsset)
        reading = UsageReading(product_id=asset.product.id, meter=asset.product.meter, value=asset.meter(day))
        self._emit(customer, self._afternoon(day), reading, touch=False)
        self.agenda.add(day + METER_READING_DAYS, task)

    def _on_follow_on(self, customer: Customer, day: int, task: Task) -> None:
        need = task.item
        assert isinstance(need, FollowOnNeed)
        if need.done:
            return
        need.done = True  # bought now, from us or elsewhere
        if self.rng.random() < self.behaviour.follow_on_self_share:
            self._buy(customer, self._afternoon(day), [(need.goods, 1)], self._order_channel())

    def _on_delay(self, customer: Customer, day: int, task: Task) -> None:
        self._emit(customer, self._afternoon(day), OrderStatus(order_id=str(task.item), state="delayed"))
        self._aggrieve(customer, "order_status", day)

    def _on_review(self, customer: Customer, day: int, task: Task) -> None:
        rng = self.rng
        satisfaction = float(self.satisfaction[customer.index])
        rating = min(5, max(1, round(1 + 4 * satisfaction + rng.gauss(0, 0.6))))
        damaged = rng.random() < self.behaviour.damaged_share
        text = "It arrived damaged." if damaged else ""
        self._emit(customer, self._afternoon(day), Review(product_id=str(task.item), rating=rating, text=text))
        if rating <= 2 or damaged:
            self._aggrieve(customer, "review", day)

    def _on_grievance(self, customer: Customer, day: int, task: Task) -> None:
        grievance = task.item
        assert isinstance(grievance, Grievance)
        if grievance.open:
            grievance.open = False
            if self.rng.random() < self.behaviour.grievance_complaint:
                self._complain(customer, self._afternoon(day), grievance.kind)

    # ---- what customers do ------------------------------------------------------------------------

    def _buy_something_new(self, customer: Customer, day: int) -> None:
        """An asset they do not own yet, or something a purchase follows, whichever a coin picks."""
        market, rng = self.market, self.rng
        at = self._afternoon(day)
        owned = [asset.product.id for asset in customer.assets]
        assets = [product for product in market.assets if product.id not in owned]
        if market.follow_ons and (not assets or rng.random() < 0.5):
            self._buy_follow_on_starter(customer, day, at)
        elif assets:
            self._own(customer, rng.choice(assets), day, at)

    def _own(self, customer: Customer, product: Product, day: int, at: datetime) -> None:
        """Buy an asset, and start using it: services, meter readings, and what it uses up."""
        rng = self.rng
        self._buy(customer, at, [(self.market.goods(product), 1)], self._order_channel())
        hours = rng.uniform(6, 16) if product.service_interval_usage else 0.0
        asset = OwnedAsset(product, self.market.goods(product), day, hours)
        customer.assets.append(asset)
        self._plan_service(customer, asset, day)
        if hours:
            self.agenda.add(day + METER_READING_DAYS, Task("reading", customer.index, asset))
        uses = self.market.consumable_for(product)
        if uses is not None and all(s.product.id != uses.id for s in customer.supplies):
            self._use(customer, uses, day)

    def _use(self, customer: Customer, product: Product, day: int) -> None:
        """Start using up a consumable at a pace of one's own; the first purchase comes within one period."""
        rng = self.rng
        days_per_unit = (product.consumption_period_days or 30) * rng.lognormvariate(0, 0.3)
        supply = Supply(product, self.market.goods(product), days_per_unit)
        customer.supplies.append(supply)
        self.agenda.add(day + rng.randint(0, int(days_per_unit)), Task("reorder", customer.index, supply, 0))

    def _buy_follow_on_starter(self, customer: Customer, day: int, at: datetime) -> None:
        """Buy something another purchase typically follows (a stroller, a tent), and start needing that."""
        market, rng = self.market, self.rng
        product, _ = rng.choice(market.follow_ons)
        self._buy(customer, at, [(market.goods(product), 1)], self._order_channel())
        for after, follow_on in market.follow_ons:
            if after.id == product.id:
                due = day + follow_on.typical_after_days * rng.lognormvariate(0, 0.1)
                need = FollowOnNeed(market.of_category(follow_on.then), due)
                customer.follow_ons.append(need)
                self.agenda.add(math.ceil(due + rng.gauss(0, 10)), Task("follow_on", customer.index, need))

    def _refill(self, customer: Customer, supply: Supply, day: int, at: datetime, channel: Channel) -> float:
        """Buy a consumable again; plan the next refill as the customer would do it alone."""
        b, rng = self.behaviour, self.rng
        days_out = day - supply.runs_out
        if supply.cycle and days_out > 0:
            self._feel(customer, -b.satisfaction_per_day_out * days_out)
        quantity = rng.choice((1, 1, 1, 2))
        amount = self._buy(customer, at, [(supply.goods, quantity)], channel)
        supply.runs_out = day + supply.days_per_unit * quantity
        supply.cycle += 1
        if rng.random() < b.reorder_on_time_share:
            when = supply.runs_out - rng.uniform(0, 5)
        else:
            when = supply.runs_out + rng.expovariate(1 / b.forgetful_delay_days)
        self.agenda.add(max(day + 1, math.ceil(when)), Task("reorder", customer.index, supply, supply.cycle))
        return amount

    def _plan_service(self, customer: Customer, asset: OwnedAsset, day: int) -> None:
        """The asset's next service: due by time or by its meter, then booked by its owner or left to break."""
        product, b, rng = asset.product, self.behaviour, self.rng
        if product.service_interval_days is None:
            return
        asset.last_service, asset.booked, asset.cycle = day, False, asset.cycle + 1
        due = day + product.service_interval_days * rng.lognormvariate(0, 0.12)
        if product.service_interval_usage and asset.run_hours_per_day:
            due = min(due, day + product.service_interval_usage / asset.run_hours_per_day)
        asset.due = due
        if rng.random() < b.self_service_share:
            task, when = "service", due + rng.gauss(-7, 10)
        else:
            task, when = "breakdown", due + rng.expovariate(1 / b.breakdown_after_days)
        self.agenda.add(max(day + 1, math.ceil(when)), Task(task, customer.index, asset, asset.cycle))

    def _book(self, customer: Customer, asset: OwnedAsset, day: int, lead: tuple[int, int] = (3, 14)) -> float:
        """A service visit booked for a few days from now; returns its price."""
        asset.cycle += 1
        asset.booked = True
        self.agenda.add(day + self.rng.randint(*lead), Task("service", customer.index, asset, asset.cycle))
        return self.market.service(asset.product).price

    def _buy(
        self, customer: Customer, at: datetime, lines: list[tuple[Goods, int]], channel: Channel, reviewed: bool = True
    ) -> float:
        rng, b, day = self.rng, self.behaviour, self.clock.day_of(at)
        order = customer.next_event_id()
        items = [
            LineItem(product_id=g.product_id, category=g.category, quantity=q, unit_price=g.price) for g, q in lines
        ]
        purchase = Purchase(order_id=order, items=items, channel=channel)
        self._emit(customer, at, purchase, event_id=order, channel=channel)
        if channel is Channel.WEB and rng.random() < b.delay_share:
            self.agenda.add(day + 1, Task("delay", customer.index, order))
        if reviewed and rng.random() < b.review_share:
            self.agenda.add(day + rng.randint(2, 10), Task("review", customer.index, lines[0][0].product_id))
        return sum(item.quantity * item.unit_price for item in items)

    def _aggrieve(self, customer: Customer, kind: str, day: int) -> None:
        grievance = Grievance(kind, day)
        customer.grievances = [g for g in customer.grievances if g.open] + [grievance]
        self._feel(customer, -self.behaviour.grievance_satisfaction)
        self.agenda.add(day + self.behaviour.grievance_days, Task("grievance", customer.index, grievance))

    def _complain(self, customer: Customer, at: datetime, topic: str) -> None:
        complaint = Complaint(complaint_id=f"{customer.customer_id}-k{customer.events}", state="opened", topic=topic)
        self._emit(customer, at, complaint)

    def _feel(self, customer: Customer, change: float) -> None:
        index = customer.index
        self.satisfaction[index] = min(1.0, max(0.0, float(self.satisfaction[index]) + change))

    def _order_channel(self) -> Channel:
        return Channel.WEB if self.rng.random() < self.behaviour.web_share else Channel.POS

    def _afternoon(self, day: int) -> datetime:
        return self.clock.at(day, self.rng.uniform(*AFTERNOON))

    def _emit(
        self,
        customer: Customer,
        at: datetime,
        payload: Payload,
        event_id: str = "",
        channel: Channel | None = None,
        touch: bool = True,
    ) -> None:
        event = Event(
            event_id=event_id or customer.next_event_id(),
            customer_id=customer.customer_id,
            occurred_at=at,
            payload=payload,
        )
        self.pending.append(event)
        if touch:
            latest, seen_on = self.touched.get(customer.index, (at, None))
            self.touched[customer.index] = (max(latest, at), channel or seen_on)
