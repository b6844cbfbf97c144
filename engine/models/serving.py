"""The promoted models, serving: loaded at start, swapped whole on a promotion or a file
change, scoring a decision's facts with one onnxruntime call for all the models it needs.

A model that is missing, corrupt or incompatible never breaks a decision: it is
reported (the log and GetStatus) and left out, and decisions rank by rule priority
and say so. When a newly promoted version cannot be loaded while an earlier one
serves, the earlier one keeps serving.

Scores reach rule conditions as `score.<name>` (fields.py), by the rows a model scores:

- customer rows: `score.<model>`, e.g. `score.churn`;
- channel rows: `score.<model>_<channel>`, e.g. `score.response_sms`;
- category rows: `score.<model>` and `score.<model>_days` on the facts about that
  category (category, asset and consumable facts), e.g. `score.next_purchase`.

The response model also ranks: an action's propensity is the probability of a
response on its channel. Other models score only when some rule reads their
scores: a model no rule reads costs a decision nothing.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog

from engine.errors import NotFound
from engine.features.fields import CATEGORY_FIELDS
from engine.features.purchases import fields_of_category
from engine.features.state import CustomerState
from engine.models.artifacts import CARD_FILE, LoadedModel, ModelArtifactInvalid, load_model
from engine.models.combined import Heads
from engine.models.features import RowPlan
from engine.models.registry import PROMOTED_FILE, find, promoted

log = structlog.get_logger(__name__)

RESPONSE_MODEL = "response"  # the model whose channel probabilities rank actions
Fact = Mapping[str, object]


@dataclass(frozen=True)
class ModelStatus:
    """A promoted model: the version serving ("" if none), and why the promoted one is not, if it is not."""

    name: str
    promoted: str
    serving: str
    problem: str = ""


@dataclass(frozen=True)
class Scores:
    """One decision's model scores."""

    # score name -> value, the same for every fact of the customer
    customer: dict[str, float] = field(default_factory=dict)
    # category -> score name -> value, for the facts about that category
    categories: dict[str, dict[str, float]] = field(default_factory=dict)
    # channel -> probability of a response there, when the response model serves
    propensity: dict[str, float] = field(default_factory=dict)

    def of(self, fact: Fact) -> dict[str, float]:
        """The scores a fact carries: the customer's, and its category's if it is about one."""
        about = _category_of(fact) if self.categories else None
        return self.customer if about is None else self._with_categories.get(about[0], self.customer)

    @functools.cached_property
    def _with_categories(self) -> dict[str, dict[str, float]]:
        return {category: {**self.customer, **own} for category, own in self.categories.items()}


# The field of a fact naming the category it is about, by subject: `consumable` -> `category`.
_CATEGORY_KEY = {subject: name.split(".", 1)[1] for subject, name in CATEGORY_FIELDS.items()}


def _category_of(fact: Fact) -> tuple[str, Mapping[str, object]] | None:
    """The category a fact is about, and the fact's own fields; None for a fact about no category."""
    subject = str(fact.get("subject"))
    key = _CATEGORY_KEY.get(subject)
    fields = fact.get(subject)
    if key is None or not isinstance(fields, Mapping):
        return None
    return str(fields.get(key)), fields


@dataclass(frozen=True)
class ModelSet:
    """The models serving at one moment; replaced whole, never changed."""

    models: dict[str, LoadedModel] = field(default_factory=dict)
    statuses: tuple[ModelStatus, ...] = ()
    fingerprint: str = ""
    # Worked out once per rule set's reads: the models it needs; and per set of models, how their
    # rows are filled and their heads run together (one onnxruntime call per decision).
    _needed: dict[frozenset[str], dict[str, LoadedModel]] = field(default_factory=dict, compare=False, repr=False)
    _joint: dict[tuple[str, ...], tuple[RowPlan, Heads]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def version(self) -> str:
        """`name=version` of each model serving, by name; empty while none serves."""
        return ",".join(f"{name}={model.card.version}" for name, model in sorted(self.models.items()))

    def needed(self, read: frozenset[str]) -> dict[str, LoadedModel]:
        """The models a decision needs: those whose scores rules read (`score.<name>...`), and the one that ranks."""
        needed = self._needed.get(read)
        if needed is None:
            needed = self._needed[read] = {
                name: model
                for name, model in self.models.items()
                if name == RESPONSE_MODEL or any(score == name or score.startswith(f"{name}_") for score in read)
            }
        return needed

    def decision_scores(
        self, read: frozenset[str], facts: Sequence[Fact], state: CustomerState, as_of: datetime
    ) -> Scores:
        """A decision's scores: the models its rules read (`read`, the names after `score.`) and the one that
        ranks, scoring the facts derived from `state` as of `as_of`."""
        needed = self.needed(read)
        return self.score(facts, needed, derived_from=(state, as_of)) if needed else Scores()

    def score(
        self,
        facts: Sequence[Fact],
        models: Mapping[str, LoadedModel],
        derived_from: tuple[CustomerState, datetime] | None = None,
    ) -> Scores:
        """Some models' scores of one customer's facts, in one batched call: the customer's, each
        channel's, and each category's the facts are about. Given the state and moment the facts
        were derived from (`derived_from`), categories that assets or consumables are in are scored
        too when the facts hold no category fact about them."""
        scores = Scores()
        if not models:
            return scores
        fields = None
        if derived_from is not None and any(model.schema.rows == "category" for model in models.values()):
            fields = categories_of(facts, *derived_from)
        plan, heads = self._joined(models)
        rows = plan.rows(facts, fields)
        outputs = iter(
            heads.run([row.matrix for row, model in zip(rows, models.values(), strict=True) for _ in model.graphs])
        )
        for (name, model), row in zip(models.items(), rows, strict=True):
            predicted = model.read([next(outputs) for _ in model.graphs])
            keys = row.keys
            for head, column in predicted.items() if keys else ():
                score = name if head == "probability" else f"{name}_{head}"
                values = [round(value, 4) for value in column.tolist()]
                if model.schema.rows == "customer":
                    scores.customer[score] = values[0]
                elif model.schema.rows == "category":
                    for category, value in zip(keys, values, strict=True):
                        scores.categories.setdefault(category, {})[score] = value
                else:
                    scores.customer.update(zip([f"{score}_{key}" for key in keys], values, strict=True))
                    if score == RESPONSE_MODEL:
                        scores.propensity.update(zip(keys, values, strict=True))
        return scores

    def _joined(self, models: Mapping[str, LoadedModel]) -> tuple[RowPlan, Heads]:
        """How these models' rows are filled, and their heads side by side; made on first use (a rule
        set needs the same models each time)."""
        key = tuple(models)
        joined = self._joint.get(key)
        if joined is None:
            plan = RowPlan([model.schema for model in models.values()])
            heads = Heads([head for model in models.values() for head in model.heads()])
            joined = self._joint[key] = (plan, heads)
        return joined


def categories_of(facts: Sequence[Fact], state: CustomerState, as_of: datetime) -> list[Mapping[str, object]]:
    """The fields of each category the facts are about: a category fact's own, else the state's as of then."""
    fields: dict[str, Mapping[str, object]] = {}
    for fact in facts:
        about = _category_of(fact)
        if about is None:
            continue
        name, own = about
        if fact.get("subject") == "category":
            fields[name] = own
        elif name not in fields:
            fields[name] = {}
    return [found or fields_of_category(state.categories, name, as_of) for name, found in fields.items()]


@dataclass(frozen=True)
class StatedScores:
    """Scores stated rather than computed, as a rule test states them: each decision gets them as if
    models had given them; a `response_<channel>` score ranks actions on that channel."""

    customer: Mapping[str, float] = field(default_factory=dict)
    # category -> score name -> value
    categories: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    version: str = "stated"

    @property
    def current(self) -> StatedScores:
        return self

    @functools.cached_property
    def given(self) -> Scores:
        prefix = f"{RESPONSE_MODEL}_"
        return Scores(
            customer=dict(self.customer),
            categories={category: dict(scores) for category, scores in self.categories.items()},
            propensity={name.removeprefix(prefix): v for name, v in self.customer.items() if name.startswith(prefix)},
        )

    def decision_scores(
        self, read: frozenset[str], facts: Sequence[Fact], state: CustomerState, as_of: datetime
    ) -> Scores:
        return self.given


def load_model_set(folder: Path, previous: ModelSet | None = None) -> ModelSet:
    """The promoted models of a folder, each validated; one that fails keeps its previous version serving."""
    before = previous.models if previous else {}
    fingerprint = folder_fingerprint(folder)
    try:
        pointers = promoted(folder)
    except ModelArtifactInvalid as exc:
        log.warning("models_refused", problem=str(exc), still_serving=sorted(before))
        statuses = [ModelStatus(n, "", m.card.version, str(exc)) for n, m in sorted(before.items())]
        return ModelSet(dict(before), tuple(statuses), fingerprint)
    models: dict[str, LoadedModel] = {}
    statuses = []
    for name, version in sorted(pointers.items()):
        serving = before.get(name)
        if serving is not None and serving.card.version == version:
            models[name] = serving
            statuses.append(ModelStatus(name, version, version))
            continue
        try:
            models[name] = load_model(find(folder, name, version))
            statuses.append(ModelStatus(name, version, version))
            log.info("model_loaded", model=name, version=version)
        except (ModelArtifactInvalid, NotFound) as exc:
            if serving is not None:
                models[name] = serving
            kept = serving.card.version if serving else ""
            statuses.append(ModelStatus(name, version, kept, str(exc)))
            log.warning("model_refused", model=name, version=version, problem=str(exc), still_serving=kept or None)
    return ModelSet(models, tuple(statuses), fingerprint)


def folder_fingerprint(folder: Path) -> str:
    """What changes when a model is promoted or a promoted model's files change: their sizes and times."""
    paths = [Path(folder) / PROMOTED_FILE]
    try:
        pointers = promoted(folder)
    except ModelArtifactInvalid:
        pointers = {}
    for name, version in sorted(pointers.items()):
        version_folder = Path(folder) / name / version
        paths += [version_folder / CARD_FILE, *sorted(version_folder.glob("*.onnx"))]
    marks = []
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:
            marks.append(f"{path}:-")
            continue
        marks.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(marks)


class LiveModels:
    """The model set serving now, swapped whole by `reload`; readers take `current` and keep it."""

    def __init__(self, folder: Path, on_reload: Callable[[ModelSet], None] | None = None) -> None:
        self.folder = Path(folder)
        self._reload_lock = threading.Lock()
        self.current = load_model_set(self.folder)
        # Told of each reload, with the model set it left serving.
        self.on_reload = on_reload

    def reload(self) -> ModelSet:
        with self._reload_lock:
            previous = self.current
            self.current = load_model_set(self.folder, previous)
            if self.current.version != previous.version:
                log.info("models_swapped", version=self.current.version, previous_version=previous.version)
            if self.on_reload is not None:
                self.on_reload(self.current)
            return self.current

    def watch(self, stop: threading.Event, interval: float) -> None:
        """Reload whenever a promotion or a promoted model's files change, until `stop` is set."""
        while not stop.wait(interval):
            if folder_fingerprint(self.folder) != self.current.fingerprint:
                self.reload()
