"""The sample models in the repo's models/ folder: promoted, loadable, and serving in the demo."""

from __future__ import annotations

from engine.models.registry import entries
from engine.models.serving import load_model_set
from tests.conftest import REPO

MODELS = REPO / "models"


def test_every_sample_model_is_promoted_and_loads_as_its_card_says():
    served = load_model_set(MODELS)

    assert sorted(served.models) == ["churn", "next_purchase", "response"]
    assert [(s.name, s.serving == s.promoted, s.problem) for s in served.statuses] == [
        ("churn", True, ""),
        ("next_purchase", True, ""),
        ("response", True, ""),
    ]
    assert all(e.card is not None and not e.card.flagged for e in entries(MODELS))
