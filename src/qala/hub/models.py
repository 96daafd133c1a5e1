"""Tables of the city data hub: entities (current state), their types, stored @contexts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qala.core.db import Base, CityOwned, JsonDocument, utcnow


class HubEntity(CityOwned, Base):
    """The current state of one NGSI-LD entity of a city, in stored (expanded) form."""

    __tablename__ = "hub_entities"
    __table_args__ = (
        UniqueConstraint("city_id", "entity_id"),
        Index("ix_hub_entities_city_bbox", "city_id", "min_lon", "min_lat"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(512))
    data: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Bounding box of the ``location`` GeoProperty, for the geo-query pre-filter.
    min_lon: Mapped[float | None] = mapped_column(Float, default=None)
    min_lat: Mapped[float | None] = mapped_column(Float, default=None)
    max_lon: Mapped[float | None] = mapped_column(Float, default=None)
    max_lat: Mapped[float | None] = mapped_column(Float, default=None)


class HubEntityType(CityOwned, Base):
    """One (expanded) type of an entity; an entity may have several."""

    __tablename__ = "hub_entity_types"
    __table_args__ = (Index("ix_hub_entity_types_city_type", "city_id", "type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_pk: Mapped[int] = mapped_column(
        ForeignKey("hub_entities.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(512))


class HubContext(Base):
    """A JSON-LD @context stored ahead (``/jsonldContexts``) or cached after a fetch."""

    __tablename__ = "hub_contexts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(1000), unique=True)
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="hosted")  # hosted | cached
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    hits: Mapped[int] = mapped_column(Integer, default=0)


from qala.hub.ingest.models import HubIotDevice, HubIotGroup  # noqa: E402,F401
from qala.hub.subscriptions.models import HubNotification, HubSubscription  # noqa: E402,F401
from qala.hub.temporal.models import HubTemporalSeries, HubTemporalValue  # noqa: E402,F401
