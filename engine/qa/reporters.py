"""Rule test reporters, in the manner of OPA's tester: one interface, pretty and JSON.

Pretty prints each test as it finishes (PASS or FAIL with file:line; for a
failure what was expected, what came back and why) and ends with the line
`N passed, M failed` alone, for CI tools to read. JSON prints one document:

    {"rules_version": "63a2dff3c247", "passed": 1, "failed": 0, "errors": [],
     "tests": [{"name": ..., "file": ..., "line": 4, "as_of": ..., "passed": true,
                "expected": {"expect": [...], "expect_not": [...], "expect_offers": [...], "expect_empty": false},
                "actions": [{"rule_id": ..., "offer_id": ..., "channel": ..., "matched_facts": {...}}],
                "failures": [{"expectation": ..., "subject": ..., "message": ..., "facts": [{...}]}]}]}

When the rules or the tests fail to load, `errors` lists them
(`{"file", "line", "column", "code", "message"}`) and `tests` is empty.
"""

from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from engine.errors import RuleSetInvalid
from engine.qa.runner import RuleTestResult

RULE = "-" * 80


class _Outcome(Protocol):
    @property
    def passed(self) -> bool: ...


@dataclass
class Summary:
    """Counts of a run: of rule tests here, of scenarios in replay."""

    passed: int = 0
    failed: int = 0

    def add(self, result: _Outcome) -> None:
        if result.passed:
            self.passed += 1
        else:
            self.failed += 1

    def __str__(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"


class Reporter(ABC):
    """Reports a run of rule tests, or why none could run, to `output`."""

    def __init__(self, output: TextIO) -> None:
        self.output = output

    @abstractmethod
    def report(self, results: Iterable[RuleTestResult], rules_version: str) -> Summary:
        """Report each result as it comes; returns the counts."""

    @abstractmethod
    def report_errors(self, problem: RuleSetInvalid) -> None:
        """Report the located errors that kept the rules or the tests from loading."""


class PrettyReporter(Reporter):
    def report(self, results: Iterable[RuleTestResult], rules_version: str) -> Summary:
        summary = Summary()
        for result in results:
            summary.add(result)
            verdict = "PASS" if result.passed else "FAIL"
            self._print(f"{verdict} {result.test.where}: {result.test.name}")
            if not result.passed:
                self._explain(result)
        self._print(RULE)
        self._print(str(summary))
        return summary

    def report_errors(self, problem: RuleSetInvalid) -> None:
        self._print(str(problem))

    def _explain(self, result: RuleTestResult) -> None:
        test = result.test
        count = len(test.events)
        self._print(f"  as of {test.as_of.isoformat()}, with {count} event{'' if count == 1 else 's'}")
        for failure in result.failures:
            self._print(f"  {failure.message}")
            for seen in failure.facts:
                self._print(f"    it read {pairs(seen)}")
        if not result.actions:
            self._print("  actions: none")
            return
        self._print("  actions:")
        for action in result.actions:
            self._print(f"    {action.rule_id} -> {action.offer_id} via {action.channel}")
            self._print(f"      because {pairs(action.matched_facts)}")

    def _print(self, line: str) -> None:
        print(line, file=self.output, flush=True)  # flushed: each line shows progress as the tests run


class JsonReporter(Reporter):
    def report(self, results: Iterable[RuleTestResult], rules_version: str) -> Summary:
        summary = Summary()
        tests = []
        for result in results:
            summary.add(result)
            tests.append(_result_document(result))
        self._dump(rules_version, summary, [], tests)
        return summary

    def report_errors(self, problem: RuleSetInvalid) -> None:
        self._dump(None, Summary(), [dataclasses.asdict(e) for e in problem.errors], [])

    def _dump(self, rules_version: str | None, summary: Summary, errors: list[Any], tests: list[Any]) -> None:
        document = {
            "rules_version": rules_version,
            "passed": summary.passed,
            "failed": summary.failed,
            "errors": errors,
            "tests": tests,
        }
        print(json.dumps(document, indent=2), file=self.output)


REPORTERS: dict[str, type[Reporter]] = {"pretty": PrettyReporter, "json": JsonReporter}


def pairs(values: dict[str, str]) -> str:
    """`name=value, ...`; a fact absent from the customer's facts has an empty value in a reason."""
    return ", ".join(f"{name}={value or '(none)'}" for name, value in values.items())


def _result_document(result: RuleTestResult) -> dict[str, Any]:
    test = result.test
    return {
        "name": test.name,
        "file": test.file,
        "line": test.line,
        "as_of": test.as_of.isoformat(),
        "passed": result.passed,
        "expected": test.spec.model_dump(include={"expect", "expect_not", "expect_offers", "expect_empty"}),
        "actions": [dataclasses.asdict(a) for a in result.actions],
        "failures": [dataclasses.asdict(f) for f in result.failures],
    }
