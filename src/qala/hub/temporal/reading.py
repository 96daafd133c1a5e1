"""Reading history: attribute instances in a time window (optionally the last N), roll-up
buckets, and aggregated series served from roll-ups when the periods are whole hours or days,
from the raw rows otherwise."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from qala.hub.temporal import aggregate
from qala.hub.temporal.models import (
    FLAG_INTEGER,
    KIND_DELETED,
    KIND_OBSERVED,
    KIND_TIME_MASK,
    HubTemporalDaily,
    HubTemporalHourly,
    HubTemporalSeries,
    HubTemporalValue,
)
from qala.hub.temporal.pending import settle

SERIES = HubTemporalSeries
#: History rows with their series' key columns.
JOINED = HubTemporalValue.__table__.join(
    HubTemporalSeries.__table__, HubTemporalSeries.id == HubTemporalValue.series_id
)

TIME_PROPERTIES = ("observedAt", "createdAt", "modifiedAt", "deletedAt")
INSTANCE_PREFIX = "urn:ngsi-ld:Instance:"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)
SeriesKey = tuple[str, str, str]  # entity id, attribute IRI, datasetId ('' = default)


@dataclass(frozen=True)
class Window:
    """A time window over one of the temporal properties: ``start <= t < end``."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None
    timeproperty: str = "observedAt"


@dataclass(frozen=True)
class StoredInstance:
    """One history row, as read back."""

    entity_id: str
    attribute: str
    dataset_id: str
    observed_at: dt.datetime
    kind: int
    value: float | None
    data: dict[str, Any] | None
    created_at: dt.datetime
    modified_at: dt.datetime

    @property
    def key(self) -> SeriesKey:
        """The series this instance belongs to."""
        return self.entity_id, self.attribute, self.dataset_id

    @property
    def deleted(self) -> bool:
        """True for a deletion marker."""
        return self.kind & KIND_TIME_MASK == KIND_DELETED

    @property
    def instance_id(self) -> str:
        """A stable instance id derived from the row's key (its time in microseconds)."""
        return instance_id_of(self.key, self.observed_at)

    def time(self, timeproperty: str) -> dt.datetime:
        """The instance's time on the given temporal property."""
        if timeproperty == "createdAt":
            return self.created_at
        if timeproperty == "modifiedAt":
            return self.modified_at
        return self.observed_at

    def exact_value(self) -> float | int | None:
        """The numeric value as it was sent (an integer stays one)."""
        if self.value is None or not self.kind & FLAG_INTEGER:
            return self.value
        return int(self.value)

    def instance(self) -> dict[str, Any]:
        """The stored-form instance (without observedAt/deletedAt, which the caller formats)."""
        instance: dict[str, Any] = {"type": "Property", **(self.data or {})}
        if self.value is not None:
            instance["value"] = self.exact_value()
        if self.dataset_id:
            instance["datasetId"] = self.dataset_id
        return instance

    def simple_value(self) -> Any:
        """The value the simplified and aggregated representations use."""
        if self.value is not None:
            return self.value
        data = self.data or {}
        for member in ("value", "object", "languageMap", "valueList", "objectList"):
            if member in data:
                return data[member]
        return None

    @property
    def has_observed_at(self) -> bool:
        """True when the instance carried observedAt."""
        return self.kind & KIND_TIME_MASK == KIND_OBSERVED


def instance_id_of(key: SeriesKey, moment: dt.datetime) -> str:
    """``urn:ngsi-ld:Instance:<series digest>:<microseconds since 1970>``: unique, and it
    leads straight back to the row (the time is part of the row's key)."""
    return f"{INSTANCE_PREFIX}{series_digest(key)}:{(moment - EPOCH) // MICROSECOND}"


def parse_instance_id(text: str) -> tuple[str, dt.datetime] | None:
    """The series digest and time an instance id names, or None when it is not one of ours."""
    if not text.startswith(INSTANCE_PREFIX):
        return None
    digest, _sep, micros = text[len(INSTANCE_PREFIX) :].partition(":")
    try:
        return digest, EPOCH + dt.timedelta(microseconds=int(micros))
    except (ValueError, OverflowError):
        return None


@functools.lru_cache(maxsize=4096)
def series_digest(key: SeriesKey) -> str:
    """A short digest of (entity, attribute, datasetId)."""
    text = "\n".join(key).encode()
    return hashlib.sha1(text, usedforsecurity=False).hexdigest()[:16]


def _time_column(timeproperty: str) -> Any:
    value = HubTemporalValue
    return {"createdAt": value.created_at, "modifiedAt": value.modified_at}.get(
        timeproperty, value.observed_at
    )


def _conditions(
    city_id: int,
    entity_ids: Collection[str],
    attributes: Collection[str] | None,
    window: Window,
    datasets: Collection[str] | None,
) -> list[ColumnElement[bool]]:
    value = HubTemporalValue
    column = _time_column(window.timeproperty)
    kind = value.kind.op("&")(KIND_TIME_MASK)
    where = [
        SERIES.city_id == city_id,
        SERIES.entity_id.in_(list(entity_ids)),
        kind == KIND_DELETED if window.timeproperty == "deletedAt" else kind != KIND_DELETED,
    ]
    if attributes is not None:
        where.append(SERIES.attribute.in_(list(attributes)))
    if datasets is not None:
        where.append(SERIES.dataset_id.in_(list(datasets)))
    if window.start is not None:
        where.append(column >= window.start)
    if window.end is not None:
        where.append(column < window.end)
    return where


def read_instances(
    db: Session,
    city_id: int,
    entity_ids: Collection[str],
    attributes: Collection[str] | None,
    window: Window,
    *,
    last_n: int | None = None,
    datasets: Collection[str] | None = None,
    system_times: bool = True,
) -> list[StoredInstance]:
    """History rows of some entities (and attributes) in a window, oldest first per series;
    with ``last_n``, only the newest N of each series. Without ``system_times`` the rows'
    createdAt and modifiedAt are not read (they then read as the observation time)."""
    if not entity_ids:
        return []
    value = HubTemporalValue
    columns = [
        SERIES.entity_id,
        SERIES.attribute,
        SERIES.dataset_id,
        value.observed_at,
        value.kind,
        value.value,
        value.data,
    ]
    if system_times:
        columns += [value.created_at, value.modified_at]
    where = _conditions(city_id, entity_ids, attributes, window, datasets)
    column = _time_column(window.timeproperty)
    order = (SERIES.entity_id, SERIES.attribute, SERIES.dataset_id, column)
    query = (
        select(*columns).select_from(JOINED).where(*where).order_by(*order)
        if last_n is None
        else _newest(columns, where, column, last_n)
    )
    db.flush()  # the Core query below does not autoflush
    result = db.connection().execute(query)
    rows: list[Any] = [tuple(row) for row in result]
    if not system_times:  # createdAt and modifiedAt read as the observation time
        rows = [(*row, row[3], row[3]) for row in rows]
    return [StoredInstance(*row) for row in rows]


def _newest(columns: list[Any], where: list[Any], column: Any, last_n: int) -> Select[Any]:
    """The newest ``last_n`` rows of each series, oldest first."""
    series = (SERIES.entity_id, SERIES.attribute, SERIES.dataset_id)
    rank = (
        func.row_number()
        .over(partition_by=HubTemporalValue.series_id, order_by=column.desc())
        .label("rank")
    )
    ranked = select(*columns, column.label("t"), rank).select_from(JOINED).where(*where).subquery()
    return (
        select(*(ranked.c[c.key] for c in columns))
        .where(ranked.c.rank <= last_n)
        .order_by(*(ranked.c[c.key] for c in series), ranked.c.t)
    )


def entities_having(
    db: Session,
    city_id: int,
    entity_ids: Collection[str],
    attributes: Collection[str],
    window: Window,
) -> set[str]:
    """Which of the entities have instances of at least one of ``attributes`` in the window."""
    if not entity_ids:
        return set()
    where = _conditions(city_id, entity_ids, attributes, window, None)
    query = select(SERIES.entity_id).select_from(JOINED).where(*where).distinct()
    return {str(entity_id) for entity_id in db.scalars(query)}


def read_rollups(
    db: Session,
    city_id: int,
    entity_ids: Collection[str],
    attributes: Collection[str] | None,
    grain: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> list[dict[str, Any]]:
    """Roll-up buckets (``grain`` = hour or day) starting in ``[start, end)``, oldest first."""
    settle(db)
    table = HubTemporalHourly if grain == "hour" else HubTemporalDaily
    figures = [c for c in table.__table__.c if c.key not in ("series_id", "city_id")]
    query = (
        select(SERIES.entity_id, SERIES.attribute, SERIES.dataset_id, *figures)
        .select_from(table.__table__.join(SERIES.__table__, SERIES.id == table.series_id))
        .where(SERIES.city_id == city_id, SERIES.entity_id.in_(list(entity_ids)))
    )
    if attributes is not None:
        query = query.where(SERIES.attribute.in_(list(attributes)))
    if start is not None:
        query = query.where(table.bucket >= start)
    if end is not None:
        query = query.where(table.bucket < end)
    order = (SERIES.entity_id, SERIES.attribute, SERIES.dataset_id, table.bucket)
    return [dict(row._mapping) for row in db.execute(query.order_by(*order))]


@dataclass(frozen=True)
class AggregatedSeries:
    """The aggregated values of one attribute (datasetId) of an entity."""

    key: SeriesKey
    type: str
    values: aggregate.Aggregated


def aggregate_history(
    db: Session,
    city_id: int,
    entity_ids: Collection[str],
    attributes: Collection[str] | None,
    window: Window,
    duration: aggregate.Duration,
    methods: Sequence[str],
) -> list[AggregatedSeries]:
    """Aggregated series of the given entities: from roll-ups where they answer exactly
    (periods made of whole hours or days), from the raw history otherwise."""
    grain = None
    if window.timeproperty == "observedAt" and window.start is not None:
        plan = aggregate.PeriodPlan(window.start, duration, window.end)
        grain = aggregate.rollup_grain(plan, (window.start, window.end), methods)
    if grain is None:
        return _from_raw(db, city_id, entity_ids, attributes, window, duration, methods, None)
    served, unserved = _from_rollups(
        db, city_id, entity_ids, attributes, grain, window, duration, methods
    )
    if unserved:
        served += _from_raw(
            db, city_id, entity_ids, attributes, window, duration, methods, unserved
        )
    return sorted(served, key=lambda item: item.key)


def _from_rollups(
    db: Session,
    city_id: int,
    entity_ids: Collection[str],
    attributes: Collection[str] | None,
    grain: str,
    window: Window,
    duration: aggregate.Duration,
    methods: Sequence[str],
) -> tuple[list[AggregatedSeries], set[SeriesKey]]:
    """Series answered from roll-ups, and the keys of those that need raw rows (not numeric
    throughout: min/max of text and the attribute's type need the instances)."""
    bounds = (window.start, window.end)
    buckets: dict[SeriesKey, list[dict[str, Any]]] = defaultdict(list)
    for bucket in read_rollups(db, city_id, entity_ids, attributes, grain, *bounds):
        buckets[(bucket["entity_id"], bucket["attribute"], bucket["dataset_id"])].append(bucket)
    served: list[AggregatedSeries] = []
    unserved: set[SeriesKey] = set()
    for key, rows in buckets.items():
        if any(row["numeric_count"] != row["count"] for row in rows):
            unserved.add(key)
            continue
        plan = aggregate.plan_periods(duration, bounds, rows[0]["first_at"], rows[-1]["last_at"])
        parts = ((row["bucket"], aggregate.rollup_summary(row)) for row in rows)
        served.append(
            AggregatedSeries(key, "Property", aggregate.aggregate_summaries(parts, methods, plan))
        )
    return served, unserved


def _from_raw(
    db: Session,
    city_id: int,
    entity_ids: Collection[str],
    attributes: Collection[str] | None,
    window: Window,
    duration: aggregate.Duration,
    methods: Sequence[str],
    only: set[SeriesKey] | None,
) -> list[AggregatedSeries]:
    """Series aggregated from the history rows (``only`` some series, or all)."""
    series: dict[SeriesKey, list[StoredInstance]] = defaultdict(list)
    for row in read_instances(db, city_id, entity_ids, attributes, window):
        if only is None or row.key in only:
            series[row.key].append(row)
    result: list[AggregatedSeries] = []
    for key, rows in series.items():
        first, last = rows[0].time(window.timeproperty), rows[-1].time(window.timeproperty)
        plan = aggregate.plan_periods(duration, (window.start, window.end), first, last)
        samples = ((row.time(window.timeproperty), row.simple_value()) for row in rows)
        values = aggregate.aggregate_samples(samples, methods, plan)
        result.append(AggregatedSeries(key, rows[-1].instance()["type"], values))
    return result
