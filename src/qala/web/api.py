"""Dashboard API: the live tile values, for the situational-centre screen to refresh."""

from __future__ import annotations

from fastapi import APIRouter, Request

from qala.core.cities import City
from qala.core.deps import DbSession, OperatorCity, get_runtime
from qala.web import service
from qala.web.schemas import TileRead

router = APIRouter(tags=["dashboard"])


@router.get("/tiles")
def list_tiles(request: Request, db: DbSession, city: OperatorCity) -> list[TileRead]:
    """Every tile of the city's situational centre with its current value."""
    row = db.get(City, city.id)
    assert row is not None
    shown = service.visible_tiles(db, row, get_runtime(request).tiles, public_only=False)
    return [
        TileRead(
            key=item.tile.key,
            title=str(item.tile.title),
            value=item.data.value if item.data else None,
            unit=item.data.unit if item.data else "",
            caption=item.data.caption if item.data else "",
            severity=item.data.severity if item.data else "ok",
            series=item.data.series if item.data else (),
            link=item.tile.link,
        )
        for item in shown
    ]
