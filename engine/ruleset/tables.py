"""Decision tables: rules kept as a CSV exported from a spreadsheet, one row a rule.

Many rules differ only in their numbers (a service interval per category, a lead
time per consumable). A table keeps them in rows:

    id,description,family,asset.category equals,asset.days_until_service between,offer,value,priority,channels
    boiler-due,Boiler service due,maintenance_due,boiler,-60..30,boiler-service-booking,120,5,email|sms
    pump-due,Heat pump service due,maintenance_due,heat_pump,-60..45,heat-pump-service-booking,180,5,email

Columns are `id`, `description`, `family`, the action's `offer`, `value`,
`priority`, `channels` and `valid_for_days`, and any number of conditions headed
`<fact> <operator>`. A row's conditions must all hold; an empty cell leaves that
condition out of the row. Cells: `between` takes `low..high`; `in` and `not_in`
take values separated by `|`, as `channels` does; `exists` takes true or false.

A table becomes the same data as a YAML rule file, with each value's position
(file:row:column), so it is validated and compiled exactly like one.
"""

from __future__ import annotations

import csv
import io
import re

from engine.features.fields import FIELDS, field_spec
from engine.ruleset.diagnostics import did_you_mean
from engine.ruleset.schema import OPERATORS
from engine.ruleset.source import Located, YamlProblem

RULE_COLUMNS = ("id", "description", "family")
ACTION_COLUMNS = ("offer", "value", "priority", "channels", "valid_for_days")
_LIST_SEPARATOR = "|"
_RANGE = re.compile(r"^\s*(-?[\d.]+)\s*\.\.\s*(-?[\d.]+)\s*$")
_NUMERIC_ACTION_COLUMNS = ("value", "priority", "valid_for_days")


def locate_table(text: str) -> tuple[Located, list[YamlProblem]]:
    """Parse a decision table into rule-file data with the row and column of every cell,
    and the problems of its header (a column in error is left out of every row)."""
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise YamlProblem(1, 1, "csv-syntax", f"the table cannot be read as CSV: {exc}") from exc
    if not rows:
        raise YamlProblem(1, 1, "empty-table", "the table has no header row")
    header = [cell.strip() for cell in rows[0]]
    problems: list[YamlProblem] = []
    columns = [_column(name, index, problems) for index, name in enumerate(header)]
    located = Located({"rules": []})
    rules: list[object] = []
    for row_index, row in enumerate(rows[1:]):
        if not any(cell.strip() for cell in row):
            continue  # spreadsheets export blank rows
        line = row_index + 2
        at = ("rules", len(rules))
        located.positions[at] = (line, 1)
        rule: dict[str, object] = {}
        conditions: list[object] = []
        for column_index, (column, cell) in enumerate(zip(columns, row, strict=False)):
            value = cell.strip()
            position = (line, column_index + 1)
            if column is None:
                continue
            if column.fact is None:
                rule[column.name] = _action_value(column.name, value)
                located.positions[(*at, *column.path)] = position
            elif value:
                condition_at = (*at, "when", "all", len(conditions))
                conditions.append({"fact": column.fact, column.operator: _operand(column.fact, column.operator, value)})
                located.positions[condition_at] = position
                located.positions[(*condition_at, column.operator)] = position
                located.positions[(*condition_at, "fact")] = (1, column_index + 1)
        rule["when"] = {"all": conditions}
        rule["then"] = {name: rule.pop(name) for name in ACTION_COLUMNS if name in rule}
        located.positions[(*at, "when")] = (line, 1)
        located.positions[(*at, "then")] = (line, 1)
        rules.append(rule)
    located.data = {"rules": rules}
    return located, problems


class _Column:
    def __init__(self, name: str, fact: str | None = None, operator: str = "") -> None:
        self.name, self.fact, self.operator = name, fact, operator

    @property
    def path(self) -> tuple[str, ...]:
        return ("then", self.name) if self.name in ACTION_COLUMNS else (self.name,)


def _column(name: str, index: int, problems: list[YamlProblem]) -> _Column | None:
    if name in RULE_COLUMNS or name in ACTION_COLUMNS:
        return _Column(name)
    parts = name.split()
    if len(parts) == 2 and parts[1] in OPERATORS:
        if field_spec(parts[0]) is None:
            problems.append(
                YamlProblem(1, index + 1, "unknown-fact", f"unknown fact `{parts[0]}`{did_you_mean(parts[0], FIELDS)}")
            )
            return None
        return _Column(name, parts[0], parts[1])
    known = ", ".join((*RULE_COLUMNS, *ACTION_COLUMNS))
    problems.append(
        YamlProblem(
            1,
            index + 1,
            "unknown-column",
            f"column `{name}` is neither one of {known} nor a condition `<fact> <operator>`"
            f" (operators: {', '.join(OPERATORS)})",
        )
    )
    return None


def _action_value(name: str, cell: str) -> object:
    if name == "channels":
        return [part.strip() for part in cell.split(_LIST_SEPARATOR) if part.strip()]
    if name in _NUMERIC_ACTION_COLUMNS:
        return _number(cell)
    return cell


def _operand(fact: str, operator: str, cell: str) -> object:
    """The cell as the YAML value it stands for; left as text when it does not parse, so
    the usual checks report it at this cell."""
    numeric = (spec := field_spec(fact)) is not None and spec.type == "number"
    if operator == "between":
        found = _RANGE.match(cell)
        return [_number(found.group(1)), _number(found.group(2))] if found else cell
    if operator in ("in", "not_in"):
        return [_number(part.strip()) if numeric else part.strip() for part in cell.split(_LIST_SEPARATOR)]
    if operator == "exists":
        return {"true": True, "false": False}.get(cell.lower(), cell)
    if operator in ("greater_than", "at_least", "less_than", "at_most"):
        return _number(cell)
    return _number(cell) if numeric else cell


def _number(text: str) -> object:
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number
