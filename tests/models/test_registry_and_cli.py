"""Promotion and the `forestall train` and `forestall models` commands as a user runs them."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import pytest

from engine.events import Purchase
from engine.models.registry import PromotionRefused, entries, load_promoted, promote, promoted
from engine.models.synthetic import population
from engine.store import open_store
from tests.conftest import REPO, RULES
from tests.models.conftest import UNTIL

FORESTALL = [sys.executable, "-m", "engine.cli.main"]


def _run(*args):
    return subprocess.run([*FORESTALL, *args], cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.fixture
def models_dir(trained, tmp_path):
    source, _ = trained
    return shutil.copytree(source, tmp_path / "models")


def test_promotion_writes_the_pointer_and_the_promoted_model_loads(models_dir, trained):
    _, results = trained
    version = results["churn"].card.version

    promote(models_dir, "churn", version)

    assert promoted(models_dir) == {"churn": version}
    assert load_promoted(models_dir, "churn").card.version == version
    assert [e.promoted for e in entries(models_dir, "churn")] == [True]
    assert not list(models_dir.glob(".promoted.json.*"))  # no partial file left behind


def test_a_flagged_model_is_promoted_only_by_force(built, models_dir):
    from engine.models.pipeline import train_all
    from engine.models.train import Hyperparameters
    from tests.models.conftest import PERIOD, SCHEMAS

    stump = Hyperparameters(max_iter=1, max_leaf_nodes=2, learning_rate=0.01)
    [flagged] = train_all(
        built, SCHEMAS, PERIOD, models_dir, seed=7, source="g", names=["churn"], hyperparameters=stump
    )

    with pytest.raises(PromotionRefused, match=r"does not beat its baselines .*; use --force"):
        promote(models_dir, "churn", flagged.card.version)
    assert promoted(models_dir) == {}
    promote(models_dir, "churn", flagged.card.version, force=True)
    assert promoted(models_dir) == {"churn": flagged.card.version}


def test_train_then_list_show_and_promote_from_the_command_line(tmp_path):
    store = open_store(tmp_path / "history.db")
    store.ingest([e for history in population(UNTIL, 700) for e in history])
    store.close()
    models = tmp_path / "models"

    trained = _run(
        "train", "--store", str(tmp_path / "history.db"), "--models-dir", str(models),
        "--rules-dir", str(RULES), "--workers", "2", "--format", "json",
    )  # fmt: skip

    assert trained.returncode in (0, 2), trained.stderr
    report = json.loads(trained.stdout)
    by_name = {m["model"]: m for m in report["models"]}
    assert set(by_name) == {"next_purchase", "response", "churn"}
    assert "deriving facts: 700 of 700 customers" in trained.stderr
    version = by_name["next_purchase"]["version"]
    assert trained.returncode == (0 if all(m["beats_baselines"] for m in report["models"]) else 2)

    listing = _run("models", "list", "--models-dir", str(models))
    assert listing.returncode == 0 and f"next_purchase {version}" in listing.stdout
    shown = _run("models", "show", "next_purchase", version, "--models-dir", str(models))
    assert shown.returncode == 0 and "| probability | roc_auc |" in shown.stdout
    promoting = _run("models", "promote", "next_purchase", version, "--models-dir", str(models))
    assert promoting.returncode == 0, promoting.stderr
    assert json.loads((models / "promoted.json").read_text()) == {"next_purchase": version}
    assert "* next_purchase" in _run("models", "list", "--models-dir", str(models)).stdout


def test_promoting_a_corrupt_model_exits_1_and_says_why(models_dir, trained):
    _, results = trained
    version = results["response"].card.version
    (models_dir / "response" / version / "probability.onnx").write_bytes(b"\x80\x04junk")

    result = _run("models", "promote", "response", version, "--models-dir", str(models_dir))

    assert result.returncode == 1
    assert "is a Python pickle, refused" in result.stderr
    assert not (models_dir / "promoted.json").exists()


def test_an_unknown_model_version_exits_1(models_dir):
    result = _run("models", "show", "churn", "20990101-000000000000", "--models-dir", str(models_dir))

    assert result.returncode == 1
    assert "model version 'churn 20990101-000000000000' not found" in result.stderr


def test_train_from_a_purchase_export_file(tmp_path):
    export = tmp_path / "sales.csv"
    buyers = set()
    with export.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["event_id", "customer_id", "occurred_at", "product_id", "quantity", "unit_price"])
        for history in population(UNTIL, 700):
            for event in history:
                if isinstance(event.payload, Purchase):
                    buyers.add(event.customer_id)
                    for item in event.payload.items:
                        row = [item.product_id, item.quantity, item.unit_price]
                        writer.writerow([event.event_id, event.customer_id, event.occurred_at.isoformat(), *row])
    models = tmp_path / "models"

    trained = _run(
        "train", "--from-file", str(export), "--models-dir", str(models), "--rules-dir", str(RULES),
        "--model", "next_purchase", "--model", "churn", "--format", "json",
    )  # fmt: skip

    assert trained.returncode in (0, 2), trained.stderr
    report = json.loads(trained.stdout)
    assert {m["model"] for m in report["models"]} == {"next_purchase", "churn"}
    card = json.loads(next(models.glob("churn/*/card.json")).read_text())
    assert card["data"]["source"] == "file sales.csv"
    assert card["data"]["customers"] == len(buyers)
