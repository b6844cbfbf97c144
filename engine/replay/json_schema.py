"""The JSON Schema of replay scenario files, for editors that complete and check as the user types.

Built from the scenario models (the source of truth) as the rule schemas are, in
draft-07 for VS Code's YAML extension; committed as `scenarios/schema/scenario.schema.json`:

    python scripts/generate_schemas.py          # rewrite it, with the rules' schemas
    python scripts/generate_schemas.py --check  # exit 1 if one has drifted from the models
"""

from __future__ import annotations

from pathlib import Path

from engine.qa.authoring import SHORT_NAMES
from engine.replay.scenario import ScenarioFile
from engine.ruleset.json_schema import Schema, describe_keys, draft_07

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "scenarios" / "schema" / "scenario.schema.json"

_KEYS = {
    "ScenarioFile": {
        "name": "What the scenario shows, one line; the file name when left out.",
        "rules": "The rules folder, relative to this file; the repository's rules/ when left out.",
        "models": "The models folder whose promoted models serve, relative to this file; the repository's"
        " models/ when left out. Against a server (--target), the server's own serve.",
        "start": "The virtual clock's first moment: offsets such as +30d count from here.",
        "time_zone": "Times without a zone, and the days of offsets, are counted in this zone (UTC when left out).",
        "customers": "The customers of the scenario, each with a store of events of their own.",
    },
    "CustomerSpec": {
        "profile": "The customer's profile (first_name, language, time_zone, consents), an event at their "
        "earliest moment.",
        "timeline": "Events and outcomes, each `at` a moment; an event may arrive later (`arrives`).",
        "checkpoints": "Moments to Decide at a touchpoint, and what must come back.",
    },
    "TimelineEntry": {
        "at": "When it happened.",
        "arrives": "When the event reaches Forestall, if later than it happened: out of order.",
        "outcome": "An outcome of the action a rule proposed at an earlier checkpoint, as RecordOutcome reports it.",
    },
    "CheckpointSpec": {
        "name": "Unique in the scenario; outcomes name the checkpoint whose action they report on.",
        "at": "The moment to decide as of.",
        "channel": "The channel of the touchpoint asking; an outbound decision when left out.",
        "max_actions": "At most this many actions, as a caller asks (the server's default, 5, when left out).",
    },
    "ExpectationSpec": {
        "actions": "Actions that must come back, each matched to its own action.",
        "in_order": "The listed actions come back in this order.",
        "absent": "Rules that must propose nothing.",
        "absent_offers": "Offers that must not be proposed.",
        "empty": "No action at all.",
    },
    "ExpectedActionSpec": {
        "send_between": "[first, last]: the action's send time is in this window, both included.",
    },
}


# The event keys as written: a bare value stands for this field (see engine.qa.authoring).
_BARE = {
    "service_visit": "product_id",
    "complaint": "state",
    "order_status": "state",
    "contact_outcome": "outcome",
}
# The event fields as written: `product` for product_id, `price` for unit_price.
_WRITTEN_AS = {field: short for short, field in SHORT_NAMES.items()}
# Fields the shorthand fills when left out.
_FILLED = {"complaint_id", "order_id", "quantity", "unit_price"}


def _shorthand(definitions: dict[str, Schema], name: str) -> Schema:
    """An event model's schema as a user writes it: short names, no `kind`, filled fields optional."""
    model = definitions[name]
    properties = {_WRITTEN_AS.get(key, key): value for key, value in model["properties"].items() if key != "kind"}
    required = [_WRITTEN_AS.get(key, key) for key in model.get("required", []) if key not in _FILLED]
    written: Schema = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        written["required"] = required
    return written


def _event_keys(schema: Schema) -> None:
    definitions = schema["definitions"]
    entry = definitions["TimelineEntry"]["properties"]
    item = _shorthand(definitions, "LineItem")
    one_item = {"anyOf": [{"type": "string", "description": "a product id"}, item]}
    entry["purchase"] = {
        "description": "A product, a line item {product, quantity, price, category}, or a list of them bought "
        "together; a price of 0 and a quantity of 1 unless given.",
        "anyOf": [*one_item["anyOf"], {"type": "array", "items": one_item, "minItems": 1}],
    }
    for key, model in (
        ("service_visit", "ServiceVisit"),
        ("usage_reading", "UsageReading"),
        ("review", "Review"),
        ("complaint", "Complaint"),
        ("order_status", "OrderStatus"),
        ("contact_outcome", "ContactOutcome"),
        ("profile", "ProfileUpdate"),
    ):
        written = _shorthand(definitions, model)
        bare = _BARE.get(key)
        entry[key] = {"anyOf": [written["properties"][_WRITTEN_AS.get(bare, bare)], written]} if bare else written
    definitions["CustomerSpec"]["properties"]["profile"] = {"anyOf": [entry["profile"], {"type": "null"}]}


def scenario_schema() -> Schema:
    schema = draft_07(ScenarioFile)
    schema["title"] = "Forestall replay scenario"
    schema["description"] = (
        "A replay scenario: customers' timelines of events on a virtual clock, and checkpoints where "
        "Forestall decides, with what must come back."
    )
    _event_keys(schema)
    describe_keys({"ScenarioFile": schema, **schema["definitions"]}, _KEYS)
    return schema
