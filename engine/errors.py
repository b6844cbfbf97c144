"""The one root of Forestall's errors.

Each class names the gRPC status it maps to (by name, so the core does not import
gRPC) and builds its message from its fields. The API layer maps them in one
interceptor; any other exception is an internal error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ForestallError(Exception):
    """Base of every error Forestall raises on purpose."""

    status = "INTERNAL"


class InvalidArgument(ForestallError):
    """A request field is missing, malformed or out of range."""

    status = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class NotFound(ForestallError):
    status = "NOT_FOUND"

    def __init__(self, what: str, key: str) -> None:
        self.what = what
        self.key = key
        super().__init__(f"{what} {key!r} not found")


class StoreUnavailable(ForestallError):
    """The state store could not be read or written; nothing was acknowledged."""

    status = "UNAVAILABLE"


class HistoryCompacted(ForestallError):
    """A decision was asked as of a moment whose events were compacted: they are summed up, not kept."""

    status = "FAILED_PRECONDITION"

    def __init__(self, as_of: str, compacted_through: str) -> None:
        super().__init__(
            f"as_of {as_of}: the customer's events up to {compacted_through} are compacted; "
            "decisions as of an earlier moment cannot be derived"
        )


@dataclass(frozen=True, order=True)
class RuleError:
    """One problem in a rule file, rendered OPA-style as `file:line:col: code: message`."""

    file: str
    line: int
    column: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.code}: {self.message}"


class RuleSetInvalid(ForestallError):
    """A rule folder failed validation; every error found is listed."""

    status = "FAILED_PRECONDITION"

    def __init__(self, errors: Sequence[RuleError]) -> None:
        self.errors = sorted(errors)
        count = len(self.errors)
        lines = "\n".join(str(e) for e in self.errors)
        super().__init__(f"{count} error{'s' if count != 1 else ''} occurred:\n{lines}")
