"""The rule set in service, and how a new one replaces it.

A reload builds the new matcher off to the side and swaps one reference; a
request that started on the old set finishes on it, and the old set's C handle
is freed when its last request is done. An invalid folder changes nothing. The
server watches the folder and reloads on every change of its content.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog

from engine.errors import RuleError, RuleSetInvalid
from engine.features.fields import KNOWN_ATTRIBUTES
from engine.ruleset.loader import RuleSet, folder_version, load_rule_set
from engine.ruleset.matcher import Matcher, MatcherError
from engine.ruleset.probe import DEFAULT_TIMEOUT_SECONDS, probe_folder

log = structlog.get_logger(__name__)

PROBE_ATTEMPTS = 3


@dataclass
class Loaded:
    """A rule set with its matcher, and how many requests are using it."""

    ruleset: RuleSet
    matcher: Matcher
    loaded_at: datetime
    users: int = 0
    retired: bool = False


@dataclass(frozen=True)
class ReloadResult:
    reloaded: bool
    version: str
    previous_version: str
    errors: tuple[RuleError, ...] = ()


def compile_folder(folder: Path) -> tuple[RuleSet, Matcher]:
    """Load, validate and compile a folder; raises RuleSetInvalid with every error found."""
    ruleset = load_rule_set(folder)
    referenced = {f for rule in ruleset.rules for f in rule.fields}
    try:
        matcher = Matcher(
            {r.rule.id: r.definition for r in ruleset.rules}, {*KNOWN_ATTRIBUTES, *referenced}, referenced
        )
    except MatcherError as exc:
        raise RuleSetInvalid([RuleError(str(folder), 1, 1, "engine-refused", str(exc))]) from exc
    return ruleset, matcher


def validate_folder(folder: Path) -> RuleSet:
    """What `compile_folder` checks, without keeping the matcher."""
    ruleset, matcher = compile_folder(folder)
    matcher.close()
    return ruleset


class LiveRuleSet:
    """The rules folder as served: load at start, reload on demand, use per request."""

    def __init__(
        self,
        folder: Path,
        now: datetime,
        probe_timeout: float = DEFAULT_TIMEOUT_SECONDS,
        on_reload: Callable[[ReloadResult], None] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self._current = Loaded(*compile_folder(self.folder), loaded_at=now)
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self.last_reload_errors: tuple[RuleError, ...] = ()
        self.tried_version = self._current.ruleset.version
        self.probe_timeout = probe_timeout
        # Told of each reload that swapped a new rule set in or rejected one (not of an unchanged folder).
        self.on_reload = on_reload

    @property
    def current(self) -> Loaded:
        return self._current

    @contextmanager
    def use(self) -> Iterator[Loaded]:
        """The rule set to serve one request with; it stays alive until the request is done."""
        with self._lock:
            loaded = self._current
            loaded.users += 1
        try:
            yield loaded
        finally:
            with self._lock:
                loaded.users -= 1
                free = loaded.retired and loaded.users == 0
            if free:
                loaded.matcher.close()

    def reload(self, now: datetime) -> ReloadResult:
        """Load the folder again and swap it in if it is valid; otherwise keep serving the old set.

        The change is first compiled in a throwaway process (probe.py), so a crash or
        hang in durable-rules rejects it; then here, checking both saw the same files.
        """
        with self._reload_lock:
            previous = self._current.ruleset.version
            self.tried_version = folder_version(self.folder)
            if self.tried_version == previous:
                self.last_reload_errors = ()
                return ReloadResult(False, previous, previous)
            try:
                ruleset, matcher = self._compile_probed()
            except RuleSetInvalid as exc:
                self.last_reload_errors = tuple(exc.errors)
                log.warning("rules_reload_rejected", errors=[str(e) for e in exc.errors], version=previous)
                return self._reported(ReloadResult(False, previous, previous, self.last_reload_errors))
            self.last_reload_errors = ()
            self._swap(Loaded(ruleset, matcher, now))
            log.info("rules_reloaded", version=ruleset.version, previous_version=previous, rules=len(ruleset.rules))
            return self._reported(ReloadResult(True, ruleset.version, previous))

    def _reported(self, result: ReloadResult) -> ReloadResult:
        if self.on_reload is not None:
            self.on_reload(result)
        return result

    def _compile_probed(self) -> tuple[RuleSet, Matcher]:
        for _ in range(PROBE_ATTEMPTS):
            probed = probe_folder(self.folder, self.probe_timeout)
            ruleset, matcher = compile_folder(self.folder)
            if ruleset.version == probed:
                return ruleset, matcher
            matcher.close()  # the files changed between the probe and here: try again
        message = "the rules kept changing while they were being loaded; the next change will be tried"
        raise RuleSetInvalid([RuleError(str(self.folder), 1, 1, "rules-changing", message)])

    def watch(self, clock: Callable[[], datetime], stop: threading.Event, interval: float) -> None:
        """Reload whenever the folder's content changes, until `stop` is set; a rejected
        version is not tried again until the folder changes once more."""
        while not stop.wait(interval):
            if folder_version(self.folder) != self.tried_version:
                self.reload(clock())

    def _swap(self, new: Loaded) -> None:
        with self._lock:
            old, self._current = self._current, new
            old.retired = True
            free = old.users == 0
        if free:
            old.matcher.close()

    def close(self) -> None:
        with self._lock:
            self._current.retired = True
            free = self._current.users == 0
        if free:
            self._current.matcher.close()
