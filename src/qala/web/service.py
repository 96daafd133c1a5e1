"""What the situational-centre screens show: tiles, the city list, the map's layers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qala.core.alerts import Alert
from qala.core.cities import City, CityContext
from qala.core.db import utcnow
from qala.core.modules import Tile, TileData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShownTile:
    """A tile with its data, or with the reason it could not be drawn."""

    tile: Tile
    data: TileData | None


def visible_tiles(
    db: Session, city: City, tiles: Sequence[Tile], *, public_only: bool
) -> list[ShownTile]:
    """The tiles of the city's enabled modules; a failing tile shows empty, never the page."""
    context = CityContext.of(city)
    shown = []
    for tile in tiles:
        module = tile.key.split(".", 1)[0]
        if not city.module_enabled(module) or (public_only and not tile.public):
            continue
        try:
            with db.begin_nested():
                data: TileData | None = tile.data(db, context)
        except Exception:
            log.exception("tile %s failed for %s", tile.key, city.slug)
            data = None
        shown.append(ShownTile(tile, data))
    return shown


def population_tile(db: Session, city: CityContext) -> TileData:
    """The city's population."""
    row = db.get(City, city.id)
    population = row.population if row else 0
    return TileData(value=f"{population:,}".replace(",", "\u202f"))


def districts_tile(db: Session, city: CityContext) -> TileData:
    """How many districts the city has."""
    row = db.get(City, city.id)
    return TileData(value=len(row.districts) if row else 0)


def alerts_today_tile(db: Session, city: CityContext) -> TileData:
    """Alerts raised since midnight in the city's time zone, critical ones flagged."""
    local_now = utcnow().astimezone(ZoneInfo(city.timezone))
    since = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    counts = dict(
        db.execute(
            select(Alert.severity, func.count(Alert.id))
            .where(Alert.city_id == city.id, Alert.created_at >= since)
            .group_by(Alert.severity)
        ).all()
    )
    total = sum(counts.values())
    severity = "critical" if counts.get("critical") else "warning" if total else "ok"
    return TileData(value=total, severity=severity)
