"""Training reads the stored history the same way from either store: a generated history put in
Redis and in SQLite gives the same rows, the same data digest and the same model files."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.models.pipeline import train_all
from engine.models.sources import from_store, history_end
from engine.models.synthetic import population
from engine.models.train import data_digest
from engine.store import open_store
from tests.models.conftest import CATALOGUE, PERIOD, SCHEMAS, UNTIL
from tests.store.test_store_contract import REDIS_URL, redis_keyspace

CUSTOMERS = 300


@pytest.fixture(scope="module")
def locations(tmp_path_factory: pytest.TempPathFactory):
    """The same generated history in a SQLite file and under a Redis key prefix of this test's own."""
    sqlite = str(tmp_path_factory.mktemp("sqlite") / "history.db")
    with redis_keyspace() as prefix:
        redis = f"{REDIS_URL}?key_prefix={prefix}"
        for location in (sqlite, redis):
            store = open_store(location)
            for history in population(UNTIL, CUSTOMERS, seed=13):
                store.ingest(history)
            store.close()
        yield {"sqlite": sqlite, "redis": redis}


def test_training_from_redis_reads_the_same_history_as_from_sqlite(locations, tmp_path: Path):
    ends = {}
    built = {}
    for name, location in locations.items():
        store = open_store(location)
        ends[name] = history_end(store)
        store.close()
        # Redis is read by two worker processes, each with its own connection; SQLite in this one.
        built[name] = from_store(location, 10_000, CATALOGUE, PERIOD, SCHEMAS, workers=2 if name == "redis" else 1)

    assert ends["redis"] == ends["sqlite"] is not None
    redis, sqlite = built["redis"], built["sqlite"]
    assert (redis.customers, redis.events) == (sqlite.customers, sqlite.events) and redis.customers == CUSTOMERS
    assert redis.summary() == sqlite.summary()
    for model in SCHEMAS:
        assert len(redis.examples[model].y) > 0
        assert data_digest(redis.examples[model]) == data_digest(sqlite.examples[model]), model

    # The same rows train the same model: one model's files show it (training them all takes long).
    [from_redis], [from_sqlite] = (
        train_all(b, SCHEMAS, PERIOD, tmp_path / name, seed=7, source="store", names=["churn"])
        for name, b in built.items()
    )
    assert from_redis.card is not None and from_sqlite.card is not None
    assert from_redis.card.data["digest"] == from_sqlite.card.data["digest"]
    assert from_redis.card.artifacts == from_sqlite.card.artifacts  # the ONNX file's sha256
    assert (from_redis.path / "probability.onnx").read_bytes() == (from_sqlite.path / "probability.onnx").read_bytes()
