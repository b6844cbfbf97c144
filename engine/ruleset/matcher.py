"""The one adapter to durable-rules; nothing else in Forestall imports it.

durable-rules is fast but unmaintained and crashes on easy inputs (see
shared/DURABLE_RULES.md). This module keeps to its safe pattern:

- no dispatcher threads (`_run` does nothing), so actions run only inside our call;
- one session per matcher, used under a lock: the C core never releases the GIL,
  so the lock costs no throughput, and no session is ever shared or deleted;
- facts are asserted, the fired rules collected, then every fact retracted;
- numbers are written without a bare exponent, which the C parser rejects;
- attribute names are checked for 32-bit FNV-1a collisions, which make the C core
  confuse two attributes;
- the C handle is freed explicitly when a rule set is retired.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import durable_rules_engine  # type: ignore[import-untyped]
import structlog
from durable.engine import Host  # type: ignore[import-untyped]

from engine.errors import ForestallError
from engine.ruleset.limits import LARGEST_NUMBER, MAX_RULES, SMALLEST_NUMBER, fnv1a_32

log = structlog.get_logger(__name__)

SESSION_ID = "0"
# The result codes of durable_rules_engine.assert_fact / retract_fact (see durable/engine.py).
_NOT_HANDLED, _OBSERVED, _STORED_NO_STATE = 1, 2, 3


class MatcherError(ForestallError):
    """durable-rules refused a rule set; the message says which rule where it can tell."""


@dataclass(frozen=True, order=True)
class Match:
    rule_id: str
    # One fact per pattern of the rule, in the rule's order: the primary subject first.
    fact_ids: tuple[str, ...]


@dataclass
class MatchResult:
    matches: list[Match] = field(default_factory=list)
    # Facts durable-rules failed on (its error 303 and kin): logged and counted, not raised.
    failed_fact_ids: list[str] = field(default_factory=list)


def json_safe_number(value: int | float) -> int | float:
    """A number in the range durable-rules' parser accepts (callers drop non-finite ones)."""
    if isinstance(value, int):
        return max(-int(LARGEST_NUMBER), min(int(LARGEST_NUMBER), value))
    value = max(-LARGEST_NUMBER, min(LARGEST_NUMBER, round(value, 6)))
    return 0.0 if abs(value) < SMALLEST_NUMBER else value


class _QuietHost(Host):  # type: ignore[misc]
    """A Host that starts no threads and routes every rule's action to one callback."""

    def __init__(self, on_fire: Any, patterns: Mapping[str, Sequence[str]]) -> None:
        self._on_fire = on_fire
        self._patterns = patterns
        super().__init__()

    def _run(self) -> None:
        # The default starts dispatcher timers every 0.2 s that run actions on
        # their own thread and race the caller (SIGSEGV under load).
        pass

    def get_action(self, rule_id: str) -> Any:
        names = self._patterns[rule_id]
        # durable-rules hands the matched facts over by pattern name.
        return lambda closure: self._on_fire(Match(rule_id, tuple(closure._m[name]["id"] for name in names)))


class Matcher:
    """Matches facts against one compiled rule set, held by one durable-rules ruleset."""

    _names = itertools.count()

    def __init__(
        self,
        definitions: Mapping[str, Mapping[str, Any]],
        known_attributes: Iterable[str] = (),
        read: Iterable[str] | None = None,
    ) -> None:
        """`read`: the dotted fields the rules read; a fact's other fields are not sent to the C
        core (its cost follows the attributes it parses). None sends everything."""
        if len(definitions) > MAX_RULES:
            raise MatcherError(f"{len(definitions)} rules exceed the limit of {MAX_RULES} per rule set")
        self._lock = threading.Lock()
        self._fired: list[Match] = []
        self._hashes: dict[int, str] = {}
        self._checked: dict[str, set[str]] = {}
        self._read = None if read is None else {"id", "subject", *read, *(f.split(".", 1)[0] for f in read)}
        self.failures = 0
        self._name = f"forestall_{next(self._names)}"
        for name in known_attributes:
            self._check_attribute(name)
        patterns = {rule_id: [name for pattern in d["all"] for name in pattern] for rule_id, d in definitions.items()}
        host = _QuietHost(self._fired.append, patterns)
        # Ruleset() deletes the "run" keys of what it is given: hand it a copy.
        ruleset = {rule_id: {**copy.deepcopy(dict(d)), "run": rule_id} for rule_id, d in definitions.items()}
        try:
            host.register_rulesets({self._name: ruleset})
        except Exception as exc:
            raise MatcherError(f"durable-rules refused the rule set: {exc}") from exc
        self._host = host
        self._ruleset = host.get_ruleset(self._name)
        self._handle = self._ruleset._handle
        self._closed = False

    def _check_attribute(self, name: str) -> None:
        other = self._hashes.setdefault(fnv1a_32(name), name)
        if other != name:
            raise MatcherError(f"attribute names `{other}` and `{name}` collide in durable-rules' hash; rename one")

    def _message(self, fact: Mapping[str, Any], parent: str = "") -> dict[str, Any]:
        """A copy of the fact that the C core parses safely: checked names, no bare exponents.

        This runs for every attribute of every fact, so it tests exact types and
        remembers the names it has checked, per parent.
        """
        checked = self._checked.setdefault(parent, set())
        message: dict[str, Any] = {}
        for key, value in fact.items():
            if self._read is not None and (f"{parent}.{key}" if parent else key) not in self._read:
                continue
            if key not in checked:
                self._check_attribute(f"{parent}.{key}" if parent else key)
                checked.add(key)
            kind = type(value)
            if kind is dict:
                message[key] = self._message(value, f"{parent}.{key}" if parent else key)
            elif kind is float:
                if SMALLEST_NUMBER <= abs(value) < LARGEST_NUMBER or value == 0:
                    message[key] = value
                elif math.isfinite(value):
                    message[key] = json_safe_number(value)
            elif kind is int and not -LARGEST_NUMBER < value < LARGEST_NUMBER:
                message[key] = json_safe_number(value)
            else:
                message[key] = value
        return message

    def match(self, facts: Sequence[Mapping[str, Any]]) -> MatchResult:
        """Every (rule, fact) pair that fires; a fact durable-rules fails on is reported, not raised."""
        result = MatchResult()
        with self._lock:
            if self._closed:
                raise MatcherError("this rule set was retired")
            self._fired.clear()
            stored = []
            try:
                for fact in facts:
                    text = json.dumps({**self._message(fact), "sid": SESSION_ID}, ensure_ascii=False)
                    try:
                        if self._apply(durable_rules_engine.assert_fact, text):
                            stored.append(text)
                    except Exception as exc:
                        self.failures += 1
                        result.failed_fact_ids.append(str(fact.get("id")))
                        log.error("rule_matching_failed", fact_id=fact.get("id"), error=str(exc))
                        stored.append(text)  # it may be stored: retract it to be sure
                # A fact that satisfies two branches of an `any` fires the rule once per branch.
                result.matches = list(dict.fromkeys(self._fired))
            finally:
                for text in stored:
                    self._retract(text)
        return result

    def _apply(self, operation: Any, text: str) -> bool:
        """Assert or retract one message and run the actions it fires, as `Host` does,
        without its exceptions for the normal no-match (they serialise the message again).
        Returns whether durable-rules took the message (False: it matched nothing)."""
        code, state = operation(self._handle, text)
        if code == _NOT_HANDLED:
            return False
        if code == _OBSERVED:
            raise MatcherError("the same fact was asserted twice")
        failure: list[BaseException] = []
        self._ruleset.do_actions(
            0 if code == _STORED_NO_STATE else state, lambda error, _: failure.extend([error] if error else [])
        )
        if failure:
            raise failure[0]
        return True

    def _retract(self, text: str) -> None:
        try:
            self._apply(durable_rules_engine.retract_fact, text)
        except Exception as exc:
            log.error("rule_retract_failed", error=str(exc))

    def close(self) -> None:
        """Free the C ruleset; call once no request uses this matcher any more."""
        with self._lock:
            if not self._closed:
                self._closed = True
                durable_rules_engine.delete_ruleset(self._handle)
