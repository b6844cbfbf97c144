"""Turn validation failures into located RuleErrors with a suggestion where cheap."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
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


def field_names(*models: type[BaseModel]) -> set[str]:
    """Every key a user may write in these models (by alias where set), nested models included."""
    names: set[str] = set()
    pending: list[object] = list(models)
    seen: set[object] = set()
    while pending:
        kind = pending.pop()
        if kind in seen:
            continue
        seen.add(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            for name, info in kind.model_fields.items():
                names.add(info.alias or name)
                pending.append(info.annotation)
        else:
            pending.extend(get_args(kind))
    return names


def validation_errors(
    exc: ValidationError, located: Located, file: str, known_keys: Iterable[str], at: Path = ()
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
            node = _at(located.data, parent)
            if isinstance(node, dict) and "fact" in node:
                code, message = "unknown-operator", f"unknown operator `{key}`{did_you_mean(key, OPERATORS)}"
            else:
                code, message = (
                    "unknown-field",
                    f"unknown field `{key}` in {render_path(parent)}{did_you_mean(key, known_keys)}",
                )
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
