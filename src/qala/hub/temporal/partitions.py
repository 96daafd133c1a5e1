"""Monthly partitions of the history table on PostgreSQL: created on demand before rows are
written, and dropped by retention. A DEFAULT partition (made by the migration) takes rows no
monthly partition covers, so a reading far in the past or future is never lost; when its
month later gets a partition, those rows are moved into it.

Partitions are only made for months in a window around today (``PAST_YEARS`` back,
``FUTURE_MONTHS`` ahead) so that a client sending absurd timestamps cannot make thousands."""

from __future__ import annotations

import datetime as dt
import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from qala.hub.temporal.models import VALUES_TABLE

PAST_YEARS = 20
FUTURE_MONTHS = 12
DEFAULT_PARTITION = f"{VALUES_TABLE}_default"
NAME = re.compile(rf"^{VALUES_TABLE}_p(\d{{4}})(\d{{2}})$")
LOCK_KEY = 7_213_004  # pg_advisory_xact_lock key serialising partition DDL

#: Partitions seen committed, per engine: a write then needs no catalog look-up. Only names
#: found in the catalog without having been created by this connection are remembered, so a
#: partition made in a transaction that is later rolled back is never taken for granted.
_SEEN: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month (UTC)."""

    year: int
    month: int

    @classmethod
    def of(cls, moment: dt.datetime) -> Month:
        """The month ``moment`` falls in (UTC)."""
        utc = moment.astimezone(dt.UTC)
        return cls(utc.year, utc.month)

    @property
    def start(self) -> dt.datetime:
        """First instant of the month."""
        return dt.datetime(self.year, self.month, 1, tzinfo=dt.UTC)

    def next(self) -> Month:
        """The following month."""
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def partition(self) -> str:
        """Name of its partition."""
        return f"{VALUES_TABLE}_p{self.year:04d}{self.month:02d}"


def in_window(month: Month, today: dt.datetime) -> bool:
    """Whether ``month`` may get its own partition (else its rows stay in the default one)."""
    now = Month.of(today)
    first = Month(now.year - PAST_YEARS, now.month)
    last_index = now.year * 12 + now.month - 1 + FUTURE_MONTHS
    return first <= month <= Month(last_index // 12, last_index % 12 + 1)


def is_partitioned(db: Session) -> bool:
    """True on PostgreSQL, where the history table is partitioned."""
    return db.get_bind().dialect.name == "postgresql"


def ensure_partitions(db: Session, moments: Iterable[dt.datetime]) -> list[str]:
    """Make sure the months of ``moments`` have partitions (within the window); returns the
    partitions created. Runs in the caller's transaction, before its rows are written."""
    if not is_partitioned(db):
        return []
    today = dt.datetime.now(dt.UTC)
    engine = db.get_bind().engine
    seen = _SEEN.setdefault(engine, set())
    months = {(t.year, t.month) for t in (m.astimezone(dt.UTC) for m in moments)}
    wanted = {m for m in (Month(*pair) for pair in months) if in_window(m, today)}
    missing = sorted(m for m in wanted if m.partition not in seen)
    if not missing:
        return []
    created_here: set[str] = db.connection().info.setdefault("qala_partitions", set())
    existing = _existing(db, [m.partition for m in missing])
    seen.update(existing - created_here)
    todo = [m for m in missing if m.partition not in existing]
    if not todo:
        return []
    db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    existing = _existing(db, [m.partition for m in todo])  # another writer may have won
    made = []
    for month in todo:
        if month.partition not in existing:
            create_partition(db, month)
            created_here.add(month.partition)
            made.append(month.partition)
    return made


def _existing(db: Session, names: list[str]) -> set[str]:
    rows = db.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid "
            "JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = :parent AND c.relname = ANY(:names)"
        ),
        {"parent": VALUES_TABLE, "names": names},
    )
    return {str(name) for (name,) in rows}


#: Statements of a partition's creation; names are module constants, bounds are parameters.
_IN_MONTH = "observed_at >= CAST(:low AS timestamptz) AND observed_at < CAST(:high AS timestamptz)"
_STRANDED = f"SELECT EXISTS (SELECT 1 FROM {DEFAULT_PARTITION} WHERE {_IN_MONTH})"  # noqa: S608
_PARK = (
    f"CREATE TEMP TABLE qala_moving ON COMMIT DROP AS "  # noqa: S608
    f"SELECT * FROM {DEFAULT_PARTITION} WHERE {_IN_MONTH}"
)
_UNPARK = f"DELETE FROM {DEFAULT_PARTITION} WHERE {_IN_MONTH}"  # noqa: S608
_RESTORE = f"INSERT INTO {VALUES_TABLE} SELECT * FROM qala_moving"  # noqa: S608


def create_partition(db: Session, month: Month) -> None:
    """Create one monthly partition, moving rows the default partition holds for it."""
    low, high = month.start.isoformat(), month.next().start.isoformat()
    bounds = {"low": low, "high": high}
    stranded = db.execute(text(_STRANDED), bounds).scalar()
    if stranded:
        db.execute(text(_PARK), bounds)
        db.execute(text(_UNPARK), bounds)
    # DDL takes no bind parameters; the bounds are ISO timestamps made here, not input.
    db.execute(
        text(
            f"CREATE TABLE {month.partition} PARTITION OF {VALUES_TABLE} "
            f"FOR VALUES FROM ('{low}') TO ('{high}')"
        )
    )
    if stranded:
        db.execute(text(_RESTORE))
        db.execute(text("DROP TABLE qala_moving"))


def list_partitions(db: Session) -> list[tuple[str, Month]]:
    """The monthly partitions that exist, oldest first."""
    rows = db.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :parent"
        ),
        {"parent": VALUES_TABLE},
    )
    found = []
    for (name,) in rows:
        match = NAME.match(str(name))
        if match:
            found.append((str(name), Month(int(match[1]), int(match[2]))))
    return sorted(found, key=lambda item: item[1])


def drop_partitions_before(db: Session, cutoff: dt.datetime) -> list[str]:
    """Drop every monthly partition that ends at or before ``cutoff``; returns their names."""
    dropped = []
    for name, month in list_partitions(db):
        if month.next().start <= cutoff:
            db.execute(text(f"DROP TABLE {name}"))
            dropped.append(name)
    seen = _SEEN.get(db.get_bind().engine)
    if seen is not None:
        seen.difference_update(dropped)
    return dropped
