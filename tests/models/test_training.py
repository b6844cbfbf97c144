"""Training on generated histories: an honest time split, models that beat their baselines, reproducibility."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import onnx

from engine.events import Event, LineItem, Purchase
from engine.models.dataset import TrainingPeriod
from engine.models.pipeline import train_all
from engine.models.sources import from_histories
from engine.models.synthetic import population
from engine.models.train import Hyperparameters, data_digest
from tests.models.conftest import CATALOGUE, PERIOD, SCHEMAS, UNTIL, build


def test_every_training_label_window_ends_before_the_validation_cutoff():
    period = TrainingPeriod(UNTIL, horizon_days=30, days_cap=90)

    assert period.validation_cutoff + timedelta(days=period.window_days) == UNTIL
    assert all(c + timedelta(days=period.window_days) <= period.validation_cutoff for c in period.training_cutoffs)
    assert period.cutoffs == sorted(period.cutoffs)


def test_events_after_the_end_of_the_period_change_no_example():
    histories = list(population(UNTIL, 150))
    later = [
        [
            *history,
            Event(
                event_id="late",
                customer_id=history[0].customer_id,
                occurred_at=UNTIL + timedelta(days=3),
                payload=Purchase(items=[LineItem(product_id="coffee-beans-1kg", quantity=1, unit_price=16)]),
            ),
        ]
        for history in histories
    ]

    plain = from_histories(histories, CATALOGUE, PERIOD, SCHEMAS)
    with_later = from_histories(later, CATALOGUE, PERIOD, SCHEMAS)

    assert all(data_digest(plain.examples[n]) == data_digest(with_later.examples[n]) for n in SCHEMAS)


def test_each_model_beats_both_baselines_on_the_held_out_period(trained):
    _, results = trained

    for name in ("next_purchase", "response", "churn"):
        card = results[name].card
        assert card is not None, results[name].failure
        assert card.beats_baselines and not card.flagged, card.shortfalls
        probability = card.metrics["probability"]
        for baseline in ("base_rate", "recency_frequency"):
            assert probability["model"]["roc_auc"] > probability["baselines"][baseline]["roc_auc"]
            assert probability["model"]["brier"] < probability["baselines"][baseline]["brier"]
    days = results["next_purchase"].card.metrics["days"]
    assert days["model"]["mae_days"] < min(b["mae_days"] for b in days["baselines"].values())


def test_the_known_signals_are_learnt_well(trained):
    _, results = trained
    auc = {name: r.card.metrics["probability"]["model"]["roc_auc"] for name, r in results.items()}

    # Regular cadences and churn after a complaint are strong signals; replies are noisier by design.
    assert auc["next_purchase"] > 0.85
    assert auc["churn"] > 0.83
    assert auc["response"] > 0.68


def test_the_card_records_schema_period_data_and_seed(trained):
    _, results = trained
    card = results["churn"].card

    assert card.feature_schema["rows"] == "customer"
    assert card.feature_schema["features"][0]["source"] == "customer.purchase_count"
    assert card.training_period["validation_cutoff"] == PERIOD.validation_cutoff.isoformat()
    assert card.data["customers"] == 1500 and len(card.data["digest"]) == 64
    assert card.seed == 7
    assert card.rows["validation"] > 0 and card.rows["training"] > card.rows["validation"]


def test_same_data_and_seed_give_the_same_artifacts(tmp_path):
    built = build(600)

    first = train_all(built, SCHEMAS, PERIOD, tmp_path / "a", seed=3, source="generated")
    second = train_all(build(600), SCHEMAS, PERIOD, tmp_path / "b", seed=3, source="generated")

    for one, two in zip(first, second, strict=True):
        assert one.card.version == two.card.version
        for head in one.card.artifacts:
            assert (one.path / f"{head}.onnx").read_bytes() == (two.path / f"{head}.onnx").read_bytes()
        assert (one.path / "card.json").read_text() == (two.path / "card.json").read_text()


def test_a_model_that_does_not_beat_its_baselines_is_flagged(built, tmp_path):
    stump = Hyperparameters(max_iter=1, max_leaf_nodes=2, learning_rate=0.01)

    [result] = train_all(
        built, SCHEMAS, PERIOD, tmp_path, seed=7, source="generated", names=["churn"], hyperparameters=stump
    )

    assert result.card.flagged
    assert any("recency_frequency" in s for s in result.card.shortfalls)


def test_too_little_data_is_reported_not_trained(tmp_path):
    [result] = train_all(build(5), SCHEMAS, PERIOD, tmp_path, seed=7, source="generated", names=["response"])

    assert result.card is None
    assert "rows; at least 50 are needed" in result.failure


def test_rows_are_in_the_schema_width_and_labels_are_binary(built):
    for name, schema in SCHEMAS.items():
        examples = built.examples[name]
        assert examples.x.shape[1] == len(schema.features)
        assert set(np.unique(examples.y)) <= {0.0, 1.0}


def _trees_in(onnx_file):
    [ensemble] = onnx.load(onnx_file).graph.node
    return len({tree for a in ensemble.attribute if a.name == "nodes_treeids" for tree in a.ints})


def test_trees_are_added_only_while_they_help_on_the_latest_training_cutoff(trained):
    _, results = trained
    cap = Hyperparameters().max_iter

    trees = {name: r.card.hyperparameters["trees"] for name, r in results.items()}

    assert set(trees["next_purchase"]) == {"probability", "days"} and set(trees["churn"]) == {"probability"}
    assert all(0 < n <= cap for heads in trees.values() for n in heads.values())
    # Replies are noisy by design: a few dozen trees learn what there is to learn from them.
    assert trees["response"]["probability"] < cap
    for name, result in results.items():
        for head, n in trees[name].items():
            assert _trees_in(result.path / f"{head}.onnx") == n, (name, head)


def test_without_early_stopping_every_head_has_max_iter_trees(built, tmp_path):
    every = Hyperparameters(max_iter=30, early_stopping=False)

    [result] = train_all(
        built, SCHEMAS, PERIOD, tmp_path, seed=7, source="generated", names=["response"], hyperparameters=every
    )

    assert result.card.hyperparameters["trees"] == {"probability": 30}
    assert _trees_in(result.path / "probability.onnx") == 30
