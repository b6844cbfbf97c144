"""Treated or control: a deterministic assignment of customers by hashing, with no state to keep.

A customer's place is `u = int(sha256(salt + "\\0" + customer_id)[:8]) / 2**64`, uniform in [0, 1); they are
in control when `u < share`. The same salt and id always give the same group, on any replica and in any
replay; a new salt reshuffles everyone; raising the share keeps everyone already in control there. The
contact policy's hold-out and the uplift report use the same function, so they agree on who was held out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

TREATED = "treated"
CONTROL = "control"
DEFAULT_SALT = "forestall-control"

#: customer id -> TREATED or CONTROL
Assignment = Callable[[str], str]


def unit_hash(salt: str, customer_id: str) -> float:
    """The customer's place in [0, 1) under this salt."""
    digest = hashlib.sha256(f"{salt}\0{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class HashAssignment:
    """Holds out `share` of customers (0 to 1) as control, chosen by `unit_hash`."""

    share: float
    salt: str = DEFAULT_SALT

    def __post_init__(self) -> None:
        if not 0 <= self.share <= 1:
            raise ValueError(f"control share {self.share} is not between 0 and 1")

    def __call__(self, customer_id: str) -> str:
        return CONTROL if unit_hash(self.salt, customer_id) < self.share else TREATED
