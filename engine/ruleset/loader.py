"""Load a rules folder: the catalogue and every rule file, validated as a whole.

Every problem is collected and reported as `file:line:col: code: message`; a
folder with any error is refused whole, so a broken change never half-loads.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from engine.catalogue import Catalogue
from engine.errors import RuleError, RuleSetInvalid
from engine.features.fields import FIELDS, KNOWN_ATTRIBUTES, field_spec, subject_of
from engine.policy import POLICY_FILE, Policy
from engine.ruleset.analysis import never_matches, shadowed
from engine.ruleset.compiler import CompiledRule, RuleShapeError, compile_rule, conditions_with_paths
from engine.ruleset.diagnostics import did_you_mean, key_homes, validation_errors
from engine.ruleset.limits import AttributeNames, number_problem, rule_set_limits
from engine.ruleset.schema import COMPARISONS, TEXT_MATCHES, Rule, RuleFile
from engine.ruleset.source import Located, YamlProblem, load_located
from engine.ruleset.tables import locate_table

CATALOGUE_FILE = "catalogue.yaml"
RULE_FILE_PATTERNS = ("*.yaml", "*.yml", "*.csv")
MAX_FILE_BYTES = 1_000_000
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class RuleSet:
    """A validated, compiled rule folder. `version` is a digest of its files' content."""

    version: str
    rules: tuple[CompiledRule, ...]
    catalogue: Catalogue

    # Problems that do not stop the rules from loading (a shadowed rule).
    warnings: tuple[RuleError, ...] = ()
    # policy.yaml: ranking levers, eligibility, diversity, hold-outs (engine/policy.py).
    policy: Policy = field(default_factory=Policy)
    by_id: dict[str, CompiledRule] = field(init=False, repr=False, compare=False)
    # The subjects some rule reads: facts about any other subject need not be derived.
    subjects: frozenset[str] = field(init=False, repr=False, compare=False)
    # Categories some rule names: their facts are derived even for customers who never bought in them.
    categories: frozenset[str] = field(init=False, repr=False, compare=False)
    # Per subject, the only categories any rule can match there (a subject left out: any category).
    pinned: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)
    # The model scores some rule reads (`score.<name>`): models no rule reads need not score.
    scores: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {r.rule.id: r for r in self.rules})
        object.__setattr__(self, "subjects", frozenset(s for r in self.rules for s in r.subjects))
        object.__setattr__(self, "categories", frozenset(c for r in self.rules for c in r.categories))
        object.__setattr__(self, "pinned", _pinned_by_every_rule(self.rules))
        scores = {f.removeprefix("score.") for r in self.rules for f in r.fields if f.startswith("score.")}
        object.__setattr__(self, "scores", frozenset(scores))


def _pinned_by_every_rule(rules: tuple[CompiledRule, ...]) -> dict[str, frozenset[str]]:
    """The categories rules can match per subject, for the subjects where every rule names them."""
    pinned: dict[str, frozenset[str]] = {}
    unpinned: set[str] = set()
    for rule in rules:
        for subject in rule.subjects:
            if subject not in rule.pinned:
                unpinned.add(subject)
            else:
                pinned[subject] = pinned.get(subject, frozenset()) | rule.pinned[subject]
    return {subject: values for subject, values in pinned.items() if subject not in unpinned}


def load_rule_set(folder: Path) -> RuleSet:
    """Load and validate `folder`; raises RuleSetInvalid listing every error."""
    folder = Path(folder)
    errors: list[RuleError] = []
    if not folder.is_dir():
        raise RuleSetInvalid([RuleError(str(folder), 1, 1, "no-folder", "the rules folder does not exist")])
    texts = {path: _read(path, errors) for path in _rule_files(folder)}

    catalogue_path = folder / CATALOGUE_FILE
    catalogue = Catalogue()
    if catalogue_path not in texts:
        errors.append(RuleError(str(catalogue_path), 1, 1, "no-catalogue", f"the folder has no {CATALOGUE_FILE}"))
    elif (text := texts[catalogue_path]) is not None:
        catalogue = _parse(catalogue_path, text, Catalogue, errors) or catalogue

    policy_path = folder / POLICY_FILE
    policy: Policy | None = Policy()
    policy_located = None
    if (text := texts.get(policy_path)) is not None and (policy_located := _locate(policy_path, text, errors)):
        policy = _validate(policy_path, policy_located, Policy, errors, policy_located.data)

    compiled: list[CompiledRule] = []
    first_seen: dict[str, str] = {}
    names = AttributeNames(KNOWN_ATTRIBUTES)
    for path, text in texts.items():
        if path in (catalogue_path, policy_path) or text is None:
            continue
        located = _locate(path, text, errors)
        if located is None:
            continue
        for index, rule in _valid_rules(path, located, errors):
            line, column = located.position(("rules", index, "id"))
            where = f"{path}:{line}"
            if rule.id in first_seen:
                errors.append(
                    RuleError(
                        str(path),
                        line,
                        column,
                        "duplicate-id",
                        f"rule `{rule.id}` is defined at {first_seen[rule.id]} too",
                    )
                )
                continue
            first_seen[rule.id] = where
            checked = _check_rule(rule, ("rules", index), located, str(path), catalogue, names, errors)
            if checked is not None:
                compiled.append(checked)
    errors.extend(rule_set_limits(compiled))
    if policy is not None and policy_located is not None:
        errors.extend(_policy_references(policy, policy_path, policy_located, first_seen, catalogue))
    if errors or policy is None:
        raise RuleSetInvalid(errors)
    return RuleSet(_digest(texts), tuple(compiled), catalogue, tuple(_shadowing_warnings(compiled)), policy)


def _policy_references(
    policy: Policy, path: Path, located: Located, rule_ids: Collection[str], catalogue: Catalogue
) -> Iterator[RuleError]:
    """The rules and offers the policy names that the folder does not have."""
    levers = policy.priority.levers
    named = [
        *((("priority", "levers", "rules", rule), "rule", rule, rule in rule_ids) for rule in levers.rules),
        *(
            (("priority", "levers", "offers", offer), "offer", offer, catalogue.offer(offer) is not None)
            for offer in levers.offers
        ),
        *(
            (("eligibility", "offers", i, "offer"), "offer", w.offer, catalogue.offer(w.offer) is not None)
            for i, w in enumerate(policy.eligibility.offers)
        ),
    ]
    for at, kind, name, known in named:
        if not known:
            line, column = located.position(at)
            yield RuleError(
                str(path), line, column, f"unknown-{kind}", f"the policy names {kind} `{name}`, which does not exist"
            )


def _shadowing_warnings(rules: list[CompiledRule]) -> Iterator[RuleError]:
    for rule, by in shadowed(rules):
        message = (
            f"rule `{rule.rule.id}` never shows: `{by.rule.id}` ({Path(by.file).name}:{by.line}) matches whenever it"
            f" does and proposes the same offer `{rule.rule.then.offer}`, ranked at least as high"
        )
        yield RuleError(rule.file, rule.line, 1, "shadowed", message)


def folder_version(folder: Path) -> str:
    """The version `folder` would load as, without validating it: a cheap change detector."""
    return _digest({path: _read(path, []) for path in _rule_files(Path(folder))})


def _rule_files(folder: Path) -> list[Path]:
    return sorted({p for pattern in RULE_FILE_PATTERNS for p in folder.glob(pattern)})


def _digest(texts: dict[Path, str | None]) -> str:
    digest = hashlib.sha256()
    for path, text in texts.items():
        digest.update(f"{path.name}\0{text}\0".encode())
    return digest.hexdigest()[:12]


def _read(path: Path, errors: list[RuleError]) -> str | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            errors.append(RuleError(str(path), 1, 1, "too-large", f"the file is larger than {MAX_FILE_BYTES} bytes"))
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(RuleError(str(path), 1, 1, "unreadable", str(exc)))
        return None


def _locate(path: Path, text: str, errors: list[RuleError]) -> Located | None:
    try:
        if path.suffix != ".csv":
            return load_located(text)
        located, problems = locate_table(text)
        errors.extend(RuleError(str(path), p.line, p.column, p.code, p.message) for p in problems)
        return located
    except YamlProblem as problem:
        errors.append(RuleError(str(path), problem.line, problem.column, problem.code, problem.message))
        return None


def _validate(
    path: Path,
    located: Located,
    model: type[M],
    errors: list[RuleError],
    data: object,
    at: tuple[str | int, ...] = (),
    file_model: type[BaseModel] | None = None,
) -> M | None:
    """`data` (standing at `at` in a file of `file_model`, `model` when left out) as `model`."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        errors.extend(validation_errors(exc, model, located, str(path), key_homes(file_model or model), at))
        return None


def _valid_rules(path: Path, located: Located, errors: list[RuleError]) -> Iterator[tuple[int, Rule]]:
    """The rules of a file that pass the schema, each validated on its own so one bad rule hides no other."""
    data = located.data
    envelope = {**data, "rules": []} if isinstance(data, dict) else data
    if _validate(path, located, RuleFile, errors, envelope) is None or not isinstance(data, dict):
        return
    items = data.get("rules") or []
    if not isinstance(items, list):
        line, column = located.position(("rules",))
        errors.append(RuleError(str(path), line, column, "wrong-type", "`rules` must be a list of rules"))
        return
    for index, item in enumerate(items):
        rule = _validate(path, located, Rule, errors, item, ("rules", index), RuleFile)
        if rule is not None:
            yield index, rule


def _parse(path: Path, text: str, model: type[M], errors: list[RuleError]) -> M | None:
    located = _locate(path, text, errors)
    return _validate(path, located, model, errors, located.data) if located is not None else None


def _check_rule(
    rule: Rule,
    at: tuple[str | int, ...],
    located: Located,
    file: str,
    catalogue: Catalogue,
    names: AttributeNames,
    errors: list[RuleError],
) -> CompiledRule | None:
    """Check what the schema cannot (known facts, matching types, subjects that can be
    joined, a known offer, placeholders the rule has) and compile the rule if it passes."""
    before = len(errors)

    def error(path: tuple[str | int, ...], code: str, message: str) -> None:
        line, column = located.position((*at, *path))
        errors.append(RuleError(file, line, column, code, message))

    for condition, path in conditions_with_paths(rule.when):
        spec = field_spec(condition.fact)
        if spec is None:
            suggestion = did_you_mean(condition.fact, FIELDS)
            error((*path, "fact"), "unknown-fact", f"unknown fact `{condition.fact}`{suggestion}")
            continue
        operator, operand = condition.operator, condition.operand
        values = operand if isinstance(operand, list | tuple) else [operand]
        if operator in (*COMPARISONS, *TEXT_MATCHES):
            wanted = "text" if operator in TEXT_MATCHES else "number"
            if spec.type != wanted:
                error((*path, operator), "wrong-type", f"`{spec.name}` is a {spec.type}; `{operator}` needs {wanted}")
        elif operator != "exists" and any(isinstance(v, str) != (spec.type == "text") for v in values):
            error((*path, operator), "wrong-type", f"`{spec.name}` is a {spec.type}; compare it with a {spec.type}")
        if operator == "between" and operand[0] > operand[1]:
            error((*path, "between"), "empty-range", f"between {operand[0]} and {operand[1]} matches nothing")
        for problem in (number_problem(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)):
            if problem:
                error((*path, operator), "number-out-of-range", problem)
        earlier = names.collision(condition.fact)
        if earlier:
            error(
                (*path, "fact"),
                "name-collision",
                f"`{condition.fact}` and `{earlier}` have the same hash in durable-rules, which would confuse them; "
                "rename one",
            )
    offer = catalogue.offer(rule.then.offer)
    if offer is None:
        known = [o.id for o in catalogue.offers]
        suggestion = did_you_mean(rule.then.offer, known)
        error(("then", "offer"), "unknown-offer", f"offer `{rule.then.offer}` is not in the catalogue{suggestion}")
    if len(errors) > before or offer is None:
        return None  # facts unknown or mistyped: the rule's subjects, and so its placeholders, cannot be told

    try:
        compiled = compile_rule(rule, file, located.position((*at, "id"))[0])
    except RuleShapeError as problem:
        error(problem.path, problem.code, problem.message)
        return None
    contradiction = never_matches(compiled)
    if contradiction:
        error(("when",), "never-matches", f"rule `{rule.id}` can never match: {contradiction}")
        return None
    for name in PLACEHOLDER.findall(offer.template):
        if field_spec(name) is None:
            problem = f"an unknown fact{did_you_mean(name, FIELDS)}"
        elif subject_of(name) not in (None, *compiled.subjects):
            problem = f"which a rule on {' and '.join(compiled.subjects)} does not have"
        else:
            continue
        error(("then", "offer"), "bad-placeholder", f"offer `{offer.id}`'s template uses `{{{name}}}`, {problem}")
    return compiled if len(errors) == before else None
