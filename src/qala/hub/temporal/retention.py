"""Retention of attribute history (``QALA_HUB_RETENTION_DAYS``, ``qala hub prune``): raw rows
older than the retention are dropped — whole monthly partitions on PostgreSQL, row deletes for
the rest — while the hourly and daily roll-ups are kept. Pruning also makes the partitions of
this month and the next ahead of time, so writers rarely have to."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.orm import Session

from qala.hub.temporal.models import HubTemporalValue
from qala.hub.temporal.partitions import (
    Month,
    drop_partitions_before,
    ensure_partitions,
    is_partitioned,
)


@dataclass(frozen=True)
class PruneReport:
    """What a prune did."""

    cutoff: dt.datetime | None  # rows observed before it were removed; None: kept forever
    dropped_partitions: tuple[str, ...] = ()
    deleted_rows: int = 0
    created_partitions: tuple[str, ...] = ()


def prune_history(db: Session, retention_days: int, now: dt.datetime | None = None) -> PruneReport:
    """Remove history observed more than ``retention_days`` ago (0 keeps everything)."""
    now = now or dt.datetime.now(dt.UTC)
    created = ensure_partitions(db, [now, Month.of(now).next().start])
    if retention_days <= 0:
        return PruneReport(None, created_partitions=tuple(created))
    cutoff = now - dt.timedelta(days=retention_days)
    dropped = drop_partitions_before(db, cutoff) if is_partitioned(db) else []
    result = db.execute(delete(HubTemporalValue).where(HubTemporalValue.observed_at < cutoff))
    deleted = int(getattr(result, "rowcount", 0) or 0)
    return PruneReport(cutoff, tuple(dropped), deleted, tuple(created))
