"""Pseudonymous customer references for logs: customer ids never appear in clear.

A keyed BLAKE2b digest: stable for one key, so the lines of one customer can be
followed, and not reversible by hashing guessed ids without the key. Without a
configured key each process draws its own.
"""

from __future__ import annotations

import hashlib
import secrets

_key = secrets.token_bytes(32)


def set_log_key(key: str) -> None:
    """Use a shared key so replicas and restarts give a customer the same reference."""
    global _key
    _key = hashlib.blake2b(key.encode(), digest_size=32).digest()


def customer_ref(customer_id: str) -> str:
    return "c_" + hashlib.blake2b(customer_id.encode(), key=_key, digest_size=8).hexdigest()
