"""NGSI-LD geo-queries: georel (near, within, contains, intersects, equals, disjoint,
overlaps) over a GeoProperty, with a bounding box for the database pre-filter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.errors import BadRequestData

EntityPredicate = Callable[[dict[str, Any]], bool]
BBox = tuple[float, float, float, float]


def parse_geo_query(
    georel: str, geometry: str, coordinates: Any, geoproperty: str | None, terms: TermMap
) -> tuple[EntityPredicate, BBox | None]:
    """Compile a geo-query into a predicate and an optional pre-filter box (lon/lat)."""
    raise BadRequestData("geo-queries are not supported yet", field="georel")
