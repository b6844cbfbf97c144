"""Reload and watch: a valid change swaps in whole, a broken one changes nothing, a crash in the C core is contained."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.errors import RuleError, RuleSetInvalid
from engine.ruleset.live import LiveRuleSet
from engine.ruleset.probe import probe_folder, run_in_child
from tests.conftest import DATA, RULES

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def live(rules_dir: Path) -> Iterator[LiveRuleSet]:
    rules = LiveRuleSet(rules_dir, NOW)
    yield rules
    rules.close()


def _change_value(rules_dir: Path, old: str = "value: 120", new: str = "value: 150") -> None:
    path = rules_dir / "maintenance.yaml"
    path.write_text(path.read_text().replace(old, new))


def test_a_valid_change_swaps_in_and_a_request_in_flight_finishes_on_the_old_set(live, rules_dir):
    before = live.current.ruleset.version
    with live.use() as in_flight:
        _change_value(rules_dir)
        result = live.reload(NOW)
        assert result.reloaded and result.version != before
        # the old matcher still serves the request that started on it
        assert in_flight.ruleset.version == before
        assert in_flight.matcher.match([]).matches == []
    assert live.current.ruleset.by_id["boiler-service-due"].rule.then.value == 150
    with pytest.raises(Exception, match="retired"):
        in_flight.matcher.match([])  # freed once its last request finished


def test_a_broken_change_is_rejected_and_the_old_set_stays(live, rules_dir):
    serving = live.current
    shutil.copy(DATA / "rules" / "syntax.yaml", rules_dir / "syntax.yaml")

    result = live.reload(NOW)

    assert not result.reloaded
    assert [e.code for e in result.errors] == ["yaml-syntax"]
    assert live.current is serving
    assert live.last_reload_errors == result.errors


def _crash(folder: Path) -> dict[str, object]:
    os.kill(os.getpid(), signal.SIGSEGV)  # as durable-rules' C core does on some rule sets
    return {}


def _hang(folder: Path) -> dict[str, object]:
    time.sleep(60)
    return {}


def test_a_crash_while_compiling_is_reported_with_its_signal(rules_dir):
    with pytest.raises(RuleSetInvalid) as raised:
        run_in_child(_crash, rules_dir, timeout=30)

    [error] = raised.value.errors
    assert (error.code, error.message) == ("engine-crashed", "compiling the rules crashed the rule engine (signal 11)")


def test_a_hang_while_compiling_is_cut_short(rules_dir):
    started = time.monotonic()
    with pytest.raises(RuleSetInvalid) as raised:
        run_in_child(_hang, rules_dir, timeout=0.5)

    assert time.monotonic() - started < 5
    assert [e.code for e in raised.value.errors] == ["engine-hung"]


def test_a_rejected_probe_leaves_the_old_set_serving(live, rules_dir, monkeypatch):
    serving = live.current
    _change_value(rules_dir)
    refusal = RuleSetInvalid([RuleError(str(rules_dir), 1, 1, "engine-crashed", "crashed")])
    monkeypatch.setattr("engine.ruleset.live.probe_folder", lambda *_: (_ for _ in ()).throw(refusal))

    result = live.reload(NOW)

    assert not result.reloaded
    assert [e.code for e in result.errors] == ["engine-crashed"]
    assert live.current is serving


def test_the_probe_compiles_the_sample_rules_to_the_version_loaded_here():
    loaded = LiveRuleSet(RULES, NOW)
    try:
        assert probe_folder(RULES) == loaded.current.ruleset.version
    finally:
        loaded.close()


def test_the_watcher_picks_up_a_change_within_two_seconds(live, rules_dir):
    stop = threading.Event()
    watcher = threading.Thread(target=live.watch, args=(lambda: NOW, stop, 0.2))
    watcher.start()
    try:
        before = live.current.ruleset.version
        _change_value(rules_dir)
        changed_at = time.monotonic()
        while live.current.ruleset.version == before and time.monotonic() - changed_at < 10:
            time.sleep(0.05)
        assert live.current.ruleset.version != before
        assert time.monotonic() - changed_at < 2
    finally:
        stop.set()
        watcher.join()


def test_the_watcher_does_not_retry_a_rejected_version(live, rules_dir):
    shutil.copy(DATA / "rules" / "syntax.yaml", rules_dir / "syntax.yaml")
    live.reload(NOW)
    tried = live.tried_version
    stop = threading.Event()
    calls = []
    live.reload = lambda now: calls.append(now)  # type: ignore[method-assign]
    watcher = threading.Thread(target=live.watch, args=(lambda: NOW, stop, 0.05))
    watcher.start()
    time.sleep(0.5)
    stop.set()
    watcher.join()

    assert calls == []
    assert live.tried_version == tried
