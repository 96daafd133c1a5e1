"""The temporal store's in-process API (re-exported by ``qala.hub.client``): append
measurements in bulk, read a series or its roll-ups, and manage temporal entities and their
history. No HTTP, no commit: the caller owns the transaction. Attribute names are IRIs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select, update
from sqlalchemy.orm import Session

from qala.hub.models import HubEntity
from qala.hub.temporal.models import (
    HubTemporalDaily,
    HubTemporalEntity,
    HubTemporalHourly,
    HubTemporalSeries,
    HubTemporalValue,
)
from qala.hub.temporal.pending import settle
from qala.hub.temporal.reading import (
    JOINED,
    StoredInstance,
    Window,
    parse_instance_id,
    read_instances,
    read_rollups,
    series_digest,
)
from qala.hub.temporal.series import numbers_of
from qala.hub.temporal.writing import (
    ROLLUP_FIGURES,
    Point,
    append_points,
    dialect_insert,
    recompute_buckets,
    to_row,
)

__all__ = [
    "Bucket",
    "Point",
    "TemporalEntity",
    "append_measurements",
    "read_rollup",
    "read_series",
]


@dataclass(frozen=True)
class TemporalEntity:
    """An entity whose history is kept: id, every type it has had (IRIs), scope."""

    entity_id: str
    types: list[str]
    scope: list[str] | None = None


@dataclass(frozen=True)
class Bucket:
    """One hourly or daily roll-up of a series."""

    start: dt.datetime
    count: int  # every instance
    numeric_count: int
    total: float
    total_squares: float
    minimum: float | None
    maximum: float | None
    first_at: dt.datetime
    last_at: dt.datetime

    @property
    def average(self) -> float | None:
        """Mean of the numeric values."""
        return self.total / self.numeric_count if self.numeric_count else None


def append_measurements(
    db: Session,
    city_id: int,
    rows: Iterable[Point],
    types: Mapping[str, Sequence[str]] | None = None,
) -> int:
    """Append measurements in bulk (idempotent: a point already stored is ignored); returns
    how many were new. Entities without a temporal record get one, typed from ``types``
    (entity id → type IRIs) or from the current entity; the roll-ups follow."""
    points = list(rows)
    ensure_entities(db, city_id, {p.entity_id for p in points}, types or {})
    return append_points(db, city_id, points)


def read_series(
    db: Session,
    city_id: int,
    entity_id: str,
    attribute: str,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    dataset_id: str = "",
    last_n: int | None = None,
) -> list[tuple[dt.datetime, Any]]:
    """``(observed_at, value)`` of one attribute in ``[start, end)``, oldest first."""
    rows = read_instances(
        db,
        city_id,
        [entity_id],
        [attribute],
        Window(start, end),
        last_n=last_n,
        datasets=[dataset_id],
    )
    return [(row.observed_at, row.simple_value()) for row in rows]


def read_rollup(
    db: Session,
    city_id: int,
    entity_id: str,
    attribute: str,
    grain: str = "hour",
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    dataset_id: str = "",
) -> list[Bucket]:
    """Hourly (``grain="hour"``) or daily (``"day"``) roll-ups of one attribute whose bucket
    starts in ``[start, end)``, oldest first."""
    if grain not in ("hour", "day"):
        raise ValueError(f"grain must be hour or day, not {grain!r}")
    rows = read_rollups(db, city_id, [entity_id], [attribute], grain, start, end)
    return [
        Bucket(row["bucket"], *(row[n] for n in ROLLUP_FIGURES))
        for row in rows
        if row["dataset_id"] == dataset_id
    ]


def _heads(db: Session, city_id: int) -> Any:
    return select(HubTemporalEntity).where(HubTemporalEntity.city_id == city_id)


def get_entity(db: Session, city_id: int, entity_id: str) -> TemporalEntity | None:
    """The temporal entity, or None when the city keeps no history of it."""
    head = db.scalar(_heads(db, city_id).where(HubTemporalEntity.entity_id == entity_id))
    return TemporalEntity(head.entity_id, list(head.types), head.scope) if head else None


def find_entities(
    db: Session,
    city_id: int,
    ids: Collection[str] = (),
    type_candidates: Collection[str] | None = None,
) -> list[TemporalEntity]:
    """Temporal entities by id and (pre-filter) type, ordered by id."""
    query = _heads(db, city_id).order_by(HubTemporalEntity.entity_id)
    if ids:
        query = query.where(HubTemporalEntity.entity_id.in_(list(ids)))
    if type_candidates is not None and all(iri.isascii() for iri in type_candidates):
        # A pre-filter only (JSON text may escape other characters); the caller checks types.
        text_types = cast(HubTemporalEntity.types, Text)
        query = query.where(
            or_(*(text_types.like(f'%"{_like(iri)}"%', escape="\\") for iri in type_candidates))
        )
    return [TemporalEntity(h.entity_id, list(h.types), h.scope) for h in db.scalars(query)]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def upsert_entity(
    db: Session,
    city_id: int,
    entity_id: str,
    types: Sequence[str],
    scope: Sequence[str] | None = None,
) -> bool:
    """Record a temporal entity, or add types (and scope) to it; True when it is new.
    Safe against a concurrent writer recording the same entity."""
    now = dt.datetime.now(dt.UTC)
    table = HubTemporalEntity.__table__
    insert = dialect_insert(db, table).values(
        city_id=city_id,
        entity_id=entity_id,
        types=list(types),
        scope=list(scope) if scope else None,
        created_at=now,
        modified_at=now,
    )
    inserted = db.execute(
        insert.on_conflict_do_nothing(index_elements=["city_id", "entity_id"]).returning(table.c.id)
    ).first()
    if inserted is not None:
        return True
    head = db.scalar(_heads(db, city_id).where(HubTemporalEntity.entity_id == entity_id))
    assert head is not None
    merged = list(dict.fromkeys([*head.types, *types]))
    if merged != head.types or (scope and list(scope) != head.scope):
        head.types = merged
        head.scope = list(scope) if scope else head.scope
        head.modified_at = now
    return False


def ensure_entities(
    db: Session, city_id: int, entity_ids: Collection[str], types: Mapping[str, Sequence[str]]
) -> None:
    """Give every entity id a temporal record (typed from ``types`` or the current entity);
    ids with no known type are left without one."""
    if not entity_ids:
        return
    known = set(
        db.scalars(
            select(HubTemporalEntity.entity_id).where(
                HubTemporalEntity.city_id == city_id, HubTemporalEntity.entity_id.in_(entity_ids)
            )
        )
    )
    missing = [entity_id for entity_id in entity_ids if entity_id not in known]
    if not missing:
        return
    current = {
        entity_id: data["type"]
        for entity_id, data in db.execute(
            select(HubEntity.entity_id, HubEntity.data).where(
                HubEntity.city_id == city_id, HubEntity.entity_id.in_(missing)
            )
        )
    }
    for entity_id in missing:
        entity_types = list(types.get(entity_id) or current.get(entity_id) or [])
        if entity_types:
            upsert_entity(db, city_id, entity_id, entity_types)


def _of_series(table: Any, numbers: Any) -> Any:
    """Rows of ``table`` (history or a roll-up) in the series a sub-select names."""
    return table.series_id.in_(numbers)


def delete_entity(db: Session, city_id: int, entity_id: str) -> bool:
    """Forget an entity's whole history (rows, roll-ups, record); False when unknown."""
    head = db.scalar(_heads(db, city_id).where(HubTemporalEntity.entity_id == entity_id))
    if head is None:
        return False
    settle(db)  # or pending deltas would bring its roll-ups back
    for table in (HubTemporalValue, HubTemporalHourly, HubTemporalDaily):
        db.execute(delete(table).where(_of_series(table, numbers_of(city_id, entity_id))))
    db.delete(head)  # the series keep their numbers (see series.py)
    db.flush()
    return True


def delete_attribute(
    db: Session,
    city_id: int,
    entity_id: str,
    attribute: str,
    dataset_id: str | None,
    *,
    delete_all: bool = False,
) -> int:
    """Delete the history of one attribute (its default instance, one datasetId, or every
    datasetId with ``delete_all``); returns how many instances went."""
    rows = 0
    settle(db)  # or pending deltas would bring its roll-ups back
    numbers = numbers_of(city_id, entity_id, [attribute])
    if not delete_all:
        numbers = numbers.where(HubTemporalSeries.dataset_id == (dataset_id or ""))
    for table in (HubTemporalValue, HubTemporalHourly, HubTemporalDaily):
        result = db.execute(delete(table).where(_of_series(table, numbers)))
        if table is HubTemporalValue:
            rows = int(getattr(result, "rowcount", 0) or 0)
    return rows


def find_instance(
    db: Session, city_id: int, entity_id: str, attribute: str, instance_id: str
) -> StoredInstance | None:
    """The history row an instance id names, or None."""
    parsed = parse_instance_id(instance_id)
    if parsed is None:
        return None
    digest, moment = parsed
    value, series = HubTemporalValue, HubTemporalSeries
    rows = db.execute(
        select(
            series.entity_id,
            series.attribute,
            series.dataset_id,
            value.observed_at,
            value.kind,
            value.value,
            value.data,
            value.created_at,
            value.modified_at,
        )
        .select_from(JOINED)
        .where(
            series.city_id == city_id,
            series.entity_id == entity_id,
            series.attribute == attribute,
            value.observed_at == moment,
        )
    )
    for row in rows:
        found = StoredInstance(*row)
        if series_digest(found.key) == digest:
            return found
    return None


def _row_filter(city_id: int, row: StoredInstance, at: dt.datetime | None = None) -> list[Any]:
    """The key of one history row (optionally at another time)."""
    series = HubTemporalSeries
    number = (
        select(series.id)
        .where(
            series.city_id == city_id,
            series.entity_id == row.entity_id,
            series.attribute == row.attribute,
            series.dataset_id == row.dataset_id,
        )
        .scalar_subquery()
    )
    return [
        HubTemporalValue.series_id == number,
        HubTemporalValue.observed_at == (at or row.observed_at),
    ]


def delete_instance(db: Session, city_id: int, row: StoredInstance) -> None:
    """Delete one history row and correct its roll-ups."""
    db.execute(delete(HubTemporalValue).where(*_row_filter(city_id, row)))
    recompute_buckets(db, city_id, row.entity_id, row.attribute, row.dataset_id, [row.observed_at])


def replace_instance(
    db: Session,
    city_id: int,
    row: StoredInstance,
    instance: Mapping[str, Any],
    observed_at: dt.datetime,
    kind: int,
) -> bool:
    """Replace one history row by ``instance`` (which may move it in time); False when the
    new time is taken by another instance of the same series."""
    now = dt.datetime.now(dt.UTC)
    point = Point(
        row.entity_id,
        row.attribute,
        observed_at,
        dataset_id=row.dataset_id,
        instance=instance,
        kind=kind,
        recorded_at=row.created_at,
    )
    if observed_at != row.observed_at:
        taken = select(HubTemporalValue.kind).where(*_row_filter(city_id, row, observed_at))
        if db.execute(taken).first() is not None:
            return False
        db.execute(delete(HubTemporalValue).where(*_row_filter(city_id, row)))
        append_points(db, city_id, [point])
    new = to_row(city_id, point, now)
    columns = {k: new[k] for k in ("kind", "value", "data")}
    db.execute(
        update(HubTemporalValue)
        .where(*_row_filter(city_id, row, observed_at))
        .values(**columns, modified_at=now)
    )
    recompute_buckets(
        db, city_id, row.entity_id, row.attribute, row.dataset_id, {row.observed_at, observed_at}
    )
    return True
