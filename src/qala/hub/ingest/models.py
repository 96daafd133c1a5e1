"""Tables of IoT ingestion: device groups (FIWARE "services", identified by their apikey)
and devices, each owned by one city."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qala.core.db import Base, CityOwned, utcnow


class HubIotGroup(CityOwned, Base):
    """A device group: the apikey devices send with, the entity type and attribute mapping
    their measurements get. The apikey is unique across cities: it alone tells which city an
    MQTT measurement belongs to."""

    __tablename__ = "hub_iot_groups"
    __table_args__ = (UniqueConstraint("apikey"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    apikey: Mapped[str] = mapped_column(String(256))
    resource: Mapped[str] = mapped_column(String(256), default="/iot/json")
    service_path: Mapped[str] = mapped_column(String(256), default="/")
    entity_type: Mapped[str] = mapped_column(String(256))
    #: Everything else of the FIWARE group document (attributes, static_attributes, ...).
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Bumped on every change to the group or its devices, so caches know to reload.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HubIotDevice(CityOwned, Base):
    """A device of a group, mapped to one NGSI-LD entity."""

    __tablename__ = "hub_iot_devices"
    __table_args__ = (
        UniqueConstraint("apikey", "device_id"),
        Index("ix_hub_iot_devices_city_path", "city_id", "service_path", "device_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(256))
    apikey: Mapped[str] = mapped_column(String(256))
    service_path: Mapped[str] = mapped_column(String(256), default="/")
    entity_id: Mapped[str] = mapped_column(String(512))
    entity_type: Mapped[str] = mapped_column(String(256))
    #: The rest of the FIWARE device document (attributes, static_attributes, protocol, ...).
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    autoprovisioned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
