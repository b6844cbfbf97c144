"""What the QA files share (rule tests in `rules/tests/`, replay scenarios in `scenarios/`):
reading YAML with positions, turning validation failures into located errors, the
event shorthands a business user writes, and the check that named rules and offers exist.

The event shorthands (`purchase: boiler-ecotherm-30`, `complaint: opened`...) are
documented with the rule test format in `engine.qa.rule_tests`, shown by
`forestall rules test --help`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from datetime import UTC, date, tzinfo
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from engine.errors import RuleError
from engine.events import (
    Complaint,
    ContactOutcome,
    OrderStatus,
    Payload,
    ProfileUpdate,
    Purchase,
    Review,
    ServiceVisit,
    Timestamp,
    UsageReading,
)
from engine.moments import parse_moment
from engine.ruleset.diagnostics import KnownKeys, did_you_mean, key_homes, validation_errors
from engine.ruleset.loader import RuleSet
from engine.ruleset.source import Located, YamlProblem, load_located
from engine.ruleset.source import Path as DataPath

MAX_FILE_BYTES = 1_000_000
# Short names a business user writes, and the event fields they stand for.
SHORT_NAMES = {"product": "product_id", "price": "unit_price"}
M = TypeVar("M", bound=BaseModel)


def moment_of(value: object, zone: tzinfo | None = None) -> object:
    """A date or an ISO text as a datetime, in `zone` when it names none (None: left without one);
    anything else is left to the validator, which says what is wrong."""
    if isinstance(value, str | date):
        with contextlib.suppress(ValueError):
            return parse_moment(value, zone)
    return value


def _utc_unless_stated(value: object) -> object:
    """`2026-01-10` and `2026-01-10 09:00` mean UTC here; ingested events must say their zone."""
    return moment_of(value, UTC)


Moment = Annotated[Timestamp, BeforeValidator(_utc_unless_stated)]


def _expand(value: Any, bare_field: str | None, defaults: dict[str, object]) -> Any:
    """An entry's shorthand as the event model's fields: with `bare_field="state"`,
    `delayed` becomes `{state: delayed}`; `product` becomes `product_id`; defaults fill the rest."""
    if bare_field and isinstance(value, str | int | float):
        value = {bare_field: value}
    if isinstance(value, dict):
        return {**defaults, **{SHORT_NAMES.get(key, key): item for key, item in value.items()}}
    return value


def _written_out(bare_field: str | None = None, **defaults: object) -> BeforeValidator:
    return BeforeValidator(lambda value: _expand(value, bare_field, defaults))


def _basket(value: Any) -> Any:
    """One product, one line item or a list of them: the items of one purchase."""
    items = value if isinstance(value, list) else [value]
    return {"items": [_expand(item, "product_id", {"quantity": 1, "unit_price": 0}) for item in items]}


# Every QA file model: an unknown key is a mistake to point at, and a loaded file is not changed.
STRICT = ConfigDict(extra="forbid", frozen=True)


class EventShorthand(BaseModel):
    """The event keys of an entry, at most one of them set; subclasses say when it happened."""

    model_config = STRICT

    purchase: Annotated[Purchase, BeforeValidator(_basket)] | None = None
    service_visit: Annotated[ServiceVisit, _written_out("product_id")] | None = None
    usage_reading: Annotated[UsageReading, _written_out()] | None = None
    review: Annotated[Review, _written_out()] | None = None
    complaint: Annotated[Complaint, _written_out("state", complaint_id="complaint")] | None = None
    order_status: Annotated[OrderStatus, _written_out("state", order_id="order")] | None = None
    contact_outcome: Annotated[ContactOutcome, _written_out("outcome")] | None = None
    profile: Annotated[ProfileUpdate, _written_out()] | None = None

    def require_one_of(self, names: tuple[str, ...], code: str) -> None:
        """Exactly one of `names` is set, or the entry is refused saying which it holds."""
        found = [name for name in names if getattr(self, name) is not None]
        if len(found) != 1:
            choices = ", ".join(names[:-1]) + f" or {names[-1]}"
            raise PydanticCustomError(code, f"an entry is one of {choices}; found {', '.join(found) or 'none'}")

    @property
    def payload(self) -> Payload | None:
        """The event this entry holds; None when it holds something else."""
        return next((getattr(self, name) for name in EVENT_TYPES if getattr(self, name) is not None), None)


EVENT_TYPES = tuple(EventShorthand.model_fields)
# A customer's profile, written as the `profile:` entry is.
ProfileShorthand = Annotated[ProfileUpdate, _written_out()]


def known_keys(model: type[BaseModel]) -> dict[str, frozenset[str]]:
    """Every key a file of `model` may hold, with the keys it goes under; a short name goes where its field does."""
    homes = key_homes(model)
    return {**homes, **{short: homes.get(field, frozenset()) for short, field in SHORT_NAMES.items()}}


def read_located(path: Path, errors: list[RuleError]) -> Located | None:
    """The file's YAML with positions; None, with the error added, when it cannot be read or parsed."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            errors.append(RuleError(str(path), 1, 1, "too-large", f"the file is larger than {MAX_FILE_BYTES} bytes"))
            return None
        return load_located(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(RuleError(str(path), 1, 1, "unreadable", str(exc)))
    except YamlProblem as problem:
        errors.append(RuleError(str(path), problem.line, problem.column, problem.code, problem.message))
    return None


def validated(
    model: type[M],
    data: object,
    located: Located,
    file: str,
    errors: list[RuleError],
    keys: KnownKeys,
    at: DataPath = (),
) -> M | None:
    """`data` (standing at `at` in the file) as `model`; None, with every error located, when it is not one."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        errors.extend(validation_errors(exc, model, located, file, keys, at))
        return None


def locator(located: Located, file: str, errors: list[RuleError]) -> Callable[[DataPath, str, str], None]:
    """A function adding an error at a path in the file."""

    def error(path: DataPath, code: str, message: str) -> None:
        line, column = located.position(path)
        errors.append(RuleError(file, line, column, code, message))

    return error


def check_ids(
    ruleset: RuleSet,
    rules: Iterable[tuple[DataPath, str]],
    offers: Iterable[tuple[DataPath, str]],
    error: Callable[[DataPath, str, str], None],
) -> None:
    """Every rule and offer named exists: a misspelt id in an expectation of absence would always pass."""
    for path, rule_id in rules:
        if rule_id not in ruleset.by_id:
            error(path, "unknown-rule", f"unknown rule `{rule_id}`{did_you_mean(rule_id, ruleset.by_id)}")
    known_offers = [offer.id for offer in ruleset.catalogue.offers]
    for path, offer_id in offers:
        if ruleset.catalogue.offer(offer_id) is None:
            message = f"offer `{offer_id}` is not in the catalogue{did_you_mean(offer_id, known_offers)}"
            error(path, "unknown-offer", message)
