"""YAML with locations: plain data plus the line and column of every value.

Validation errors are reported against the text the business user wrote, so the
loader keeps, for each path into the data, where it stands in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]

# libyaml's parser is about ten times faster than PyYAML's own, and gives the same nodes and marks.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Aliases can make a small file expand without bound; no rule file needs this many values.
MAX_VALUES = 200_000
# Nor nests this deep; an alias inside the value it names would nest without end.
MAX_DEPTH = 100


@dataclass
class Located:
    """Parsed YAML data and a map from each path in it to (line, column), 1-based."""

    data: object
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path) -> tuple[int, int]:
        """The position of the deepest prefix of `path` that exists in the file."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(path[:end])
            if found:
                return found
        return (1, 1)

    def existing_prefix(self, loc: tuple[object, ...]) -> Path:
        """The parts of a validator's `loc` (keys and indexes only) that walk through the data.

        A part not in the data is skipped: a required key the file lacks, or one a
        validator put into a shorthand it wrote out (`product:` read as `product_id:`).
        """
        node = self.data
        path: list[str | int] = []
        for part in loc:
            if (isinstance(node, dict) and isinstance(part, str) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            ):
                node = node[part]
                path.append(part)
        return tuple(path)


class YamlProblem(Exception):
    def __init__(self, line: int, column: int, code: str, message: str) -> None:
        super().__init__(message)
        self.line, self.column, self.code, self.message = line, column, code, message


def load_located(text: str) -> Located:
    """Parse one YAML document with positions; raises YamlProblem on bad syntax or duplicate keys."""
    try:
        loader = _LOADER(text)
    except yaml.reader.ReaderError as exc:
        raise _unreadable(text, exc) from exc
    try:
        root = loader.get_single_node()
        located = Located(None)
        located.data = _build(loader, root, (), located.positions) if root is not None else None
        return located
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context_mark and exc.problem:
            message += f" ({exc.context} that starts at line {exc.context_mark.line + 1})"
        raise YamlProblem(line, column, "yaml-syntax", message) from exc
    except yaml.reader.ReaderError as exc:
        raise _unreadable(text, exc) from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(1, 1, "yaml-syntax", str(exc)) from exc
    finally:
        loader.dispose()


def _unreadable(text: str, exc: yaml.reader.ReaderError) -> YamlProblem:
    before = text[: exc.position]
    line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
    return YamlProblem(line, column, "yaml-syntax", f"character {exc.character!r} is not allowed in a YAML file")


def _build(loader: Any, node: yaml.Node, path: Path, positions: dict[Path, tuple[int, int]]) -> object:
    positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if len(positions) > MAX_VALUES:
        raise YamlProblem(1, 1, "too-large", f"the file expands to more than {MAX_VALUES} values")
    if len(path) > MAX_DEPTH:
        line, column = positions[path]
        raise YamlProblem(line, column, "too-large", f"values nest more than {MAX_DEPTH} levels deep")
    if isinstance(node, yaml.MappingNode):
        mapping: dict[str, object] = {}
        for key_node, value_node in node.value:
            key = _construct(loader, key_node)
            line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if not isinstance(key, str):
                raise YamlProblem(line, column, "wrong-type", f"a key must be text, not {key!r}")
            if key in mapping:
                raise YamlProblem(line, column, "duplicate-key", f"`{key}` is given twice in the same block")
            positions[(*path, key)] = (line, column)
            mapping[key] = _build(loader, value_node, (*path, key), positions)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, index), positions) for index, item in enumerate(node.value)]
    return _construct(loader, node)


def _construct(loader: Any, node: yaml.Node) -> object:
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as exc:  # PyYAML raises a bare ValueError for a date that does not exist: 2026-02-30
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        raise YamlProblem(line, column, "invalid-value", f"`{node.value}` is not a valid date: {exc}") from exc
