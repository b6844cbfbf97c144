"""`forestall explain CUSTOMER`: what a decision would be for a customer, and why, on the store itself.

While a server runs, the admin RPC Explain does the same through it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.api.server import wall_clock
from engine.cli.arguments import moment
from engine.config import Settings
from engine.decision.engine import DecisionEngine
from engine.decision.types import DecideRequest
from engine.logs import configure_logging
from engine.models.serving import LiveModels
from engine.ruleset.live import LiveRuleSet
from engine.store import open_store
from engine.vocabulary import Channel


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    explain = commands.add_parser(
        "explain",
        help="why a customer gets the actions they get: every rule and candidate, and what kept or dropped it",
        description="Decide for a customer as of a moment, store nothing, and say for every rule and candidate "
        "action whether it was returned, held out, dropped (and by which part of the policy), had no channel, "
        "or did not match (and on which condition).",
        epilog="example: forestall explain demo-boiler --store var/demo.db --as-of 2026-06-01T09:00:00Z",
    )
    explain.add_argument("customer_id")
    explain.add_argument("--as-of", type=moment, help="the moment to decide as of (default: now)")
    explain.add_argument("--channel", choices=[c.value for c in Channel], help="the touchpoint's channel")
    explain.add_argument("--store", help="a SQLite file or a redis:// URL (FORESTALL_STORE)")
    explain.add_argument("--rules-dir", type=Path, help="the rules folder (FORESTALL_RULES_DIR)")
    explain.add_argument("--models-dir", type=Path, help="the models folder (FORESTALL_MODELS_DIR)")
    explain.add_argument("--format", choices=["text", "json"], default="text")
    explain.set_defaults(run=_explain)


def _explain(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging(settings.log_format, "warning", settings.log_key)  # on stderr: stdout is the output
    as_of = args.as_of or wall_clock()
    rules = LiveRuleSet(args.rules_dir or settings.rules_dir, as_of)
    store = open_store(args.store or settings.store, settings.max_events_per_customer)
    try:
        engine = DecisionEngine(store, rules, LiveModels(args.models_dir or settings.models_dir))
        channel = Channel(args.channel) if args.channel else None
        explanation = engine.explain(DecideRequest(args.customer_id, as_of, channel, touchpoint="explain"))
    finally:
        rules.close()
        store.close()
    sys.stdout.write(explanation.json() if args.format == "json" else explanation.text())
    return 0
