"""Who may do what: the roles of callers and the tokens that carry them.

Tokens are kept and compared by their SHA-256 digest, never in clear.
"""

from __future__ import annotations

import hashlib

ROLES = ("decision", "admin")
# The roles that hold each role's rights.
GRANTED_BY = {"decision": {"decision", "admin"}, "admin": {"admin"}}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_tokens(text: str) -> dict[str, str]:
    """`role:token,role:token` as {token digest: role}; raises ValueError naming a bad entry."""
    tokens: dict[str, str] = {}
    for number, entry in enumerate(filter(None, (e.strip() for e in text.split(","))), start=1):
        role, _, token = entry.partition(":")
        if role not in ROLES or not token:
            raise ValueError(f"entry {number} must be `role:token` with a role of {', '.join(ROLES)}")
        tokens[digest(token)] = role
    return tokens
