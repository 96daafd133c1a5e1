"""Roll-ups kept up to date off the write path (PostgreSQL).

A history batch records its hourly deltas in one ``hub_temporal_pending`` row instead of
upserting one hourly and one daily roll-up row per series (that cost three quarters of the
write). The deltas are moved into the roll-ups later, many batches at once:

* by a background drainer in every process that writes or serves (``RollupWorker``), which
  bounds the backlog and amortises the updates (a series written every second costs one roll-up
  update per drain, not one per point);
* by ``settle`` before anything reads or rewrites roll-ups, so a reader always sees roll-ups
  that include every committed batch (and its own transaction's) — reads stay exact.

Drains are serialised by one advisory lock; the delete of the pending rows and the roll-up
upserts commit together, so a delta is added exactly once. SQLite (one writer at a time) keeps
the roll-ups in the write itself and has nothing pending."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.orm import Session

from qala.core.db import Database
from qala.hub.temporal.partitions import is_partitioned
from qala.hub.temporal.sql import DRAIN

if TYPE_CHECKING:
    from qala.core.runtime import Runtime

log = logging.getLogger(__name__)

LOCK_KEY = 7_213_005  # pg advisory lock serialising drains
BATCHES_PER_DRAIN = 25  # pending rows (history batches) moved per statement
INTERVAL = 5.0  # seconds between background drains


def settle(db: Session) -> int:
    """Add every pending delta visible to this transaction to the roll-ups (waiting for a
    drain in progress elsewhere); returns the batches drained. The drain lock is held until
    the caller's transaction ends, so no other drain interleaves with what it reads next."""
    if not is_partitioned(db):
        return 0
    if not db.scalar(text("SELECT EXISTS (SELECT 1 FROM hub_temporal_pending)")):
        return 0
    db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    return _drain_all(db)


def _drain_all(db: Session) -> int:
    total = 0
    while drained := int(db.execute(text(DRAIN), {"limit": BATCHES_PER_DRAIN}).scalar_one()):
        total += drained
    return total


def drain(database: Database) -> int:
    """One background drain in its own transaction; 0 when another drain holds the lock."""
    with database.session() as db:
        if not is_partitioned(db):
            return 0
        if not db.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": LOCK_KEY}):
            return 0
        drained = int(db.execute(text(DRAIN), {"limit": BATCHES_PER_DRAIN}).scalar_one())
        db.commit()
        return drained


class RollupWorker:
    """Drains pending roll-up deltas every ``interval`` seconds in a daemon thread."""

    def __init__(self, database: Database, interval: float = INTERVAL) -> None:
        self.database = database
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Drain until stopped; a failed round is logged and retried next time."""
        while not self._stop.wait(self.interval):
            try:
                while drain(self.database) == BATCHES_PER_DRAIN and not self._stop.is_set():
                    pass
            except Exception:
                log.warning("roll-up drain failed; retrying", exc_info=True)

    def start(self) -> None:
        """Run in a daemon thread."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="qala-hub-rollups", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop after the current drain, then drain what is left once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        try:
            while drain(self.database):
                pass
        except Exception:
            log.warning("final roll-up drain failed", exc_info=True)


def start(runtime: Runtime) -> Callable[[], None]:
    """Start the app's roll-up drainer; returns its stop."""
    worker = RollupWorker(runtime.database)
    worker.start()
    return worker.stop
