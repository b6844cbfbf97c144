"""Turn validation failures into located RuleErrors with a suggestion where cheap."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping
from typing import Any, NamedTuple, get_args

from pydantic import BaseModel, ValidationError

from engine.errors import RuleError
from engine.ruleset.schema import OPERATORS, Condition
from engine.ruleset.source import Located, Path


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def render_path(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "the file"


# Every key a file may hold, and the keys it goes under: `{"in_order": {"expect"}}`; "" is the top level.
KnownKeys = Mapping[str, Collection[str]]


def key_homes(model: type[BaseModel]) -> dict[str, frozenset[str]]:
    """The known keys of a file of `model`: its keys (by alias where set), nested models' included."""
    homes: dict[str, set[str]] = {}
    pending: list[tuple[object, str]] = [(model, "")]
    seen: set[tuple[object, str]] = set()
    while pending:
        kind, holder = pending.pop()
        if (kind, holder) in seen:
            continue
        seen.add((kind, holder))
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            for name, info in kind.model_fields.items():
                key = info.alias or name
                homes.setdefault(key, set()).add(holder)
                pending.append((info.annotation, key))
        else:
            pending.extend((arg, holder) for arg in get_args(kind))
    return {key: frozenset(holders) for key, holders in homes.items()}


def _suggestion(key: str, holder: str, known_keys: KnownKeys, choices: Iterable[str]) -> str:
    """Where `key` goes when it belongs under another key than `holder`; else a did-you-mean among `choices`."""
    homes = known_keys.get(key, ())
    if holder in homes:  # `holder` takes several shapes, one with this key: `when:` takes a condition or `all:`
        return ""
    if not homes:
        return did_you_mean(key, choices)
    under = [f"`{home}:`" for home in sorted(homes) if home]
    places = (["at the top level"] if "" in homes else []) + ([f"under {_either(under)}"] if under else [])
    return f"; `{key}` goes {' or '.join(places)}"


def _either(words: list[str]) -> str:
    return f"{', '.join(words[:-1])} or {words[-1]}" if len(words) > 1 else words[0]


def validation_errors(
    exc: ValidationError, model: type[BaseModel], located: Located, file: str, known_keys: KnownKeys, at: Path = ()
) -> list[RuleError]:
    """Map the errors of validating as `model` onto the file: one RuleError per problem, at the line it stands on.

    `at` is where the validated value stands in the file.
    """
    errors = []
    for error in exc.errors():
        walked = _walk(model.__pydantic_core_schema__, tuple(error["loc"]), {})
        target = (*at, *walked.path)
        path = located.existing_prefix(target)
        line, column = located.position(path)
        kind = error["type"]
        where = render_path(path)
        if kind == "extra_forbidden":
            key = str(target[-1])
            parent = located.existing_prefix(target[:-1])
            holder = next((part for part in reversed(parent) if isinstance(part, str)), "")
            node = _at(located.data, parent)
            if walked.owner is Condition and isinstance(node, dict) and "fact" in node:
                suggestion = _suggestion(key, holder, known_keys, OPERATORS)
                code, message = "unknown-operator", f"unknown operator `{key}`{suggestion}"
            else:
                suggestion = _suggestion(key, holder, known_keys, known_keys)
                code, message = "unknown-field", f"unknown field `{key}` in {render_path(parent)}{suggestion}"
        elif kind == "missing":
            code, message = "missing-field", f"{where}: `{target[-1]}` is required"
        elif kind in ("enum", "literal_error"):
            expected = error.get("ctx", {}).get("expected", "")
            given = str(error.get("input"))
            choices = [c.strip(" '") for c in expected.replace(" or ", ",").split(",") if c.strip(" '")]
            code, message = (
                "invalid-value",
                f"{where}: `{given}` is not one of {expected}{did_you_mean(given, choices)}",
            )
        elif kind in ("int_type", "float_type", "int_parsing", "float_parsing"):
            code, message = "wrong-type", f"{where}: `{error.get('input')}` is not a number"
        elif kind.endswith("_type") or kind in ("condition", "model_type", "union_tag_not_found"):
            code, message = "wrong-type", f"{where}: {error['msg']}"
        else:
            code, message = "invalid-value", f"{where}: {error['msg']}"
        error_here = RuleError(file, line, column, code, message)
        if error_here not in errors:  # each member of a union reports the same mistake
            errors.append(error_here)
    return errors


def _at(data: object, path: Path) -> object:
    for part in path:
        data = data[part]  # type: ignore[index]
    return data


class _Walk(NamedTuple):
    read: int = 0  # how many parts of the loc the schema accounts for
    path: Path = ()  # the keys and indexes among them
    owner: type | None = None  # the model the last key is a field, or an unknown key, of


Schema = Mapping[str, Any]  # a pydantic-core schema


def _walk(schema: Schema, loc: tuple[str | int, ...], refs: dict[str, Schema], owner: type | None = None) -> _Walk:
    """The keys and indexes in a validator's `loc`, told from the names it adds of its own.

    pydantic puts the tag or name of the union member it tried into a location: a bad value in
    an `any:` group is at `when, any, any, 0, condition, at_most, int` (tag, key, index, tag, key,
    name). The schema says which parts those are, so a tag spelt like a key is never taken for one.
    """
    match schema["type"]:
        case "definitions":
            return _walk(schema["schema"], loc, {**refs, **{d["ref"]: d for d in schema["definitions"]}}, owner)
        case "definition-ref":
            return _walk(refs[schema["schema_ref"]], loc, refs, owner)
        case _ if not loc:
            return _Walk()
        case "model" | "dataclass":
            return _walk(schema["schema"], loc, refs, schema["cls"])
        case "tagged-union":
            choice = schema["choices"].get(loc[0])
            return _member(loc, [choice] if choice else [], refs)
        case "union":
            return _member(loc, [c[0] if isinstance(c, tuple) else c for c in schema["choices"]], refs)
        case "model-fields" | "typed-dict" | "dataclass-args" if isinstance(loc[0], str):
            fields = schema["fields"]
            named = fields.items() if isinstance(fields, dict) else ((f["name"], f) for f in fields)
            field = next((f for name, f in named if loc[0] in (name, f.get("validation_alias"))), None)
            return _key(loc, field["schema"] if field else schema.get("extras_schema"), refs, owner)
        case "list" | "set" | "frozenset" | "generator" if isinstance(loc[0], int):
            return _key(loc, schema.get("items_schema"), refs)
        case "tuple" if isinstance(loc[0], int):
            items, variadic = schema["items_schema"], schema.get("variadic_item_index")
            index = loc[0] if variadic is None or loc[0] < variadic else variadic
            return _key(loc, items[index] if index < len(items) else None, refs)
        case "dict":
            if loc[1:2] == ("[key]",):  # the key itself is wrong
                return _Walk(2, loc[:1])
            return _key(loc, schema.get("values_schema"), refs)
        case _ if "schema" in schema:  # a default, a nullable, a validator function around a value
            return _walk(schema["schema"], loc, refs, owner)
    return _Walk()


def _key(loc: tuple[str | int, ...], inner: Schema | None, refs: dict[str, Schema], owner: type | None = None) -> _Walk:
    """`loc[0]` is a key or index in the data (of `owner`); what follows is inside `inner` (None: any value)."""
    rest = _walk(inner, loc[1:], refs) if inner else _Walk()
    return _Walk(rest.read + 1, (loc[0], *rest.path), rest.owner if rest.read else owner)


def _member(loc: tuple[str | int, ...], choices: list[Schema], refs: dict[str, Schema]) -> _Walk:
    """`loc[0]` names a union member, not a key; what follows is inside the member that accounts for most of it."""
    if not choices:
        return _Walk()
    rest = max((_walk(choice, loc[1:], refs) for choice in choices), key=lambda walked: walked.read)
    return rest._replace(read=rest.read + 1)
