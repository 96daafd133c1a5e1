"""Tables of the temporal store: series, attribute instances over time, their hourly and daily
roll-ups, and the temporal entities (id, types) whose history is kept.

A *series* is one (city, entity, attribute, datasetId); its number keys the history rows and
the roll-ups, so a row's key is 12 bytes instead of three IRIs (ADR 11: three times smaller
indexes, twice the insert rate). Series rows are never deleted: a number, once given, keeps
naming the same series, so writers may cache it.

The history table is keyed (and made idempotent) by (series, observed_at); on PostgreSQL it is
partitioned by month of ``observed_at`` (see partitions.py). ``city_id`` is repeated on history
and roll-up rows (no index) so that every query can still be scoped by city."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP
from sqlalchemy.orm import Mapped, mapped_column

from qala.core.db import Base, CityOwned, JsonDocument, utcnow

#: ``kind`` of a history row: how its time was found, and whether the value was an integer.
KIND_OBSERVED = 0  # the instance carried observedAt
KIND_MODIFIED = 1  # no observedAt: the time is when the instance was written
KIND_DELETED = 2  # the attribute (instance) was deleted at that time
KIND_TIME_MASK = 3
FLAG_INTEGER = 4  # the numeric value was a JSON integer (kept so it renders back as one)

#: A JSON document where Python None is SQL NULL (not the JSON text 'null').
NullableJson = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
VALUES_TABLE = "hub_temporal_instances"
TIMESTAMPTZ = TIMESTAMP(timezone=True)
PARTITION_BY = "RANGE (observed_at)"


def _city_fk() -> Mapped[int]:
    return mapped_column(Integer, ForeignKey("core_cities.id", ondelete="CASCADE"))


class HubTemporalSeries(CityOwned, Base):
    """One attribute (and datasetId) of one entity whose history is kept: its number."""

    __tablename__ = "hub_temporal_series"
    __table_args__ = (UniqueConstraint("city_id", "entity_id", "attribute", "dataset_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(512))
    attribute: Mapped[str] = mapped_column(String(512))  # expanded IRI
    dataset_id: Mapped[str] = mapped_column(String(512), default="")  # '' = default instance


class HubTemporalValue(Base):
    """One attribute instance in a series' history (a narrow row)."""

    __tablename__ = VALUES_TABLE
    __table_args__ = (
        PrimaryKeyConstraint("series_id", "observed_at"),
        {"postgresql_partition_by": PARTITION_BY},
    )

    series_id: Mapped[int] = mapped_column(Integer)  # no foreign keys: see series.py
    city_id: Mapped[int] = mapped_column(Integer)
    observed_at: Mapped[dt.datetime]
    kind: Mapped[int] = mapped_column(SmallInteger, default=KIND_OBSERVED)
    value: Mapped[float | None] = mapped_column(Float, default=None)  # when numeric
    # The rest of the instance (type, unitCode, object, languageMap, sub-attributes...) and
    # non-numeric values; NULL for a plain numeric Property.
    data: Mapped[dict[str, Any] | None] = mapped_column(NullableJson, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class _Rollup:
    """Columns of a roll-up: every instance counted, numeric values summarised."""

    series_id: Mapped[int] = mapped_column(Integer)
    city_id: Mapped[int] = _city_fk()
    bucket: Mapped[dt.datetime]  # start of the hour or day (UTC)
    count: Mapped[int] = mapped_column(Integer, default=0)  # every instance
    numeric_count: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[float] = mapped_column(Float, default=0.0)
    total_squares: Mapped[float] = mapped_column(Float, default=0.0)
    minimum: Mapped[float | None] = mapped_column(Float, default=None)
    maximum: Mapped[float | None] = mapped_column(Float, default=None)
    first_at: Mapped[dt.datetime]
    last_at: Mapped[dt.datetime]


class HubTemporalHourly(_Rollup, Base):
    """Hourly roll-up of one series."""

    __tablename__ = "hub_temporal_hourly"
    __table_args__ = (PrimaryKeyConstraint("series_id", "bucket"),)


class HubTemporalDaily(_Rollup, Base):
    """Daily (UTC) roll-up of one series."""

    __tablename__ = "hub_temporal_daily"
    __table_args__ = (PrimaryKeyConstraint("series_id", "bucket"),)


def _column_of(item_type: Any) -> Any:
    """An array column on PostgreSQL (a JSON list elsewhere, where it stays unused)."""
    return mapped_column(JSON().with_variant(ARRAY(item_type), "postgresql"))


class HubTemporalPending(CityOwned, Base):
    """Hourly roll-up deltas of one committed history batch, not yet added to the roll-ups
    (PostgreSQL only; see pending.py). Column arrays, one element per (series, hour)."""

    __tablename__ = "hub_temporal_pending"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    series_ids: Mapped[list[int]] = _column_of(Integer)
    buckets: Mapped[list[dt.datetime]] = _column_of(TIMESTAMPTZ)
    counts: Mapped[list[int]] = _column_of(Integer)
    numeric_counts: Mapped[list[int]] = _column_of(Integer)
    totals: Mapped[list[float]] = _column_of(Float)
    total_squares: Mapped[list[float]] = _column_of(Float)
    minimums: Mapped[list[float | None]] = _column_of(Float)
    maximums: Mapped[list[float | None]] = _column_of(Float)
    first_ats: Mapped[list[dt.datetime]] = _column_of(TIMESTAMPTZ)
    last_ats: Mapped[list[dt.datetime]] = _column_of(TIMESTAMPTZ)


class HubTemporalEntity(CityOwned, Base):
    """An entity whose history is kept: its id and every type it has had."""

    __tablename__ = "hub_temporal_entities"
    __table_args__ = (UniqueConstraint("city_id", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(512))
    types: Mapped[list[str]] = mapped_column(JsonDocument)  # expanded IRIs
    scope: Mapped[list[str] | None] = mapped_column(NullableJson, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
