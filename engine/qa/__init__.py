"""Quality checks on rules: tests next to the rules, run through the real decision path."""

from engine.qa.reporters import REPORTERS, JsonReporter, PrettyReporter, Reporter, Summary
from engine.qa.rule_tests import RuleTest, load_rule_tests
from engine.qa.runner import Failure, ProposedAction, RuleTestResult, run_rule_tests

__all__ = [
    "REPORTERS",
    "Failure",
    "JsonReporter",
    "PrettyReporter",
    "ProposedAction",
    "Reporter",
    "RuleTest",
    "RuleTestResult",
    "Summary",
    "load_rule_tests",
    "run_rule_tests",
]
