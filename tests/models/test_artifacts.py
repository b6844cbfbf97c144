"""Loading models: only ONNX files that match their card; serving scores live facts through the same rows."""

from __future__ import annotations

import hashlib
import pickle
import shutil

import numpy as np
import pytest

from engine.events import ContactOutcome
from engine.features.derive import Touch, derive_facts
from engine.models.artifacts import ModelArtifactInvalid, load_model
from engine.models.features import FeatureRows, feature_rows
from engine.vocabulary import Channel, Outcome
from tests.features.builders import AS_OF, CATALOGUE, bought, event
from tests.models.conftest import rewrite_card


@pytest.fixture
def copy_of(trained, tmp_path):
    _, results = trained

    def copy(name):
        return shutil.copytree(results[name].path, tmp_path / name)

    return copy


def test_a_trained_model_loads_and_scores_the_rows_of_live_facts(trained):
    _, results = trained
    model = load_model(results["next_purchase"].path)
    # Ink every 60 days: due within the 30-day horizon after 55 days, not after 3.
    due = [bought(55 + 60 * n, "ink-305-black", price=17.5) for n in range(6)]
    fresh = [bought(3 + 60 * n, "ink-305-black", price=17.5) for n in range(6)]

    scores = [
        model.predict(feature_rows(model.schema, derive_facts(h, CATALOGUE, AS_OF, Touch(None)))) for h in (due, fresh)
    ]

    assert scores[0]["probability"][0] > 0.5 > scores[1]["probability"][0]
    assert 0 <= scores[0]["days"][0] < scores[1]["days"][0]


def test_the_response_model_prefers_the_channel_a_customer_answers_on(trained):
    _, results = trained
    model = load_model(results["response"].path)
    history = [bought(10, "coffee-beans-1kg")] + [
        event(
            20 + 30 * n,
            ContactOutcome(
                decision_id=f"d{n}",
                action_id="a",
                channel=channel,
                outcome=Outcome.ACCEPTED if channel == Channel.SMS else Outcome.DISMISSED,
            ),
        )
        for n, channel in enumerate([Channel.SMS, Channel.EMAIL] * 4)
    ]
    rows = feature_rows(model.schema, derive_facts(history, CATALOGUE, AS_OF, Touch(None)))

    probability = dict(zip(rows.keys, model.predict(rows)["probability"], strict=True))

    assert probability["sms"] > probability["email"]


def test_a_pickle_file_is_refused_with_a_clear_message(copy_of):
    folder = copy_of("churn")
    (folder / "probability.onnx").write_bytes(pickle.dumps({"model": "anything"}))

    with pytest.raises(ModelArtifactInvalid, match="is a Python pickle, refused: pickles run code when loaded"):
        load_model(folder)


def test_a_corrupt_model_file_is_refused(copy_of):
    folder = copy_of("churn")
    body = bytearray((folder / "probability.onnx").read_bytes())
    body[len(body) // 2] ^= 0xFF
    (folder / "probability.onnx").write_bytes(bytes(body))

    with pytest.raises(ModelArtifactInvalid, match="differs from the sha256 in its card: corrupt or replaced"):
        load_model(folder)


def test_garbage_that_matches_its_card_is_still_not_onnx(copy_of):
    folder = copy_of("churn")
    (folder / "probability.onnx").write_bytes(b"not a model at all")
    rewrite_card(
        folder, lambda card: card["artifacts"]["probability"].update(sha256=_sha(b"not a model at all")), reseal=True
    )

    with pytest.raises(ModelArtifactInvalid, match=r"probability\.onnx: not a valid ONNX model"):
        load_model(folder)


def test_an_altered_card_is_refused(copy_of):
    folder = copy_of("churn")
    rewrite_card(folder, lambda card: card.update(beats_baselines=True, shortfalls=[], seed=8))

    with pytest.raises(ModelArtifactInvalid, match="the card was altered"):
        load_model(folder)


def test_a_missing_model_file_and_a_missing_card_are_named(copy_of):
    folder = copy_of("next_purchase")
    (folder / "days.onnx").unlink()

    with pytest.raises(ModelArtifactInvalid, match=r"days\.onnx: model file missing"):
        load_model(folder)
    (folder / "card.json").unlink()
    with pytest.raises(ModelArtifactInvalid, match="no model card"):
        load_model(folder)


def test_the_loaded_model_predicts_probabilities(trained, built):
    _, results = trained
    model = load_model(results["churn"].path)
    x = built.examples["churn"].x[:200]

    probabilities = model.predict(FeatureRows(["customer"] * len(x), x))["probability"]

    assert np.all((probabilities >= 0) & (probabilities <= 1))


def _sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
