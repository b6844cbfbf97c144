"""Write-behind for records a request produces but need not wait for (decisions).

Records are written on a thread of their own, as many to a batch as have queued
up, so a request never waits on the disk or on other writers. The thread lingers
after the first record of a batch, so that under load it wakes once per batch, not
once per record: each wake-up takes the GIL from the requests at their next release
of it. A queued record is readable at once through `pending`, and `flush` waits
until all are written (without lingering).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger(__name__)

Record = TypeVar("Record")

RETRY_SECONDS = 0.5
LINGER_SECONDS = 0.05
MAX_BATCH = 1000


class WriteBehind(Generic[Record]):
    def __init__(self, name: str, write_batch: Callable[[Sequence[Record]], None]) -> None:
        self._write_batch = write_batch
        self._pending: dict[str, Record] = {}
        self._changed = threading.Condition()
        self._closing = False
        self._flushing = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, key: str, record: Record) -> None:
        with self._changed:
            self._pending[key] = record
            self._changed.notify_all()

    def pending(self, key: str) -> Record | None:
        with self._changed:
            return self._pending.get(key)

    def flush(self) -> None:
        """Wait until everything queued so far is written."""
        with self._changed:
            self._flushing += 1
            self._changed.notify_all()
            try:
                self._changed.wait_for(lambda: not self._pending or not self._thread.is_alive())
            finally:
                self._flushing -= 1

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join()

    def _batch_due(self) -> bool:
        return self._closing or self._flushing > 0 or len(self._pending) >= MAX_BATCH

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending or self._closing)
                self._changed.wait_for(self._batch_due, timeout=LINGER_SECONDS)
                if not self._pending:
                    return
                batch = dict(self._pending)
            try:
                self._write_batch(list(batch.values()))
            except Exception as exc:
                # The records stay queued and readable; the next round tries again.
                log.error("write_behind_failed", writer=self._thread.name, records=len(batch), error=str(exc))
                with self._changed:
                    if self._closing:
                        log.error("write_behind_dropped", writer=self._thread.name, records=len(self._pending))
                        self._pending.clear()
                        self._changed.notify_all()
                        return
                    self._changed.wait(RETRY_SECONDS)
                continue
            with self._changed:
                for key in batch:
                    self._pending.pop(key, None)
                self._changed.notify_all()
