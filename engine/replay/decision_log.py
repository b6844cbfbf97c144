"""The decision log: each decision with what it read, as JSON Lines, for impact analysis.

One record a line (`FORESTALL_DECISION_LOG`, `forestall serve --decision-log FILE`):

    {"format": 1, "decision_id": "...", "ruleset_version": "d362f35c9617",
     "model_version": "churn=...,response=...", "ranked_by_model": true,
     "request": {"customer_id": "c-123", "as_of": "2026-06-01T00:00:00Z", "channel": "pos",
                 "touchpoint": "store-0042", "context": {}, "max_actions": null},
     "state_digest": "sha256:...", "state": {...the customer state, as `CustomerState.encode()` gives it...},
     "actions": [{"action_id": "boiler-service-due:asset:pos-0001/0", "rule_id": ..., "offer_id": ...,
                  "family": ..., "channel": ..., "send_at": ..., "valid_until": ..., "score": ...,
                  "text": ..., "matched_facts": {...}}],
     "held_out": [...the control group's actions, decided and not returned, in the same shape...]}

The state is the one the decision's facts were derived from, so a record can be
decided again without the store (`forestall replay --log`); its digest identifies it.
Actions are in the shape replay reports give them, with their id (the rule and the
fact it matched). The log is data, like the store: it holds customer ids and states.

Writing never holds a decision up: a decision hands its record to a queue, and one
writer thread encodes, appends and flushes to the operating system in batches, at
most `LINGER_SECONDS` after the decision. When
the disk fails the records are lost and an error is logged (once per failure, then
every `REPORT_EVERY` records lost, and again when writing recovers); the decision is
not failed. When the queue is full (the disk has stalled), records are dropped, the
same way. A record cut short by a failed write is ended by a newline before the next
one, so it costs one unreadable line, not two records.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import structlog

from engine.decision.types import Action, DecideRequest, Decision
from engine.errors import RuleError
from engine.features.state import CustomerState
from engine.replay.runner import SeenAction
from engine.vocabulary import Channel

log = structlog.get_logger(__name__)

FORMAT = 1
DEFAULT_CAPACITY = 10_000  # records waiting for the writer before new ones are dropped
BATCH = 500  # records written with one system call at the most
REPORT_EVERY = 1000  # while records are being lost, an error line per this many
# The writer waits this long after a record for others to write with it: a busy server's decisions
# then share a system call and a wake-up of the writer, instead of each contending for the interpreter.
LINGER_SECONDS = 0.02


class LoggedRequest(msgspec.Struct, frozen=True):
    customer_id: str
    as_of: datetime
    channel: Channel | None
    touchpoint: str
    context: dict[str, str]
    max_actions: int | None

    def decide_request(self) -> DecideRequest:
        return DecideRequest(
            self.customer_id, self.as_of, self.channel, self.touchpoint, self.max_actions, self.context
        )


class LoggedAction(msgspec.Struct, frozen=True):
    """An action in the replay reports' shape (`SeenAction`), with its id: its rule and the fact it matched."""

    action_id: str
    rule_id: str
    offer_id: str
    family: str
    channel: str
    send_at: str
    valid_until: str
    score: float
    text: str
    matched_facts: dict[str, str]

    @classmethod
    def of(cls, action: Action) -> LoggedAction:
        seen = SeenAction.of(action)
        shown = {f.name: getattr(seen, f.name) for f in dataclasses.fields(seen)}
        return cls(action.action_id, **{**shown, "send_at": _utc(seen.send_at), "valid_until": _utc(seen.valid_until)})

    @property
    def subject(self) -> str:
        """The fact the rule matched (`asset:<id>`, `consumable:<product>`, `customer`...), with the event
        of a rule that reads the latest event (`customer@<event>`)."""
        return self.action_id.removeprefix(f"{self.rule_id}:")

    def describe(self) -> str:
        return f"{self.rule_id} -> {self.offer_id} ({self.family}) via {self.channel}, for {self.subject}"


class LoggedDecision(msgspec.Struct, frozen=True):
    format: int
    decision_id: str
    ruleset_version: str
    model_version: str
    ranked_by_model: bool
    request: LoggedRequest
    state_digest: str
    state: msgspec.Raw
    actions: tuple[LoggedAction, ...]
    # The control group's actions: decided, not returned (engine/decision/arbitration.py).
    held_out: tuple[LoggedAction, ...] = ()

    def customer_state(self) -> CustomerState:
        return CustomerState.decode(bytes(self.state))


def state_digest(encoded: bytes) -> str:
    return "sha256:" + hashlib.sha256(encoded).hexdigest()


def encode_record(request: DecideRequest, state: CustomerState, decision: Decision) -> bytes:
    """A decision's record, one line with its newline."""
    encoded = state.encode()
    record = LoggedDecision(
        FORMAT,
        decision.decision_id,
        decision.ruleset_version,
        decision.model_version,
        decision.ranked_by_model,
        LoggedRequest(
            request.customer_id,
            request.as_of,
            request.channel,
            request.touchpoint,
            dict(sorted(request.context.items())),
            request.max_actions,
        ),
        state_digest(encoded),
        msgspec.Raw(encoded),
        tuple(LoggedAction.of(action) for action in decision.actions),
        tuple(LoggedAction.of(action) for action in decision.held_out),
    )
    return _ENCODER.encode(record) + b"\n"


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(LoggedDecision)


class DecisionLog:
    """Appends each decision's record to a JSON Lines file from a writer thread of its own; see the module."""

    def __init__(self, path: Path | str, capacity: int = DEFAULT_CAPACITY) -> None:
        self.path = Path(path)
        # Owner-only: the log holds customer ids and states. Raises OSError at start when it cannot be opened.
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._queue: queue.Queue[tuple[DecideRequest, CustomerState, Decision] | None] = queue.Queue(capacity)
        self._lock = threading.Lock()
        self._dropped = 0
        self._lost = 0  # records lost to write failures, in the current streak
        self._written = 0
        self._line_open = False  # a failed write left a record cut short
        self._closed = False
        self._writer = threading.Thread(target=self._write_all, name="decision-log", daemon=True)
        self._writer.start()

    def record(self, request: DecideRequest, state: CustomerState, decision: Decision) -> None:
        """Queue a decision's record; drops it (and logs an error) rather than wait when the writer is behind."""
        if self._closed:
            return
        try:
            self._queue.put_nowait((request, state, decision))
        except queue.Full:
            with self._lock:
                self._dropped += 1
                dropped = self._dropped
            if dropped % REPORT_EVERY == 1:
                log.error("decision_log_full", path=str(self.path), dropped=dropped, capacity=self._queue.maxsize)

    def close(self) -> None:
        """Write what is queued, then close the file; records of decisions made after this are not kept."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._writer.join()
        with contextlib.suppress(OSError):  # not a regular file (a pipe, /dev/full): what could be written was
            os.fsync(self._fd)
        os.close(self._fd)
        log.info("decision_log_closed", path=str(self.path), written=self._written, dropped=self._dropped)

    def _write_all(self) -> None:
        while True:
            batch = [self._queue.get()]
            if batch[0] is not None:
                time.sleep(LINGER_SECONDS)
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            records = [entry for entry in batch if entry is not None]
            if records:
                self._write(records)
            if len(records) < len(batch):
                return

    def _write(self, records: list[tuple[DecideRequest, CustomerState, Decision]]) -> None:
        lines = []
        for request, state, decision in records:
            try:
                lines.append(encode_record(request, state, decision))
            except Exception:  # a bug must cost its record, not the writer thread
                log.exception("decision_log_encode_failed", decision_id=decision.decision_id)
        data = memoryview((b"\n" if self._line_open else b"") + b"".join(lines))
        written = 0
        try:
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except OSError as exc:
            if written:
                self._line_open = True
            self._failed(len(lines), exc)
            return
        self._line_open = False
        self._written += len(lines)
        if self._lost:
            log.error("decision_log_recovered", path=str(self.path), lost=self._lost)
            self._lost = 0

    def _failed(self, count: int, exc: OSError) -> None:
        before, self._lost = self._lost, self._lost + count
        if before == 0 or before // REPORT_EVERY != self._lost // REPORT_EVERY:
            log.error("decision_log_write_failed", path=str(self.path), error=str(exc), lost=self._lost)


@dataclass(frozen=True)
class LogLine:
    """A record read from a log, with where it was."""

    file: str
    line: int
    decision: LoggedDecision


def read_log(paths: Iterable[Path]) -> Iterator[LogLine | RuleError]:
    """Every record of the logs in order, or a located error for a line that is not one (a record cut short,
    another format, a state that does not match its digest); blank lines are passed over.
    Raises OSError when a file cannot be read."""
    for path in paths:
        with open(path, "rb") as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    yield _read_line(str(path), number, line)


def _read_line(file: str, number: int, line: bytes) -> LogLine | RuleError:
    try:
        decision = _DECODER.decode(line)
    except msgspec.DecodeError as exc:
        return RuleError(file, number, 1, "unreadable-record", str(exc))
    if decision.format != FORMAT:
        return RuleError(file, number, 1, "unknown-format", f"format {decision.format}; this version reads {FORMAT}")
    if state_digest(bytes(decision.state)) != decision.state_digest:
        return RuleError(file, number, 1, "state-digest-mismatch", "the state does not match its digest")
    return LogLine(file, number, decision)


def _utc(moment: datetime) -> str:
    """UTC, as replay reports write times."""
    return moment.astimezone(UTC).isoformat()
