"""Writing history: attribute instances become narrow rows of their series, idempotent on
(series, observed_at), and only the rows actually inserted are rolled up into the hourly and
daily summaries (a duplicate never counts twice, a late point lands in its bucket).

PostgreSQL: one statement per batch (``jsonb_to_recordset`` source, or a binary COPY into a
staging table for big batches) whose CTEs insert the rows ``ON CONFLICT DO NOTHING RETURNING``
and record the hourly deltas of what came back as pending (``pending.py`` adds them to the
roll-ups off the write path). SQLite: executemany with RETURNING, then the roll-up upserts."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import case, delete, func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qala.hub.temporal.aggregate import is_numeric
from qala.hub.temporal.models import (
    FLAG_INTEGER,
    KIND_DELETED,
    KIND_OBSERVED,
    KIND_TIME_MASK,
    HubTemporalDaily,
    HubTemporalHourly,
    HubTemporalValue,
)
from qala.hub.temporal.partitions import ensure_partitions, is_partitioned
from qala.hub.temporal.pending import settle
from qala.hub.temporal.series import find, series_ids
from qala.hub.temporal.sql import COPY_COLUMNS, COPY_TYPES, PG_UPSERT, STAGING_TABLE

COPY_THRESHOLD = 2000  # rows from which PostgreSQL writes go through COPY
CHUNK = 500  # rows per multi-row statement on SQLite
#: Instance members kept in columns (or derived), never in ``data``.
COLUMN_MEMBERS = frozenset(
    {"observedAt", "datasetId", "createdAt", "modifiedAt", "instanceId", "deletedAt"}
)
Row = dict[str, Any]


@dataclass(slots=True)  # not frozen: a frozen dataclass is 3x slower to make, per point
class Point:
    """One attribute instance to keep: whose, which attribute (IRI), when, and what.

    ``instance`` is the full stored-form instance (type, value/object/languageMap, unitCode,
    sub-attributes...); without it the point is a plain Property with ``value``. Treated as
    immutable."""

    entity_id: str
    attribute: str
    observed_at: dt.datetime
    value: Any = None
    dataset_id: str = ""
    instance: Mapping[str, Any] | None = None
    kind: int = KIND_OBSERVED
    recorded_at: dt.datetime | None = None  # createdAt of the instance; default now


def to_row(city_id: int, point: Point, now: dt.datetime, series_id: int = 0) -> Row:
    """The history row of a point (in series ``series_id``)."""
    if point.instance is None:
        data: dict[str, Any] = {"value": point.value}
    else:
        data = {k: v for k, v in point.instance.items() if k not in COLUMN_MEMBERS}
        if data.get("type") == "Property":
            del data["type"]
    kind = point.kind
    value = data.get("value")
    number: float | None = None
    if is_numeric(value):
        number = float(value)  # type: ignore[arg-type]  # is_numeric checked it
        kind |= FLAG_INTEGER if isinstance(value, int) else 0
        del data["value"]
    elif isinstance(value, float) and not math.isfinite(value):
        data["value"] = str(value)  # NaN / Infinity are not JSON
    recorded = point.recorded_at or now
    return {
        "series_id": series_id,
        "city_id": city_id,
        "observed_at": point.observed_at.astimezone(dt.UTC),
        "kind": kind,
        "value": number,
        "data": data or None,
        "created_at": recorded,
        "modified_at": recorded,
    }


def append_points(db: Session, city_id: int, points: Iterable[Point]) -> int:
    """Keep ``points`` in the city's history; returns how many were new (duplicates of
    stored instances are ignored). One round trip on PostgreSQL."""
    now = dt.datetime.now(dt.UTC)
    points = list(points)
    numbers = series_ids(db, city_id, {(p.entity_id, p.attribute, p.dataset_id) for p in points})
    unique: dict[tuple[int, dt.datetime], Row] = {}
    for point in points:
        row = to_row(
            city_id, point, now, numbers[point.entity_id, point.attribute, point.dataset_id]
        )
        unique.setdefault((row["series_id"], row["observed_at"]), row)
    rows = list(unique.values())
    if not rows:
        return 0
    if is_partitioned(db):
        ensure_partitions(db, (row["observed_at"] for row in rows))
        return _write_postgres(db, rows)
    inserted = _insert_returning(db, rows)
    upsert_rollups(db, inserted)
    return len(inserted)


def _write_postgres(db: Session, rows: list[Row]) -> int:
    if len(rows) >= COPY_THRESHOLD:
        _copy_to_staging(db, rows)
        source = f"SELECT {', '.join(COPY_COLUMNS)} FROM {STAGING_TABLE}"  # noqa: S608
        inserted = int(db.execute(text(PG_UPSERT.format(source=source))).scalar_one())
        db.execute(text(f"TRUNCATE {STAGING_TABLE}"))
        return inserted
    payload = json.dumps(rows, default=_json_default)
    source = (
        "SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS s(series_id integer, "
        "city_id integer, observed_at timestamptz, kind smallint, value double precision, "
        "data jsonb, created_at timestamptz, modified_at timestamptz)"
    )
    return int(db.execute(text(PG_UPSERT.format(source=source)), {"rows": payload}).scalar_one())


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in history")


def _copy_to_staging(db: Session, rows: list[Row]) -> None:
    """COPY the rows into this connection's staging table (a temp table, emptied on use)."""
    db.execute(
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGING_TABLE} "
            f"(LIKE {HubTemporalValue.__tablename__} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
    )
    raw = db.connection().connection.dbapi_connection
    assert raw is not None
    with raw.cursor() as cursor:  # type: ignore[attr-defined]
        statement = f"COPY {STAGING_TABLE} ({', '.join(COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        with cursor.copy(statement) as copy:
            copy.set_types(COPY_TYPES)
            for row in rows:
                data = row["data"]
                copy.write_row(
                    (
                        row["series_id"],
                        row["city_id"],
                        row["observed_at"],
                        row["kind"],
                        row["value"],
                        None if data is None else Jsonb(data),
                        row["created_at"],
                        row["modified_at"],
                    )
                )


def dialect_insert(db: Session, table: Any) -> Any:
    """An INSERT with ON CONFLICT clauses for the session's database."""
    module = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)


def _insert_returning(db: Session, rows: list[Row]) -> list[Row]:
    table = HubTemporalValue.__table__
    columns = [table.c[name] for name in ("series_id", "city_id", "observed_at", "kind", "value")]
    statement = dialect_insert(db, table).on_conflict_do_nothing().returning(*columns)
    inserted: list[Row] = []
    for start in range(0, len(rows), CHUNK):
        result = db.execute(statement, rows[start : start + CHUNK])
        inserted.extend(row._asdict() for row in result)
    return inserted


def bucket_start(moment: dt.datetime, grain: str) -> dt.datetime:
    """Start of the UTC hour or day ``moment`` falls in."""
    utc = moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return utc.replace(hour=0) if grain == "day" else utc


def rollup_deltas(rows: Iterable[Row], grain: str) -> list[Row]:
    """Roll-up rows (one per attribute and bucket) summarising newly inserted history rows;
    deletion markers are not instances of the attribute's time line and are left out."""
    deltas: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        if row["kind"] & KIND_TIME_MASK == KIND_DELETED:
            continue
        moment, value = row["observed_at"], row["value"]
        bucket = bucket_start(moment, grain)
        key = (row["series_id"], bucket)
        delta = deltas.get(key)
        if delta is None:
            delta = deltas[key] = {
                "series_id": row["series_id"],
                "city_id": row["city_id"],
                "bucket": bucket,
                "count": 0,
                "numeric_count": 0,
                "total": 0.0,
                "total_squares": 0.0,
                "minimum": None,
                "maximum": None,
                "first_at": moment,
                "last_at": moment,
            }
        delta["count"] += 1
        delta["first_at"], delta["last_at"] = (
            min(delta["first_at"], moment),
            max(delta["last_at"], moment),
        )
        if value is not None:
            delta["numeric_count"] += 1
            delta["total"] += value
            delta["total_squares"] += value * value
            delta["minimum"] = value if delta["minimum"] is None else min(delta["minimum"], value)
            delta["maximum"] = value if delta["maximum"] is None else max(delta["maximum"], value)
    return list(deltas.values())


def _smaller(current: Any, new: Any) -> Any:
    return case(
        (new.is_(None), current), (or_(current.is_(None), new < current), new), else_=current
    )


def _larger(current: Any, new: Any) -> Any:
    return case(
        (new.is_(None), current), (or_(current.is_(None), new > current), new), else_=current
    )


def upsert_rollups(db: Session, rows: Sequence[Row]) -> None:
    """Add newly inserted history rows to both roll-ups."""
    for table, grain in (
        (HubTemporalHourly.__table__, "hour"),
        (HubTemporalDaily.__table__, "day"),
    ):
        deltas = rollup_deltas(rows, grain)
        if not deltas:
            continue
        statement = dialect_insert(db, table)
        new, old = statement.excluded, table.c
        figures = {
            "count": old.count + new.count,
            "numeric_count": old.numeric_count + new.numeric_count,
            "total": old.total + new.total,
            "total_squares": old.total_squares + new.total_squares,
            "minimum": _smaller(old.minimum, new.minimum),
            "maximum": _larger(old.maximum, new.maximum),
            "first_at": _smaller(old.first_at, new.first_at),
            "last_at": _larger(old.last_at, new.last_at),
        }
        upsert = statement.on_conflict_do_update(
            index_elements=["series_id", "bucket"], set_=figures
        )
        db.execute(upsert, deltas)


ROLLUP_FIGURES = (
    "count",
    "numeric_count",
    "total",
    "total_squares",
    "minimum",
    "maximum",
    "first_at",
    "last_at",
)


def _bucket_figures(db: Session, key: Row, size: dt.timedelta) -> Any:
    """Roll-up figures of one bucket computed from the history rows."""
    value = HubTemporalValue
    return db.execute(
        select(
            func.count(),
            func.count(value.value),
            func.coalesce(func.sum(value.value), 0.0),
            func.coalesce(func.sum(value.value * value.value), 0.0),
            func.min(value.value),
            func.max(value.value),
            func.min(value.observed_at),
            func.max(value.observed_at),
        ).where(
            value.series_id == key["series_id"],
            value.observed_at >= key["bucket"],
            value.observed_at < key["bucket"] + size,
            value.kind.op("&")(KIND_TIME_MASK) != KIND_DELETED,
        )
    ).one()


def recompute_buckets(
    db: Session,
    city_id: int,
    entity_id: str,
    attribute: str,
    dataset_id: str,
    moments: Iterable[dt.datetime],
) -> None:
    """Recompute the hourly and daily buckets holding ``moments`` from the history rows
    (after an instance was changed or deleted: a minimum cannot be subtracted)."""
    settle(db)  # pending deltas of these buckets would otherwise be added on top
    number = find(db, city_id, entity_id, attribute, dataset_id)
    if number is None:
        return
    series = {"series_id": number, "city_id": city_id}
    for table, grain, size in (
        (HubTemporalHourly, "hour", dt.timedelta(hours=1)),
        (HubTemporalDaily, "day", dt.timedelta(days=1)),
    ):
        for bucket in {bucket_start(moment, grain) for moment in moments}:
            key = {**series, "bucket": bucket}
            figures = _bucket_figures(db, key, size)
            db.execute(delete(table).where(table.series_id == number, table.bucket == bucket))
            if figures[0]:
                db.add(table(**key, **dict(zip(ROLLUP_FIGURES, figures, strict=True))))
    db.flush()
