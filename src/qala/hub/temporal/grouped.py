"""Grouped reads of the roll-ups: one attribute summed over many entities at once.

``sum_rollups`` adds the hourly or daily roll-ups of many entities per (group, bucket) — a
district's consumption from thousands of meters in one statement instead of one read per
meter; ``entity_totals`` sums each entity over a period (top consumers, last report). The
entities' series numbers are looked up once (``series.series_ids``, cached), then roll-ups are
read by their primary key (series, bucket). On PostgreSQL the grouping runs in the database
(the series → group map is sent as two arrays and joined); on SQLite, the embedded small-city
default, rows are read in chunks and folded here."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from qala.hub.temporal.models import HubTemporalDaily, HubTemporalHourly
from qala.hub.temporal.pending import settle
from qala.hub.temporal.series import series_ids

__all__ = ["EntityTotal", "GroupBucket", "entity_totals", "sum_rollups"]

CHUNK = 500  # series per IN (...) on SQLite


@dataclass(frozen=True)
class GroupBucket:
    """The sum of one attribute over a group's entities in one hour or day."""

    group: str
    start: dt.datetime
    total: float  # sum of the numeric values
    count: int  # numeric values summed
    entities: int  # entities of the group with a numeric value in the bucket


@dataclass(frozen=True)
class EntityTotal:
    """The sum of one attribute of one entity over a period."""

    entity_id: str
    total: float
    count: int
    first_at: dt.datetime
    last_at: dt.datetime


def _table(grain: str) -> Any:
    if grain not in ("hour", "day"):
        raise ValueError(f"grain must be hour or day, not {grain!r}")
    return HubTemporalHourly if grain == "hour" else HubTemporalDaily


def _numbers(
    db: Session, city_id: int, entity_ids: Collection[str], attribute: str, dataset_id: str
) -> dict[int, str]:
    """Series number → entity id of the entities' series of ``attribute`` (those that exist)."""
    keys = [(entity_id, attribute, dataset_id) for entity_id in set(entity_ids)]
    found = series_ids(db, city_id, keys, create=False)
    return {number: key[0] for key, number in found.items()}


def _bounds(start: dt.datetime | None, end: dt.datetime | None) -> tuple[str, dict[str, Any]]:
    clauses, params = [], {}
    if start is not None:
        clauses.append("AND r.bucket >= :start")
        params["start"] = start
    if end is not None:
        clauses.append("AND r.bucket < :end")
        params["end"] = end
    return " ".join(clauses), params


def sum_rollups(
    db: Session,
    city_id: int,
    groups: Mapping[str, Collection[str]],
    attribute: str,
    grain: str = "day",
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    dataset_id: str = "",
) -> list[GroupBucket]:
    """Per group and bucket (starting in ``[start, end)``), the sum of ``attribute`` (an IRI)
    over the group's entities, ordered by group then bucket. An entity may be in several
    groups; buckets where no entity of a group has data are absent."""
    table = _table(grain)
    members = {entity_id for ids in groups.values() for entity_id in ids}
    if not members:
        return []
    settle(db)
    numbers = _numbers(db, city_id, members, attribute, dataset_id)
    by_entity: dict[str, list[int]] = defaultdict(list)
    for number, entity_id in numbers.items():
        by_entity[entity_id].append(number)
    pairs = [
        (number, group)
        for group, ids in groups.items()
        for entity_id in ids
        for number in by_entity.get(entity_id, ())
    ]
    if not pairs:
        return []
    if db.get_bind().dialect.name == "postgresql":
        return _sum_in_database(db, pairs, table, start, end)
    sums: dict[tuple[str, dt.datetime], list[float]] = defaultdict(lambda: [0.0, 0, 0])
    group_of: dict[int, list[str]] = defaultdict(list)
    for number, group in pairs:
        group_of[number].append(group)
    for row in _chunked_rows(db, list(group_of), table, start, end):
        for group in group_of[row.series_id]:
            acc = sums[(group, row.bucket)]
            acc[0] += row.total
            acc[1] += row.numeric_count
            acc[2] += 1 if row.numeric_count else 0
    return [
        GroupBucket(group, bucket, float(acc[0]), int(acc[1]), int(acc[2]))
        for (group, bucket), acc in sorted(sums.items())
    ]


def _sum_in_database(
    db: Session,
    pairs: Sequence[tuple[int, str]],
    table: Any,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> list[GroupBucket]:
    bounds, params = _bounds(start, end)
    statement = text(
        f"""  -- roll-ups of many series summed per group and bucket
SELECT m.grp, r.bucket, sum(r.total), sum(r.numeric_count),
       count(*) FILTER (WHERE r.numeric_count > 0)
FROM unnest(CAST(:series AS integer[]), CAST(:groups AS text[])) AS m(series_id, grp)
JOIN {table.__tablename__} r ON r.series_id = m.series_id {bounds}
GROUP BY m.grp, r.bucket ORDER BY m.grp, r.bucket"""  # noqa: S608 - table name is a constant
    )
    rows = db.execute(
        statement,
        {
            "series": [number for number, _group in pairs],
            "groups": [group for _number, group in pairs],
            **params,
        },
    )
    return [
        GroupBucket(group, bucket, float(total or 0.0), int(count or 0), int(entities or 0))
        for group, bucket, total, count, entities in rows
    ]


def _chunked_rows(
    db: Session,
    numbers: Sequence[int],
    table: Any,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> Iterator[Any]:
    """Roll-up rows of the series, a chunk of numbers per query."""
    for offset in range(0, len(numbers), CHUNK):
        query = select(
            table.series_id,
            table.bucket,
            table.total,
            table.numeric_count,
            table.first_at,
            table.last_at,
        ).where(table.series_id.in_(numbers[offset : offset + CHUNK]))
        if start is not None:
            query = query.where(table.bucket >= start)
        if end is not None:
            query = query.where(table.bucket < end)
        yield from db.execute(query)


def entity_totals(
    db: Session,
    city_id: int,
    entity_ids: Collection[str],
    attribute: str,
    grain: str = "day",
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    dataset_id: str = "",
) -> dict[str, EntityTotal]:
    """Per entity, the sum of ``attribute`` over the buckets starting in ``[start, end)`` and
    its first and last instant; entities without data are absent."""
    table = _table(grain)
    if not entity_ids:
        return {}
    settle(db)
    numbers = _numbers(db, city_id, entity_ids, attribute, dataset_id)
    if not numbers:
        return {}
    if db.get_bind().dialect.name == "postgresql":
        bounds, params = _bounds(start, end)
        statement = text(
            f"""  -- per-series totals over a period
SELECT r.series_id, sum(r.total), sum(r.numeric_count), min(r.first_at), max(r.last_at)
FROM {table.__tablename__} r
WHERE r.series_id = ANY(CAST(:series AS integer[])) {bounds}
GROUP BY r.series_id"""  # noqa: S608 - table name is a constant
        )
        rows = db.execute(statement, {"series": list(numbers), **params})
        return {
            numbers[number]: EntityTotal(numbers[number], float(total or 0.0), int(count), a, b)
            for number, total, count, a, b in rows
        }
    totals: dict[str, EntityTotal] = {}
    for row in _chunked_rows(db, list(numbers), table, start, end):
        entity_id = numbers[row.series_id]
        seen = totals.get(entity_id)
        totals[entity_id] = EntityTotal(
            entity_id,
            (seen.total if seen else 0.0) + row.total,
            (seen.count if seen else 0) + row.numeric_count,
            min(seen.first_at, row.first_at) if seen else row.first_at,
            max(seen.last_at, row.last_at) if seen else row.last_at,
        )
    return totals
