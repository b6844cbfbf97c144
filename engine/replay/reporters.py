"""Replay reporters, in the manner of OPA's tester: pretty and JSON, plus a JUnit file for CI.

Pretty prints each scenario as it finishes (PASS or FAIL with its file; for a failed
checkpoint what was expected, what came back and each action's reason) and ends with
`N passed, M failed` alone. JSON prints one document, the same bytes for the same
scenarios and rules on every run and in either mode (in process or `--target`): keys
sorted, times in UTC, no decision or action ids (random per process) and no timings:

    {"errors": [], "failed": 0, "passed": 1,
     "scenarios": [{"name": ..., "file": ..., "passed": true, "errors": [],
                    "checkpoints": [{"name": ..., "customer": ..., "at": ..., "line": 30, "passed": true,
                                     "ruleset_version": ..., "actions": [...], "failures": [...]}]}]}

When scenarios fail to load, `errors` lists them (`{"file", "line", "column", "code", "message"}`).
"""

from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from xml.etree import ElementTree

from engine.errors import RuleSetInvalid
from engine.qa.reporters import RULE, Summary, pairs
from engine.replay.runner import CheckResult, ScenarioResult, SeenAction


class Reporter(ABC):
    """Reports a replay run, or why it could not run, to `output`."""

    def __init__(self, output: TextIO) -> None:
        self.output = output

    @abstractmethod
    def report(self, results: Iterable[ScenarioResult]) -> Summary:
        """Report each result as it comes; returns the counts."""

    @abstractmethod
    def report_errors(self, problem: RuleSetInvalid) -> None:
        """Report the located errors that kept the scenarios or their rules from loading."""


class PrettyReporter(Reporter):
    def report(self, results: Iterable[ScenarioResult]) -> Summary:
        summary = Summary()
        for result in results:
            summary.add(result)
            self._print(f"{'PASS' if result.passed else 'FAIL'} {result.scenario.file}: {result.scenario.name}")
            for line in explain(result):
                self._print(line)
        self._print(RULE)
        self._print(str(summary))
        return summary

    def report_errors(self, problem: RuleSetInvalid) -> None:
        self._print(str(problem))

    def _print(self, line: str) -> None:
        print(line, file=self.output, flush=True)  # flushed: each line shows progress as the scenarios run


def explain(result: ScenarioResult) -> list[str]:
    """What went wrong in a scenario, indented: each failed checkpoint with what came back and why."""
    lines: list[str] = []
    for check in result.checks:
        if check.passed:
            continue
        step = check.check
        lines.append(
            f"  checkpoint `{step.name}` ({result.scenario.file}:{step.line}), {step.customer} at {_time(step.at)}"
        )
        for failure in check.failures:
            lines.append(f"    {failure.message}")
            lines += [f"      it read {pairs(seen)}" for seen in failure.facts]
        lines += _actions(check.actions)
    for error in result.errors:
        lines.append(f"  stopped at {result.scenario.file}:{error.line}, {error.customer} at {_time(error.at)}")
        lines.append(f"    {error.message}")
    return lines


def _actions(actions: Sequence[SeenAction]) -> list[str]:
    if not actions:
        return ["    got: no action"]
    lines = ["    got:"]
    for rank, action in enumerate(actions, 1):
        lines.append(f"      {rank}. {action.describe()}, score {action.score:g}")
        lines.append(f"         because {action.rule_id}: {pairs(action.matched_facts)}")
    return lines


class JsonReporter(Reporter):
    def report(self, results: Iterable[ScenarioResult]) -> Summary:
        summary = Summary()
        scenarios = []
        for result in results:
            summary.add(result)
            scenarios.append(result_document(result))
        self._dump(summary, [], scenarios)
        return summary

    def report_errors(self, problem: RuleSetInvalid) -> None:
        self._dump(Summary(), [dataclasses.asdict(e) for e in problem.errors], [])

    def _dump(self, summary: Summary, errors: list[Any], scenarios: list[Any]) -> None:
        document = {"passed": summary.passed, "failed": summary.failed, "errors": errors, "scenarios": scenarios}
        print(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False), file=self.output)


REPORTERS: dict[str, type[Reporter]] = {"pretty": PrettyReporter, "json": JsonReporter}


def result_document(result: ScenarioResult) -> dict[str, Any]:
    scenario = result.scenario
    return {
        "name": scenario.name,
        "file": scenario.file,
        "passed": result.passed,
        "checkpoints": [_check_document(check) for check in result.checks],
        "errors": [
            {"at": _time(e.at), "customer": e.customer, "line": e.line, "message": e.message} for e in result.errors
        ],
    }


def _check_document(result: CheckResult) -> dict[str, Any]:
    check = result.check
    return {
        "name": check.name,
        "customer": check.customer,
        "at": _time(check.at),
        "line": check.line,
        "passed": result.passed,
        "ruleset_version": result.ruleset_version,
        "actions": [
            {**dataclasses.asdict(a), "send_at": _time(a.send_at), "valid_until": _time(a.valid_until)}
            for a in result.actions
        ],
        "failures": [dataclasses.asdict(f) for f in result.failures],
    }


def write_junit(path: Path, results: Sequence[ScenarioResult]) -> None:
    """One test case a scenario, its failure text what the pretty reporter says; no timings, so the file
    is the same for the same run."""
    failed = sum(1 for r in results if not r.passed)
    suite = ElementTree.Element(
        "testsuite", name="forestall replay", tests=str(len(results)), failures=str(failed), errors="0"
    )
    for result in results:
        case = ElementTree.SubElement(suite, "testcase", classname=result.scenario.file, name=result.scenario.name)
        if not result.passed:
            lines = explain(result)
            failure = ElementTree.SubElement(case, "failure", message=lines[1].strip() if len(lines) > 1 else "failed")
            failure.text = "\n".join(line[2:] for line in lines)
    root = ElementTree.Element("testsuites")
    root.append(suite)
    ElementTree.indent(root)
    path.write_text(ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n", encoding="utf-8")


def _time(moment: datetime) -> str:
    """UTC, so both modes write the same text whatever zone a time was computed in."""
    return moment.astimezone(UTC).isoformat()
