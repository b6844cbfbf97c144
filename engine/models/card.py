"""The model card: what a model is, what it was trained on, and how it did against its baselines.

Written as `card.json` next to the model's ONNX files, with a short Markdown rendering
(`card.md`) for people. Nothing in it depends on the wall clock, so the same data and
seed give the same card, and the same version.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # only the type: train imports the loader, which imports this
    from engine.models.train import TrainedModel

CARD_FORMAT = 1
LIBRARIES = ("scikit-learn", "skl2onnx", "onnx")


class HeadArtifact(BaseModel):
    """One ONNX file of a model: `probability` (output `probabilities`, column 1) or `days` (output `variable`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    sha256: str
    output: str


class ModelCard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    card_format: int = CARD_FORMAT
    name: str
    version: str
    label: str
    feature_schema: dict[str, Any]
    schema_digest: str
    training_period: dict[str, Any]
    data: dict[str, Any]
    rows: dict[str, int]
    metrics: dict[str, dict[str, Any]]
    beats_baselines: bool
    shortfalls: list[str]
    seed: int
    hyperparameters: dict[str, Any]
    artifacts: dict[str, HeadArtifact]
    libraries: dict[str, str]

    @property
    def flagged(self) -> bool:
        """A model that does not beat its baselines is flagged and is promoted only by force."""
        return not self.beats_baselines

    def json_text(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def make_card(trained: TrainedModel, data: dict[str, Any]) -> ModelCard:
    """The card of a trained model; its version ends with a digest of the card and the model bytes."""
    heads = {
        head: HeadArtifact(
            file=f"{head}.onnx",
            sha256=hashlib.sha256(body).hexdigest(),
            output="probabilities" if head == "probability" else "variable",
        )
        for head, body in sorted(trained.heads.items())
    }
    fields = {
        "name": trained.name,
        "label": trained.label,
        "feature_schema": trained.schema.document(),
        "schema_digest": trained.schema.digest,
        "training_period": trained.period.document(),
        "data": {**data, "digest": trained.data_digest},
        "rows": trained.rows,
        "metrics": {head: comparison.document() for head, comparison in trained.evaluation.items()},
        "beats_baselines": trained.beats_baselines,
        "shortfalls": trained.shortfalls,
        "seed": trained.seed,
        "hyperparameters": {**vars(trained.hyperparameters), "trees": trained.trees},
        "artifacts": heads,
        "libraries": {name: package_version(name) for name in LIBRARIES},
    }
    digest = card_digest(ModelCard(version="", **fields))
    return ModelCard(version=f"{trained.period.until:%Y%m%d}-{digest}", **fields)


def card_digest(card: ModelCard) -> str:
    """The digest a version ends with: of the card without its version (the model files are in it by sha256)."""
    return hashlib.sha256(card.model_copy(update={"version": ""}).json_text().encode()).hexdigest()[:12]


def markdown(card: ModelCard) -> str:
    """A short rendering for people: what it predicts, from what, and how it did."""
    period = card.training_period
    lines = [
        f"# {card.name} {card.version}",
        "",
        f"{'**Flagged**: does not beat its baselines.' if card.flagged else 'Beats its baselines.'}",
        "",
        f"- predicts: {card.label}",
        f"- rows: one per {card.feature_schema['rows']}; {len(card.feature_schema['features'])} features "
        f"(schema digest `{card.schema_digest[:12]}`)",
        f"- training cutoffs: {', '.join(c[:10] for c in period['training_cutoffs'])}; "
        f"validation cutoff {period['validation_cutoff'][:10]}; history until {period['until'][:10]}",
        f"- horizon {period['horizon_days']} days; days capped at {period['days_cap']}",
        f"- data: {card.data.get('customers', 0):,} customers, {card.data.get('events', 0):,} events "
        f"(digest `{card.data['digest'][:12]}`); rows {card.rows['training']:,} training, "
        f"{card.rows['validation']:,} validation",
        f"- seed {card.seed}"
        + "".join(f"; {head} head: {n} trees" for head, n in card.hyperparameters.get("trees", {}).items()),
        "",
        "| head | metric | model | " + " | ".join(_baseline_names(card)) + " |",
        "|---|---|---|" + "---|" * len(_baseline_names(card)),
    ]
    for head, comparison in card.metrics.items():
        for metric, value in comparison["model"].items():
            theirs = [_number(comparison["baselines"].get(b, {}).get(metric)) for b in _baseline_names(card)]
            lines.append(f"| {head} | {metric} | {_number(value)} | " + " | ".join(theirs) + " |")
    if card.shortfalls:
        lines += ["", "Shortfalls:", *(f"- {s}" for s in card.shortfalls)]
    return "\n".join(lines) + "\n"


def _baseline_names(card: ModelCard) -> list[str]:
    return sorted({b for comparison in card.metrics.values() for b in comparison["baselines"]})


def _number(value: object) -> str:
    return "-" if value is None else f"{value:.4f}"
