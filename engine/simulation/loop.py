"""The simulation loop: the population lives each day, Forestall hears of it, decides, and hears back.

A simulated day, against the real `DecisionEngine`:

1. morning: customers answer the actions shown to them earlier (outcomes through
   `record_outcome`); what they do about them (a purchase, an unsubscription) joins
   the day's events;
2. afternoon: the population lives the day (`World.live`); its events are ingested
   in batches;
3. touchpoints: each customer who came to us today (bought, had a visit, wrote a
   review...) is decided for as of just after their last event, on the channel they
   bought on, if any; an action on that channel is answered there and then, others
   when they arrive;
4. sweep: every `sweep_every` days, `DecisionEngine.sweep` decides for every customer
   in the evening; the due actions are answered when they arrive.

Actions held out for the control group are never shown: only returned actions reach
customers. Before day 0 the population lives its history with nobody deciding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engine.decision.engine import DecisionEngine, OutcomeReport
from engine.decision.types import Action, DecideRequest, Decision
from engine.events import Event
from engine.simulation.calendar import MORNING, SWEEP_HOUR, Agenda
from engine.simulation.life import World

INGEST_BATCH = 2000
# Every customer is swept this often: the sample rules' narrowest time windows (coffee, a tent's sleeping bag)
# span more than 14 days, and what must be caught within days (a delay, a bad review) is decided at the touchpoint.
# Sweeps are most of a run's decisions: weekly ones double its time.
DEFAULT_SWEEP_EVERY = 14
# Days between an outbound action's send time and the customer's answer: most answer at once.
ANSWER_LAGS = (0, 0, 0, 1, 1, 2, 3)


@dataclass(frozen=True)
class Shown:
    """An action shown to a customer, to be answered at `at`."""

    at: datetime
    customer: int
    decision_id: str
    action: Action


@dataclass
class Counts:
    """What a run did, so far."""

    customers: int = 0
    events: int = 0
    decisions: int = 0
    actions: int = 0  # returned, so shown
    held_out: int = 0  # decided for control customers, never shown (touchpoint decisions; the sweep keeps none)
    outcomes: Counter[str] = field(default_factory=Counter)


Progress = Callable[[int, Counts], None]


class Simulation:
    """A world and a decision engine, run together day by day (the module's docstring says how)."""

    def __init__(self, world: World, engine: DecisionEngine, days: int, sweep_every: int = DEFAULT_SWEEP_EVERY) -> None:
        self.world = world
        self.engine = engine
        self.days = days
        self.sweep_every = sweep_every
        self.clock = world.clock
        self.answers: Agenda[Shown] = Agenda()
        self.counts = Counts(customers=len(world.customers))

    def run(self, progress: Progress | None = None) -> Counts:
        """The history, then `days` simulated days; `progress` hears after the history (day 0) and each day."""
        for day in range(-self.world.behaviour.history_days, 0):
            self.world.live(day)
            if len(self.world.pending) >= INGEST_BATCH:
                self._ingest(self.world.drain())
        self._ingest(self.world.drain())
        self.world.take_touched()  # nobody decided before day 0
        if progress is not None:
            progress(0, self.counts)
        for day in range(self.days):
            self._day(day)
            if progress is not None:
                progress(day + 1, self.counts)
        return self.counts

    def _day(self, day: int) -> None:
        world = self.world
        for shown in sorted(self.answers.take(day), key=lambda s: (s.at, s.decision_id, s.action.action_id)):
            self._answer(shown, day)
        world.live(day)
        self._ingest(world.drain())
        for index, (latest, channel) in world.take_touched().items():
            at = latest + timedelta(minutes=1)
            touchpoint = channel.value if channel else "event"
            request = DecideRequest(world.customers[index].customer_id, at, channel=channel, touchpoint=touchpoint)
            decision = self._decide(request)
            for action in decision.actions:
                if channel is not None and action.channel is channel:  # answered there and then
                    self._answer(Shown(at + timedelta(minutes=2), index, decision.decision_id, action), day)
                else:
                    self._show(index, decision.decision_id, action)
        self._ingest(world.drain())
        world.take_touched()  # the customers just decided for
        if day % self.sweep_every == self.sweep_every - 1:
            self._sweep(day)

    def _sweep(self, day: int) -> None:
        self.counts.decisions += self.engine.store.count_customers()
        index_of = {c.customer_id: c.index for c in self.world.customers}
        for due in self.engine.sweep(self.clock.at(day, SWEEP_HOUR)):
            self.counts.actions += 1
            self._show(index_of[due.customer_id], due.decision_id, due.action)

    def _decide(self, request: DecideRequest) -> Decision:
        decision = self.engine.decide(request)
        self.counts.decisions += 1
        self.counts.actions += len(decision.actions)
        self.counts.held_out += len(decision.held_out)
        return decision

    def _show(self, customer: int, decision_id: str, action: Action) -> None:
        """File the customer's answer to an outbound action: in a morning at or after its send time."""
        rng = self.world.rng
        day = self.clock.day_of(action.send_at) + rng.choice(ANSWER_LAGS)
        earliest = max(action.send_at, self.clock.at(day, MORNING[0]))
        if earliest >= self.clock.at(day, MORNING[1] - 1):
            day, earliest = day + 1, self.clock.at(day + 1, MORNING[0])
        latest = self.clock.at(day, MORNING[1])
        at = earliest + (latest - earliest) * rng.random()
        if day < self.days:
            self.answers.add(day, Shown(at, customer, decision_id, action))

    def _answer(self, shown: Shown, day: int) -> None:
        customer = self.world.customers[shown.customer]
        response, amount = self.world.answer(customer, shown.action, day, shown.at)
        report = OutcomeReport(shown.decision_id, shown.action.action_id, response.outcome, shown.at, amount)
        self.engine.record_outcome(report)
        self.counts.outcomes[response.outcome.value] += 1

    def _ingest(self, events: list[Event]) -> None:
        for start in range(0, len(events), INGEST_BATCH):
            self.engine.ingest(events[start : start + INGEST_BATCH])
        self.counts.events += len(events)
