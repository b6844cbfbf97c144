"""Models trained once per session on generated histories with known signals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.models.card import ModelCard, card_digest
from engine.models.dataset import TrainingPeriod, schemas
from engine.models.pipeline import TrainingResult, train_all
from engine.models.sources import Built, from_histories
from engine.models.synthetic import population
from engine.ruleset.loader import load_rule_set
from tests.conftest import RULES

UNTIL = datetime(2026, 6, 1, tzinfo=UTC)
CATALOGUE = load_rule_set(RULES).catalogue
SCHEMAS = schemas(CATALOGUE)
PERIOD = TrainingPeriod(UNTIL)


def build(customers: int, seed: int = 7) -> Built:
    return from_histories(population(UNTIL, customers, seed), CATALOGUE, PERIOD, SCHEMAS)


@pytest.fixture(scope="session")
def built() -> Built:
    return build(1500)


@pytest.fixture(scope="session")
def trained(built: Built, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, TrainingResult]]:
    models_dir = tmp_path_factory.mktemp("models")
    results = train_all(built, SCHEMAS, PERIOD, models_dir, seed=7, source="generated")
    return models_dir, {r.name: r for r in results}


def rewrite_card(folder, change, reseal=False):
    """Change a card; resealed, its version's digest is made to match, as a forger would."""
    card = json.loads((folder / "card.json").read_text())
    change(card)
    if reseal:
        card["version"] = card["version"].rpartition("-")[0] + "-" + card_digest(ModelCard(**card))
    (folder / "card.json").write_text(json.dumps(card))
