"""The hub's situational-centre tiles."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from qala.core.cities import CityContext
from qala.core.i18n import _
from qala.core.modules import Tile, TileData
from qala.hub import service

router = APIRouter(include_in_schema=False)


def entities_tile(db: Session, city: CityContext) -> TileData:
    """How many things (sensors, meters, objects) the city's hub knows."""
    return TileData(value=service.count_entities(db, city.id))


TILES = (Tile("hub.entities", _("Connected objects"), entities_tile, order=10),)
