"""JSON Schemas of the rule and catalogue files, for editors that complete and check as the user types.

Built from the pydantic models, which stay the source of truth, then enriched with
what an editor shows: a description on every key, the known facts to pick from, and
a condition's one-operator rule. The dialect is draft-07, the one the YAML extension
of VS Code (yaml-language-server) supports in full. The schemas check the shape of a
file only; `forestall rules validate` also checks what needs the whole folder
(offers that exist, fact types, joins, placeholders).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from engine.catalogue import Catalogue
from engine.features.fields import FIELDS, OPEN_NAME, OPEN_PREFIXES
from engine.policy import Policy
from engine.ruleset.schema import OPERATORS, RuleFile
from engine.vocabulary import Family

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
Schema = dict[str, Any]

# pydantic writes these when it cannot place a bound on the union it belongs to.
_PYDANTIC_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}

_RULE_KEYS = {
    "RuleFile": {"rules": "The rules of this file. Every rule that matches a customer's facts proposes its offer."},
    "Rule": {
        "id": "A name for the rule, unique across the folder: lower-case letters, digits, `-` and `_`.",
        "description": "One sentence saying what the rule does, shown as the reason of each action it proposes.",
        "when": "When the rule matches: one condition, or `all`, `any` or `not` of several.",
    },
    "Then": {
        "offer": "The id of an offer in catalogue.yaml (under `offers:`); its template is the message sent.",
        "value": "What the action is worth to the business. Ranking is priority x value while no model is loaded.",
        "priority": "From 1 to 100; multiplies the value when ranking.",
        "channels": "The channels the offer may go out on, in order of preference. The channel the customer "
        "is on is used when it is in the list, else the first one.",
        "valid_for_days": "How many days the proposed action stays valid.",
    },
    "AllOf": {"all": "Every part must hold. The top-level `all` may join facts of two kinds, e.g. asset and category."},
    "AnyOf": {"any": "At least one part must hold. All its parts read facts of one kind."},
    "NotOf": {"not": "The part must not hold. A condition on a fact with no value fails, and so does its `not`."},
    "Condition": {
        "equals": "The fact is exactly this text or number.",
        "not_equals": "The fact has a value, and it is not this text or number.",
        "greater_than": "The fact is a number greater than this one.",
        "at_least": "The fact is a number greater than or equal to this one.",
        "less_than": "The fact is a number less than this one.",
        "at_most": "The fact is a number less than or equal to this one.",
        "between": "`[low, high]`: the fact is a number from low to high, both included.",
        "in": "The fact is one of these values.",
        "not_in": "The fact has a value, and it is none of these values.",
        "exists": "`true`: the fact has a value; `false`: it has none (e.g. a product without a service interval).",
        "contains": "The text contains these characters, ignoring case.",
        "starts_with": "The text starts with these characters, ignoring case.",
        "ends_with": "The text ends with these characters, ignoring case.",
        "matches": "The whole text matches this pattern, ignoring case: `*` stands for any characters, `?` for one.",
    },
}

_CATALOGUE_KEYS = {
    "Catalogue": {
        "products": "The products customers buy. Assets get serviced, consumables get used up and bought again.",
        "follow_ons": "Purchases that typically follow another one, e.g. a car seat some months after a stroller.",
        "offers": "What rules propose: each rule's `then.offer` names one of these ids.",
    },
    "Product": {
        "id": "The product id, as the point-of-sale and web shop send it in purchases.",
        "name": "The product's name, as messages show it (`{asset.name}`, `{consumable.name}`).",
        "category": "The product category, e.g. `printer_ink`: rules and follow-ons name categories.",
        "kind": "`asset`: kept and maybe serviced; `consumable`: used up and bought again; `item`: neither.",
        "service_interval_days": "For an asset: days between two services.",
        "consumption_period_days": "For a consumable: days one unit lasts, until the customer's own buying "
        "rhythm is known (after two purchases).",
    },
    "FollowOn": {
        "after": "The category bought first.",
        "then": "The category that typically follows.",
        "typical_after_days": "About how many days after `after` the `then` purchase typically comes.",
    },
    "Offer": {
        "id": "The offer id that rules name in `then.offer`.",
        "title": "A short title for the offer.",
        "template": "The message, with facts in braces, e.g. `Hello {customer.first_name}`. Only facts "
        "the rule reads can be used.",
    },
}

_RULE_ID_HELP = "Use lower-case letters, digits, `-` and `_` (at most 80), starting with a letter or a digit."
_SLUG_HELP = "Use lower-case letters, digits, `-`, `_` and `.` (at most 64), starting with a letter or a digit."
_SLUGS = (("Product", "category"), ("FollowOn", "after"), ("FollowOn", "then"), ("Offer", "id"))

_FAMILIES = {
    Family.MAINTENANCE_DUE: "An asset nears the date its service is due.",
    Family.REPLENISHMENT: "A consumable is about to run out.",
    Family.PLANNED_PURCHASE: "A purchase that typically follows an earlier one is nearly due.",
    Family.PROBLEM_PREVENTION: "A bad experience to act on before the customer walks away.",
}


def rule_file_schema() -> Schema:
    """The schema of a rule file (`rules/*.yaml` other than the catalogue)."""
    schema = draft_07(RuleFile)
    schema["title"] = "Forestall rule file"
    schema["description"] = (
        "Proactivation rules: when a customer's facts match a rule's `when`, it proposes the offer in its `then`."
    )
    definitions = schema["definitions"]
    describe_keys({"RuleFile": schema, **definitions}, _RULE_KEYS)
    # `patternErrorMessage` and `enumDescriptions` are VS Code's own keywords; validators ignore them.
    definitions["Rule"]["properties"]["id"]["patternErrorMessage"] = _RULE_ID_HELP
    definitions["Family"]["enumDescriptions"] = [_FAMILIES[Family(name)] for name in definitions["Family"]["enum"]]
    _one_operator(definitions["Condition"])
    return schema


def catalogue_schema() -> Schema:
    """The schema of `rules/catalogue.yaml`."""
    schema = draft_07(Catalogue)
    schema["title"] = "Forestall catalogue"
    schema["description"] = (
        "Products (with service intervals and consumption periods), follow-on purchases, and the offers "
        "rules propose with their message templates."
    )
    definitions = schema["definitions"]
    describe_keys({"Catalogue": schema, **definitions}, _CATALOGUE_KEYS)
    for definition, name in _SLUGS:
        definitions[definition]["properties"][name]["patternErrorMessage"] = _SLUG_HELP
    return schema


def policy_schema() -> Schema:
    """The schema of `rules/policy.yaml` (engine/policy.py documents each part)."""
    schema = draft_07(Policy)
    schema["title"] = "Forestall contact policy"
    schema["description"] = (
        "How proposed actions are ranked (levers, context weights), which may go out (consent, offer windows, "
        "stock), how many per subject and family, and which share of customers is held out as a control group."
    )
    return schema


def schema_files() -> dict[str, str]:
    """{file name: text} of the schemas committed under rules/schema/."""
    return {
        "rules.schema.json": render(rule_file_schema()),
        "catalogue.schema.json": render(catalogue_schema()),
        "policy.schema.json": render(policy_schema()),
    }


def render(schema: Schema) -> str:
    """Sorted keys and two-space indents, so that a regenerated file differs only where the schema does."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _fact_schema() -> Schema:
    """Every fact a condition can read, each with its type and definition for the editor's completion list."""
    known = [{"const": s.name, "description": f"{s.type}: {s.definition}"} for s in FIELDS.values()]
    open_fields = [
        {"pattern": f"^{re.escape(prefix)}{OPEN_NAME.pattern.lstrip('^')}", "description": f"{kind}: {definition}"}
        for prefix, (kind, definition) in OPEN_PREFIXES.items()
    ]
    return {
        "type": "string",
        "description": "The fact to compare. Pick one from the list; `context.<key>` reads what the caller "
        "sends with the request, `score.<name>` a model score.",
        "anyOf": [*known, *open_fields],
    }


def draft_07(model: type[BaseModel]) -> Schema:
    """The model's schema as pydantic writes it (draft 2020-12), moved to draft-07."""
    schema = model.model_json_schema(by_alias=True, ref_template="#/definitions/{model}")
    schema["definitions"] = schema.pop("$defs", {})
    for node in list(_subschemas(schema)):
        if "prefixItems" in node:  # a tuple: draft-07 writes it as a list of `items`
            node["items"] = node.pop("prefixItems")
        for bound, keyword in _PYDANTIC_BOUNDS.items():
            if bound in node:
                node[keyword] = node.pop(bound)
        _merge_plain_types(node)
    return {"$schema": DRAFT_07, **schema}


def _subschemas(schema: Schema) -> Iterator[Schema]:
    yield schema
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for child in schema.get(key, []):
            yield from _subschemas(child)
    for key in ("properties", "definitions"):
        for child in schema.get(key, {}).values():
            yield from _subschemas(child)
    items = schema.get("items", [])
    for child in items if isinstance(items, list) else [items]:
        yield from _subschemas(child)


def _merge_plain_types(node: Schema) -> None:
    """`anyOf: [{type: integer}, {type: number}]` -> `type: number`: one type an editor can name."""
    options = node.get("anyOf", [])
    if not options or any(set(option) != {"type"} for option in options):
        return
    types = [option["type"] for option in options]
    if "number" in types:  # every integer is a number
        types = [kind for kind in types if kind != "integer"]
    del node["anyOf"]
    node["type"] = types[0] if len(types) == 1 else types


def describe_keys(definitions: dict[str, Schema], keys: dict[str, dict[str, str]]) -> None:
    """Set each key's description; a key the models no longer have fails here, not in an editor."""
    for definition, properties in keys.items():
        for name, text in properties.items():
            definitions[definition]["properties"][name]["description"] = text


def _one_operator(condition: Schema) -> None:
    """A condition is `fact` and exactly one operator: with no other key allowed, that is two keys.

    pydantic reads a missing operator as null; in a file an operator written without a
    value is a mistake, so null is not offered.
    """
    properties = condition["properties"]
    properties["fact"] = _fact_schema()
    for operator in OPERATORS:
        properties[operator] = _not_null(properties[operator])
    condition["minProperties"] = condition["maxProperties"] = 2


def _not_null(schema: Schema) -> Schema:
    schema = {key: value for key, value in schema.items() if key != "default"}
    if isinstance(schema.get("type"), list):
        types = [kind for kind in schema["type"] if kind != "null"]
        schema["type"] = types[0] if len(types) == 1 else types
    options = [option for option in schema.pop("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    return schema
