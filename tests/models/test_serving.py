"""Serving models in decisions: scores in facts and ranking, what is served equals what
scikit-learn predicts, and a missing, corrupt or incompatible model never stops a decision."""

from __future__ import annotations

import json
import pickle
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from engine.api.generated import admin_pb2, admin_pb2_grpc, decision_pb2, decision_pb2_grpc
from engine.api.server import start_server
from engine.config import Settings
from engine.decision.engine import DecisionEngine
from engine.decision.types import DecideRequest, Decision
from engine.events import ContactOutcome, Event
from engine.features.derive import Touch, derive_facts
from engine.models.artifacts import session_from_bytes
from engine.models.convert import onnx_bytes
from engine.models.features import FeatureSchema, feature_rows
from engine.models.registry import PROMOTED_FILE, promote
from engine.models.serving import LiveModels
from engine.models.train import Hyperparameters
from engine.ruleset.live import LiveRuleSet
from engine.store.sqlite import SqliteStore
from engine.vocabulary import Channel, Outcome
from tests.features.builders import AS_OF, CATALOGUE, bought, event
from tests.models.conftest import rewrite_card

MODELS = ("churn", "next_purchase", "response")
# Fires for any customer the churn model scores: so the rule shows `score.churn` reached its condition.
SCORED_RULE = """
rules:
  - id: scored-customer
    description: any customer with a churn score
    family: problem_prevention
    when:
      fact: score.churn
      at_least: 0
    then:
      offer: care-call
      value: 10
      priority: 1
      channels: [email, sms]
"""

NEXT_PURCHASE_RULE = """
rules:
  - id: coffee-next-purchase
    description: a coffee buyer with a next-purchase score
    family: planned_purchase
    when:
      all:
        - {fact: consumable.category, equals: coffee}
        - {fact: score.next_purchase, at_least: 0}
    then: {offer: coffee-refill, value: 1, priority: 1, channels: [email]}
"""


@pytest.fixture
def models_dir(trained, tmp_path) -> Path:
    """A copy of the session's trained models, each promoted (forced: serving is tested here, not training)."""
    source, results = trained
    folder = Path(shutil.copytree(source, tmp_path / "models"))
    for name in MODELS:
        promote(folder, name, results[name].card.version, force=True)
    return folder


@pytest.fixture
def scored_rules(rules_dir: Path) -> Path:
    (rules_dir / "scored.yaml").write_text(SCORED_RULE)
    return rules_dir


@pytest.fixture
def engine_for(tmp_path, scored_rules) -> Iterator:
    opened = []

    def engine(models: Path) -> DecisionEngine:
        rules = LiveRuleSet(scored_rules, AS_OF)
        store = SqliteStore(tmp_path / f"store-{len(opened)}.db")
        opened.append((rules, store))
        return DecisionEngine(store, rules, LiveModels(models))

    yield engine
    for rules, store in opened:
        rules.close()
        store.close()


def _sms_responder(customer: str = "c") -> list[Event]:
    """A boiler owner due for a service, who accepts offers by sms and dismisses them by email."""
    contacts = [
        event(20 + 30 * n, ContactOutcome(decision_id=f"d{n}", action_id="a", channel=channel, outcome=outcome))
        for n, (channel, outcome) in enumerate(
            [(Channel.SMS, Outcome.ACCEPTED), (Channel.EMAIL, Outcome.DISMISSED)] * 4
        )
    ]
    history = [bought(350, "boiler-ecotherm-30", price=900), bought(5, "coffee-beans-1kg"), *contacts]
    return [e.model_copy(update={"customer_id": customer}) for e in history]


def _decide(engine: DecisionEngine, customer: str = "c") -> Decision:
    engine.ingest(_sms_responder(customer))
    return engine.decide(DecideRequest(customer, AS_OF))


def _action(decision: Decision, rule_id: str):
    return next(a for a in decision.actions if a.reason.rule_id == rule_id)


# ---- what is served --------------------------------------------------------------------------------


def test_the_served_scores_equal_scikit_learns(built):
    examples = built.examples["next_purchase"]
    x, y, days = examples.x[:3000], examples.y[:3000], examples.days[:3000]
    params = {**asdict(Hyperparameters()), "early_stopping": False}
    classifier = HistGradientBoostingClassifier(**params, random_state=7).fit(x, y.astype(int))
    regressor = HistGradientBoostingRegressor(**params, random_state=7).fit(x, days)
    columns = x.shape[1]

    probability = session_from_bytes(onnx_bytes(classifier, columns, "p")).run(None, {"X": x})[1][:, 1]
    predicted_days = session_from_bytes(onnx_bytes(regressor, columns, "d")).run(None, {"X": x})[0].ravel()

    np.testing.assert_allclose(probability, classifier.predict_proba(x)[:, 1], atol=1e-6)
    np.testing.assert_allclose(predicted_days, regressor.predict(x), atol=1e-4)


def test_scores_reach_rule_conditions_and_the_response_model_ranks_and_picks_the_channel(engine_for, models_dir):
    decision = _decide(engine_for(models_dir))

    assert decision.ranked_by_model
    assert decision.model_version == ",".join(
        f"{name}={json.loads((models_dir / PROMOTED_FILE).read_text())[name]}" for name in MODELS
    )
    scored = _action(decision, "scored-customer")
    assert 0 <= float(scored.reason.matched_facts["score.churn"]) <= 1
    boiler = _action(decision, "boiler-service-due")
    assert boiler.channel == Channel.SMS  # allowed [email, sms, pos]: the one this customer answers on
    sms = float(boiler.reason.score_explanation.split("response on sms ")[1].split(" ")[0])
    assert boiler.score == pytest.approx(5 * 120 * sms, rel=1e-3)
    assert "(response model)" in boiler.reason.score_explanation


def test_a_decision_serves_the_scores_of_the_rows_derived_from_the_customers_history(
    engine_for, models_dir, scored_rules
):
    # A rule about consumables reads its category's next-purchase score: no rule reads category facts.
    (scored_rules / "next_purchase.yaml").write_text(NEXT_PURCHASE_RULE)
    engine = engine_for(models_dir)
    decision = _decide(engine)
    facts = derive_facts(_sms_responder(), CATALOGUE, AS_OF, Touch(None))
    models = engine.models.current.models

    def predicted(name):
        rows = feature_rows(models[name].schema, facts)
        return dict(zip(rows.keys, models[name].predict(rows)["probability"].tolist(), strict=True))

    churn = float(_action(decision, "scored-customer").reason.matched_facts["score.churn"])
    assert churn == round(predicted("churn")["customer"], 4)
    explained = _action(decision, "boiler-service-due").reason.score_explanation
    assert f"response on sms {round(predicted('response')['sms'], 4):g} " in explained
    coffee = float(_action(decision, "coffee-next-purchase").reason.matched_facts["score.next_purchase"])
    assert coffee == round(predicted("next_purchase")["coffee"], 4)


def test_a_customer_with_no_category_is_scored_by_the_other_models_in_the_same_call(models_dir):
    served = LiveModels(models_dir).current
    history = [event(3, ContactOutcome(decision_id="d", action_id="a", outcome=Outcome.OPENED, channel=Channel.SMS))]
    facts = derive_facts(history, CATALOGUE, AS_OF, Touch(None))

    scores = served.score(facts, served.models)

    assert scores.categories == {}  # no purchase: next purchase has no row
    assert 0 <= scores.customer["churn"] <= 1
    assert sorted(scores.propensity) == sorted(c.value for c in Channel)


def test_the_touchpoint_channel_is_kept_when_the_rule_allows_it(engine_for, models_dir):
    engine = engine_for(models_dir)
    engine.ingest(_sms_responder())

    decision = engine.decide(DecideRequest("c", AS_OF, Channel.EMAIL))

    assert _action(decision, "boiler-service-due").channel == Channel.EMAIL


def test_without_models_decisions_rank_by_rule_priority_and_say_so(engine_for, tmp_path):
    decision = _decide(engine_for(tmp_path / "no-models"))

    assert (decision.model_version, decision.ranked_by_model) == ("", False)
    assert "scored-customer" not in [a.reason.rule_id for a in decision.actions]  # no score: no match
    boiler = _action(decision, "boiler-service-due")
    assert boiler.score == 5 * 120
    assert "no response model serving" in boiler.reason.score_explanation


# ---- bad artifacts ------------------------------------------------------------------------------------


def _promoted_folder(models_dir: Path, name: str) -> Path:
    return models_dir / name / json.loads((models_dir / PROMOTED_FILE).read_text())[name]


def _corrupt(folder: Path) -> None:
    path = folder / "probability.onnx"
    body = bytearray(path.read_bytes())
    body[len(body) // 2] ^= 0xFF
    path.write_bytes(bytes(body))


def _pickle(folder: Path) -> None:
    (folder / "probability.onnx").write_bytes(pickle.dumps({"model": "anything"}))


def _incompatible(folder: Path) -> None:
    """A model sealed by an engine that derived a field this one does not."""

    def rename_a_field(card: dict) -> None:
        card["feature_schema"]["features"][0]["source"] = "customer.shoe_size"
        card["schema_digest"] = FeatureSchema.from_document(card["feature_schema"]).digest

    rewrite_card(folder, rename_a_field, reseal=True)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [(_corrupt, "differs from the sha256"), (_pickle, "pickle"), (_incompatible, "customer.shoe_size is not a fact")],
    ids=["corrupt", "pickle", "schema-mismatch"],
)
def test_a_bad_promoted_model_is_refused_and_decisions_keep_flowing(engine_for, models_dir, damage, problem):
    damage(_promoted_folder(models_dir, "response"))
    engine = engine_for(models_dir)

    decision = _decide(engine)

    [status] = [s for s in engine.models.current.statuses if s.name == "response"]
    assert (status.serving, problem in status.problem) == ("", True)
    assert "response=" not in decision.model_version and "churn=" in decision.model_version
    assert not decision.ranked_by_model  # no response model: rule priority, and the reason says so
    assert "no response model serving" in _action(decision, "boiler-service-due").reason.score_explanation


def test_a_broken_new_promotion_leaves_the_serving_version_in_place(models_dir):
    live = LiveModels(models_dir)
    serving = _promoted_folder(models_dir, "churn")
    broken = shutil.copytree(serving, serving.parent / "20990101-000000000000")
    _corrupt(broken)
    pointers = json.loads((models_dir / PROMOTED_FILE).read_text())
    (models_dir / PROMOTED_FILE).write_text(json.dumps({**pointers, "churn": broken.name}))

    live.reload()

    [status] = [s for s in live.current.statuses if s.name == "churn"]
    assert (status.promoted, status.serving) == (broken.name, serving.name)
    assert "differs from the sha256" in status.problem
    assert live.current.models["churn"].card.version == serving.name


def test_a_promotion_is_picked_up_while_serving(trained, tmp_path):
    source, results = trained
    folder = Path(shutil.copytree(source, tmp_path / "models"))
    live = LiveModels(folder)
    stop = threading.Event()
    watcher = threading.Thread(target=live.watch, args=(stop, 0.05), daemon=True)
    watcher.start()
    try:
        assert live.current.version == ""
        promote(folder, "churn", results["churn"].card.version, force=True)
        deadline = time.monotonic() + 10
        while "churn=" not in live.current.version and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        watcher.join()

    assert live.current.version == f"churn={results['churn'].card.version}"


# ---- through the server -----------------------------------------------------------------------------------


def test_the_server_serves_the_promoted_models_and_reports_them(models_dir, scored_rules, tmp_path):
    settings = Settings(
        port=0,
        store=tmp_path / "served.db",
        rules_dir=scored_rules,
        models_dir=models_dir,
        rules_poll_seconds=0,
        models_poll_seconds=0,
    )
    running = start_server(settings)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            running.engine.ingest(_sms_responder("ann"))
            response = decision_pb2_grpc.DecisionServiceStub(channel).Decide(
                decision_pb2.DecideRequest(customer_id="ann", as_of=_timestamp())
            )
            status = admin_pb2_grpc.AdminServiceStub(channel).GetStatus(admin_pb2.GetStatusRequest())
    finally:
        running.stop(grace=1)

    assert response.ranking_basis == decision_pb2.RANKING_BASIS_MODEL
    assert response.model_version == status.model_version != ""
    assert [(m.name, m.serving_version == m.promoted_version != "", m.problem) for m in status.models] == [
        (name, True, "") for name in MODELS
    ]
    assert status.models_dir == str(models_dir)


def _timestamp() -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(AS_OF)
    return stamp
