"""Tables of the utilities module; every table name starts with ``utilities_`` and carries
``city_id``. Readings are not here: they are the hub's time series of each meter's entity."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qala.core.db import Base, CityOwned, utcnow


class Building(CityOwned, Base):
    """An apartment building or other served building — дом / үй."""

    __tablename__ = "utilities_buildings"
    __table_args__ = (UniqueConstraint("city_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64))  # the utility's own id, the import key
    address: Mapped[str] = mapped_column(String(300))
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_districts.id", ondelete="SET NULL"), default=None, index=True
    )
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    floors: Mapped[int] = mapped_column(Integer, default=1)
    apartments: Mapped[int] = mapped_column(Integer, default=0)
    residents: Mapped[int] = mapped_column(Integer, default=0)
    year_built: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Account(CityOwned, Base):
    """A personal account (лицевой счёт / дербес шот) of one apartment and its residents."""

    __tablename__ = "utilities_accounts"
    __table_args__ = (UniqueConstraint("city_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    building_id: Mapped[int] = mapped_column(
        ForeignKey("utilities_buildings.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(64))
    apartment: Mapped[str] = mapped_column(String(32))
    residents: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Meter(CityOwned, Base):
    """A meter of one resource — прибор учёта / есептегіш: in an apartment, at a building's
    input, or at a district / substation; ``parent_id`` is the meter upstream of it."""

    __tablename__ = "utilities_meters"
    __table_args__ = (
        UniqueConstraint("city_id", "serial"),
        UniqueConstraint("city_id", "entity_id"),
        Index("ix_utilities_meters_scope", "city_id", "resource", "level", "district_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(300))  # the meter's hub entity
    resource: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    unit: Mapped[str] = mapped_column(String(16))
    building_id: Mapped[int | None] = mapped_column(
        ForeignKey("utilities_buildings.id", ondelete="CASCADE"), default=None, index=True
    )
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("utilities_accounts.id", ondelete="SET NULL"), default=None, index=True
    )
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_districts.id", ondelete="SET NULL"), default=None
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("utilities_meters.id", ondelete="SET NULL"), default=None, index=True
    )
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    installed_on: Mapped[dt.date | None] = mapped_column(Date, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Norm(CityOwned, Base):
    """A city's consumption norm of one resource per resident per month (editable by the city
    admin; the code's defaults apply until a row exists)."""

    __tablename__ = "utilities_norms"
    __table_args__ = (UniqueConstraint("city_id", "resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource: Mapped[str] = mapped_column(String(16))
    per_resident_month: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class UtilitySettings(CityOwned, Base):
    """Per-city switches of the module: auto-closing incidents, when a meter counts as silent."""

    __tablename__ = "utilities_settings"
    __table_args__ = (UniqueConstraint("city_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    auto_close: Mapped[bool] = mapped_column(Boolean, default=True)
    silent_after_hours: Mapped[int] = mapped_column(Integer, default=24)
    #: Days before this one are settled in ``utilities_daily``; later days are read live.
    daily_through: Mapped[dt.date | None] = mapped_column(Date, default=None)


class DailyConsumption(CityOwned, Base):
    """Consumption of one day summed over the meters of one district, resource and level
    (``district_id`` 0: meters outside any district). Kept from the hub's daily roll-ups so
    city- and district-wide series over a year read a few thousand rows, not millions."""

    __tablename__ = "utilities_daily"
    __table_args__ = (PrimaryKeyConstraint("city_id", "district_id", "resource", "level", "day"),)

    city_id: Mapped[int] = mapped_column(ForeignKey("core_cities.id", ondelete="CASCADE"))
    district_id: Mapped[int] = mapped_column(Integer)
    resource: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    day: Mapped[dt.date] = mapped_column(Date)
    total: Mapped[float] = mapped_column(Float, default=0.0)
    meters: Mapped[int] = mapped_column(Integer, default=0)  # meters that reported that day


class Incident(CityOwned, Base):
    """A utility incident — инцидент / оқиға: a leak, an outage, a faulty meter... opened by
    detection or by hand, merged on ``key`` while open, acknowledged, resolved."""

    __tablename__ = "utilities_incidents"
    __table_args__ = (Index("ix_utilities_incidents_open", "city_id", "status", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300))  # merge key: one open incident per key
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    title: Mapped[str] = mapped_column(String(300), default="")
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_districts.id", ondelete="SET NULL"), default=None
    )
    building_id: Mapped[int | None] = mapped_column(
        ForeignKey("utilities_buildings.id", ondelete="SET NULL"), default=None
    )
    group_key: Mapped[str | None] = mapped_column(String(120), default=None)  # feeder, district...
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    started_at: Mapped[dt.datetime]
    detected_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    meters: Mapped[list[IncidentMeter]] = relationship(
        cascade="all, delete-orphan", order_by="IncidentMeter.meter_id"
    )


class IncidentMeter(CityOwned, Base):
    """A meter involved in an incident."""

    __tablename__ = "utilities_incident_meters"
    __table_args__ = (UniqueConstraint("incident_id", "meter_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("utilities_incidents.id", ondelete="CASCADE"), index=True
    )
    meter_id: Mapped[int] = mapped_column(
        ForeignKey("utilities_meters.id", ondelete="CASCADE"), index=True
    )


class IncidentEvent(CityOwned, Base):
    """One line of an incident's log: who did what and when (opened, updated, acknowledged,
    resolved, reopened, commented, auto-closed)."""

    __tablename__ = "utilities_incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("utilities_incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_users.id", ondelete="SET NULL"), default=None
    )
    actor: Mapped[str] = mapped_column(String(150), default="")  # name, or "detection"
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
