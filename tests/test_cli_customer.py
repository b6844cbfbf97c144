"""`forestall customer export|forget` on either store, as a user runs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.store import open_store
from engine.store.base import StoredOutcome
from engine.vocabulary import Outcome
from tests.store.test_store_contract import REDIS_URL, T0, _decision, _purchase, redis_keyspace
from tests.test_cli import _run


@pytest.fixture(params=["sqlite", "redis"])
def location(request, tmp_path: Path) -> Iterator[str]:
    """A store holding ann (two events, a decision, an outcome) and bob (one event)."""
    if request.param == "sqlite":
        yield from _filled(str(tmp_path / "store.db"))
    else:
        with redis_keyspace() as prefix:
            yield from _filled(f"{REDIS_URL}?key_prefix={prefix}")


def _filled(location: str) -> Iterator[str]:
    store = open_store(location)
    store.ingest([_purchase("e1", "ann"), _purchase("e2", "ann", day=1), _purchase("e1", "bob")])
    store.save_decision(_decision("d1", "ann"))
    store.record_outcome(StoredOutcome("d1", "a1", Outcome.CONVERTED, T0, 25.0))
    store.close()
    yield location


def test_export_prints_everything_held_on_the_customer_as_json(location):
    result = _run("customer", "export", "ann", "--store", location)

    assert result.returncode == 0, result.stderr
    export = json.loads(result.stdout)
    assert [e["event_id"] for e in export["events"]] == ["e1", "e2"]
    [decision] = export["decisions"]
    assert (decision["decision_id"], decision["outcomes"][0]["amount"]) == ("d1", 25.0)


def test_forget_needs_yes_and_then_erases_everything_held_on_the_customer(location):
    refused = _run("customer", "forget", "ann", "--store", location)
    assert refused.returncode == 2
    assert "--yes" in refused.stderr

    result = _run("customer", "forget", "ann", "--store", location, "--yes")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "customer ann: 4 records erased (events, decisions and outcomes)\n"
    store = open_store(location)
    try:
        assert store.export_customer("ann") == {
            "customer_id": "ann",
            "events": [],
            "derived_state": None,
            "decisions": [],
        }
        assert list(store.customer_ids()) == ["bob"]
    finally:
        store.close()


def test_an_unreachable_store_exits_1_with_the_reason():
    result = _run("customer", "export", "ann", "--store", "redis://127.0.0.1:1/0?socket_connect_timeout=0.5")

    assert result.returncode == 1
    assert result.stderr.startswith("forestall: redis store redis://127.0.0.1:1/0: ")
    assert "Traceback" not in result.stderr
