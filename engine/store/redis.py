"""The Redis store: shared state for several server replicas.

Opened from a URL, `redis://host:port/db` or `rediss://...`, with two options of
Forestall's own in its query (any other option goes to redis-py):

- `key_prefix` (default `forestall`) starts every key; it must not contain braces;
- `decision_ttl_days` (default 90) is how long decisions and outcomes are kept.

Key layout. Every key of one customer carries the hash tag `{c:<customer id>}`, and
every key of one decision `{d:<decision id>}` (RecordOutcome knows only the decision
id), so a Redis Cluster keeps each group in one slot and a script can change a group
atomically:

    <prefix>:{c:<id>}:events      hash    event id -> event JSON
    <prefix>:{c:<id>}:timeline    zset    event id, scored by occurred_at in microseconds
    <prefix>:{c:<id>}:state       hash    version; snapshot and snapshot_version once derived;
                                          base once compacted
    <prefix>:{c:<id>}:decisions   zset    decision id, scored by its expiry (Redis clock)
    <prefix>:{d:<id>}:decision    string  decision JSON
    <prefix>:{d:<id>}:outcomes    hash    "<action id> <outcome>" -> outcome JSON
    <prefix>:customers            zset    every customer id, score 0, listed by ZRANGEBYLEX

Ingestion runs one Lua script per customer, all of a batch's scripts pipelined in one
round trip; the customers index is updated after them, so a customer is never listed
without events (a retried batch repairs an index update lost to a crash). A
customer's state loads with one script call. Decisions are written behind the
request, in batches (write_behind.py), as in the SQLite store: a Decide waits for one
round trip (the load), not two.

Retention: compaction (`compact`, one script) folds a customer's oldest events into
the `base` state and deletes them. A decision and its outcomes expire
`decision_ttl_days` after they are written.

Durability: an acknowledged write is as durable as the server's persistence makes it.
Acknowledged means durable only with `appendonly yes` and `appendfsync always`; the
store logs `store_not_durable` at start-up when the server says otherwise. An erased
customer stays in the append-only file and snapshots until the next rewrite
(`BGREWRITEAOF`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
import structlog

from engine.errors import StoreUnavailable
from engine.events import Event
from engine.store.base import (
    DEFAULT_MAX_EVENTS_PER_CUSTOMER,
    CustomerChange,
    CustomerHistory,
    IngestCode,
    Ingested,
    Snapshot,
    Store,
    StoredDecision,
    StoredOutcome,
    events_from_json,
)
from engine.store.write_behind import WriteBehind

log = structlog.get_logger(__name__)

DEFAULT_KEY_PREFIX = "forestall"
DEFAULT_DECISION_TTL = timedelta(days=90)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CUSTOMER_PAGE = 500

# KEYS: events, timeline, state. ARGV: (event id, score, body) per event. Stores each
# new event and bumps the version if there was one. Returns {1 (accepted) or 0
# (duplicate) per event, version before, version after, events held}.
_INGEST = """
local codes = {}
local accepted = 0
for i = 1, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 2]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i])
    codes[#codes + 1] = 1
    accepted = accepted + 1
  else
    codes[#codes + 1] = 0
  end
end
local before = tonumber(redis.call('HGET', KEYS[3], 'version') or '0')
local after = before
if accepted > 0 then
  after = redis.call('HINCRBY', KEYS[3], 'version', 1)
end
return {codes, before, after, redis.call('ZCARD', KEYS[2])}
"""

# KEYS: events, timeline, state. ARGV: how many of the oldest events, -1 for all.
# Returns the version, the base (false if none), then the event bodies in timeline
# order, in one round trip; HMGET takes ids in chunks because Lua's unpack has a
# limit of about 8,000.
_LOAD = """
local ids = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[1]) - (tonumber(ARGV[1]) < 0 and 0 or 1))
local kept = redis.call('HMGET', KEYS[3], 'version', 'base')
local reply = {kept[1] or '0', kept[2]}
for first = 1, #ids, 1000 do
  local chunk = redis.call('HMGET', KEYS[1], unpack(ids, first, math.min(first + 999, #ids)))
  for _, body in ipairs(chunk) do
    reply[#reply + 1] = body
  end
end
return reply
"""

# KEYS: events, timeline, state. ARGV: version, count, base. If the customer is still at
# that version: deletes their `count` oldest events, keeps the base, bumps the version,
# and a snapshot current before stays current. Returns 1 if done, else 0.
_COMPACT = """
local version = redis.call('HGET', KEYS[3], 'version')
if not version or tonumber(version) ~= tonumber(ARGV[1]) then
  return 0
end
local count = tonumber(ARGV[2])
if count > 0 then
  local ids = redis.call('ZRANGE', KEYS[2], 0, count - 1)
  for first = 1, #ids, 1000 do
    redis.call('HDEL', KEYS[1], unpack(ids, first, math.min(first + 999, #ids)))
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, count - 1)
end
local after = redis.call('HINCRBY', KEYS[3], 'version', 1)
redis.call('HSET', KEYS[3], 'base', ARGV[3])
if redis.call('HGET', KEYS[3], 'snapshot_version') == version then
  redis.call('HSET', KEYS[3], 'snapshot_version', after)
end
return 1
"""

# KEYS: state. ARGV: version, snapshot. Keeps the snapshot only if the customer is still at that version.
_SAVE_SNAPSHOT = """
local version = redis.call('HGET', KEYS[1], 'version')
if not version or tonumber(version) ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'snapshot', ARGV[2], 'snapshot_version', ARGV[1])
return 1
"""

# KEYS: a customer's decision index. ARGV: the TTL in seconds, then decision ids.
# Scores are expiry times on the Redis clock, the one EXPIRE uses, so expired
# decisions leave the index as new ones arrive, and the index expires with the last.
_INDEX_DECISIONS = """
local now = tonumber(redis.call('TIME')[1])
local ttl = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
end
redis.call('EXPIRE', KEYS[1], ttl)
"""

# KEYS: keys of one slot. Deletes them and returns how many records they held: a
# hash holds one per field, a string one; sorted sets are indexes of those records.
_ERASE = """
local erased = 0
for _, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'hash' then
    erased = erased + redis.call('HLEN', key)
  elseif kind == 'string' then
    erased = erased + 1
  end
  redis.call('DEL', key)
end
return erased
"""


_TAKE_SLOT = """
local taken = tonumber(redis.call('GET', KEYS[1]) or '0')
if taken >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
_SLOT_TTL_SECONDS = 8 * 24 * 3600


def _score(moment: datetime) -> int:
    """Microseconds since 1970: exact in a sorted set's double for years 1900-2200."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


class RedisStore(Store):
    kind = "redis"

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        max_events_per_customer: int = DEFAULT_MAX_EVENTS_PER_CUSTOMER,
        decision_ttl: timedelta = DEFAULT_DECISION_TTL,
    ) -> None:
        parts = urlsplit(url)
        self.location = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2], query=""))
        if "{" in key_prefix or "}" in key_prefix:  # a brace would make the prefix the hash tag of every key
            raise StoreUnavailable(f"redis store {self.location}: key_prefix {key_prefix!r} must not contain braces")
        if decision_ttl < timedelta(seconds=1):
            raise StoreUnavailable(f"redis store {self.location}: decision_ttl_days must be positive")
        self.max_events_per_customer = max_events_per_customer
        self._prefix = key_prefix
        self._customers_key = f"{key_prefix}:customers"
        self._decision_ttl = int(decision_ttl.total_seconds())
        # Replies are str, not bytes; redis-py's types cannot tell, hence the casts below.
        self._client = redis.Redis.from_url(url, decode_responses=True)
        self._ingest = self._client.register_script(_INGEST)
        self._load = self._client.register_script(_LOAD)
        self._save_snapshot = self._client.register_script(_SAVE_SNAPSHOT)
        self._compact = self._client.register_script(_COMPACT)
        self._index_decisions = self._client.register_script(_INDEX_DECISIONS)
        self._erase = self._client.register_script(_ERASE)
        self._take_slot = self._client.register_script(_TAKE_SLOT)
        with self._errors():
            self._client.ping()
            self._warn_unless_durable()
        self._decisions = WriteBehind[StoredDecision]("redis-decisions", self._write_decisions)

    @classmethod
    def from_url(cls, url: str, max_events_per_customer: int = DEFAULT_MAX_EVENTS_PER_CUSTOMER) -> RedisStore:
        """Open the store at a URL whose query may carry `key_prefix` and `decision_ttl_days`."""
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        key_prefix = query.pop("key_prefix", DEFAULT_KEY_PREFIX)
        ttl_days = query.pop("decision_ttl_days", None)
        return cls(
            urlunsplit(parts._replace(query=urlencode(query))),
            key_prefix=key_prefix,
            max_events_per_customer=max_events_per_customer,
            decision_ttl=timedelta(days=float(ttl_days)) if ttl_days else DEFAULT_DECISION_TTL,
        )

    def _warn_unless_durable(self) -> None:
        try:
            config = self._client.config_get("append*")
        except redis.ResponseError:  # managed services may refuse CONFIG: nothing to learn then
            return
        appendonly, appendfsync = config.get("appendonly"), config.get("appendfsync")
        if (appendonly, appendfsync) != ("yes", "always"):
            log.warning("store_not_durable", store=self.location, appendonly=appendonly, appendfsync=appendfsync)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis store {self.location}: {exc}") from exc

    def _customer_key(self, customer_id: str, part: str) -> str:
        return f"{self._prefix}:{{c:{customer_id}}}:{part}"

    def _decision_key(self, decision_id: str, part: str) -> str:
        return f"{self._prefix}:{{d:{decision_id}}}:{part}"

    def _history_keys(self, customer_id: str) -> list[str]:
        return [self._customer_key(customer_id, part) for part in ("events", "timeline", "state")]

    def ingest_changes(self, events: Sequence[Event], durable: bool = True) -> Ingested:
        # As durable as the server's append-only file makes every write (see _warn_unless_durable).
        if not events:
            return Ingested([], {})
        positions: dict[str, list[int]] = defaultdict(list)
        for position, event in enumerate(events):
            positions[event.customer_id].append(position)
        with self._errors():
            pipeline = self._client.pipeline(transaction=False)
            for customer_id, indexes in positions.items():
                args: list[str | int] = []
                for i in indexes:
                    args += [events[i].event_id, _score(events[i].occurred_at), events[i].model_dump_json()]
                self._ingest(keys=self._history_keys(customer_id), args=args, client=pipeline)
            results = pipeline.execute()
            self._client.zadd(self._customers_key, dict.fromkeys(positions, 0))
        codes: list[IngestCode] = [IngestCode.DUPLICATE] * len(events)
        changes = {}
        for (customer_id, indexes), (accepted, before, after, held) in zip(positions.items(), results, strict=True):
            for i, flag in zip(indexes, accepted, strict=True):
                if flag:
                    codes[i] = IngestCode.ACCEPTED
            if after != before:
                changes[customer_id] = CustomerChange(before, after, held)
        return Ingested(codes, changes)

    def load_customer(self, customer_id: str, oldest: int | None = None) -> CustomerHistory:
        with self._errors():
            version, base, *bodies = self._load(keys=self._history_keys(customer_id), args=[oldest or -1])
        return CustomerHistory(customer_id, events_from_json(bodies), int(version), base)

    def compact(self, customer_id: str, version: int, count: int, base: str) -> bool:
        with self._errors():
            return bool(self._compact(keys=self._history_keys(customer_id), args=[version, count, base]))

    def load_snapshot(self, customer_id: str) -> Snapshot:
        key = self._customer_key(customer_id, "state")
        with self._errors():
            version, kept_version, body = self._client.hmget(key, ["version", "snapshot_version", "snapshot"])
        return Snapshot(int(version or 0), None if kept_version is None else int(kept_version), body)

    def save_snapshot(self, customer_id: str, version: int, body: str) -> bool:
        with self._errors():
            return bool(self._save_snapshot(keys=[self._customer_key(customer_id, "state")], args=[version, body]))

    def customer_ids(self) -> Iterator[str]:
        last = "-"
        while True:
            with self._errors():
                page = cast(list[str], self._client.zrangebylex(self._customers_key, last, "+", 0, _CUSTOMER_PAGE))
            yield from page
            if len(page) < _CUSTOMER_PAGE:
                return
            last = f"({page[-1]}"

    def count_customers(self) -> int:
        with self._errors():
            return int(self._client.zcard(self._customers_key))

    def take_slot(self, counter: str, limit: int) -> bool:
        if limit <= 0:
            return False
        with self._errors():
            return bool(self._take_slot(keys=[f"{self._prefix}:slots:{counter}"], args=[limit, _SLOT_TTL_SECONDS]))

    def slots_taken(self, counter: str) -> int:
        with self._errors():
            return int(cast(str | None, self._client.get(f"{self._prefix}:slots:{counter}")) or 0)

    def save_decision(self, decision: StoredDecision) -> None:
        self._decisions.put(decision.decision_id, decision)

    def _write_decisions(self, decisions: Sequence[StoredDecision]) -> None:
        by_customer: dict[str, list[str]] = defaultdict(list)
        with self._errors():
            pipeline = self._client.pipeline(transaction=False)
            for d in decisions:
                key = self._decision_key(d.decision_id, "decision")
                pipeline.set(key, json.dumps(d.document()), ex=self._decision_ttl)
                by_customer[d.customer_id].append(d.decision_id)
            for customer_id, decision_ids in by_customer.items():
                keys = [self._customer_key(customer_id, "decisions")]
                self._index_decisions(keys=keys, args=[self._decision_ttl, *decision_ids], client=pipeline)
            pipeline.execute()

    def find_decision(self, decision_id: str) -> StoredDecision | None:
        pending = self._decisions.pending(decision_id)
        if pending is not None:
            return pending
        with self._errors():
            body = cast(str | None, self._client.get(self._decision_key(decision_id, "decision")))
        return None if body is None else StoredDecision.from_json(body)

    def customer_decision_ids(self, customer_id: str) -> list[str]:
        self._decisions.flush()
        with self._errors():
            return cast(list[str], self._client.zrange(self._customer_key(customer_id, "decisions"), 0, -1))

    def record_outcome(self, outcome: StoredOutcome) -> None:
        self._decisions.flush()  # the outcome's decision must be written before it
        key = self._decision_key(outcome.decision_id, "outcomes")
        with self._errors():
            pipeline = self._client.pipeline(transaction=True)
            pipeline.hsetnx(key, f"{outcome.action_id} {outcome.outcome.value}", json.dumps(outcome.document()))
            pipeline.expire(key, self._decision_ttl)
            pipeline.execute()

    def outcomes(self, decision_id: str) -> list[StoredOutcome]:
        with self._errors():
            bodies = cast(list[str], self._client.hvals(self._decision_key(decision_id, "outcomes")))
        return sorted((StoredOutcome.from_json(body) for body in bodies), key=lambda o: o.order)

    def forget_customer(self, customer_id: str) -> int:
        decision_ids = self.customer_decision_ids(customer_id)
        with self._errors():
            pipeline = self._client.pipeline(transaction=False)
            for decision_id in decision_ids:
                keys = [self._decision_key(decision_id, "decision"), self._decision_key(decision_id, "outcomes")]
                self._erase(keys=keys, client=pipeline)
            parts = ("events", "timeline", "decisions")
            self._erase(keys=[self._customer_key(customer_id, part) for part in parts], client=pipeline)
            pipeline.delete(self._customer_key(customer_id, "state"))  # derived from the events: not counted
            pipeline.zrem(self._customers_key, customer_id)
            *erased, _, _ = pipeline.execute()
        return sum(erased)

    def close(self) -> None:
        self._decisions.close()
        self._client.close()
