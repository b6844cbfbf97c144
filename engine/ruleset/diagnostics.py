"""Turn validation failures into located RuleErrors with a suggestion where cheap."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping
from typing import get_args

from pydantic import BaseModel, ValidationError

from engine.errors import RuleError
from engine.ruleset.schema import OPERATORS
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
    exc: ValidationError, located: Located, file: str, known_keys: KnownKeys, at: Path = ()
) -> list[RuleError]:
    """Map pydantic's errors onto the file: one RuleError per problem, at the line it stands on.

    `at` is where the validated value stands in the file.
    """
    errors = []
    for error in exc.errors():
        loc = (*at, *error["loc"])
        path = located.existing_prefix(loc)
        line, column = located.position(path)
        kind = error["type"]
        where = render_path(path)
        if kind == "extra_forbidden":
            key = str(loc[-1])
            parent = located.existing_prefix(loc[:-1])
            holder = next((part for part in reversed(parent) if isinstance(part, str)), "")
            node = _at(located.data, parent)
            if isinstance(node, dict) and "fact" in node:
                suggestion = _suggestion(key, holder, known_keys, OPERATORS)
                code, message = "unknown-operator", f"unknown operator `{key}`{suggestion}"
            else:
                suggestion = _suggestion(key, holder, known_keys, known_keys)
                code, message = "unknown-field", f"unknown field `{key}` in {render_path(parent)}{suggestion}"
        elif kind == "missing":
            code, message = "missing-field", f"{where}: `{loc[-1]}` is required"
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
