"""Scenario replay: customers' timelines on a virtual clock, through the real decision path."""

from engine.replay.remote import Remote, RemoteRefused
from engine.replay.reporters import REPORTERS, JsonReporter, PrettyReporter, Reporter, write_junit
from engine.replay.runner import InProcess, LiveRuleSets, ScenarioResult, Target, run_scenario, run_scenarios
from engine.replay.scenario import Scenario, load_scenarios

__all__ = [
    "REPORTERS",
    "InProcess",
    "JsonReporter",
    "LiveRuleSets",
    "PrettyReporter",
    "Remote",
    "RemoteRefused",
    "Reporter",
    "Scenario",
    "ScenarioResult",
    "Target",
    "load_scenarios",
    "run_scenario",
    "run_scenarios",
    "write_junit",
]
