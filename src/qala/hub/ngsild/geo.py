"""NGSI-LD geo-queries (ETSI GS CIM 009 §4.10): georel (near;maxDistance/minDistance, within,
contains, intersects, equals, disjoint, overlaps) between an entity's GeoProperty and a
reference geometry, with a bounding box for the database pre-filter."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import shapely
from shapely.errors import GEOSException
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from qala.hub.ngsild import geodesy
from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.errors import BadRequestData
from qala.hub.ngsild.model import LOCATION

EntityPredicate = Callable[[dict[str, Any]], bool]
BBox = tuple[float, float, float, float]
GeometryTest = Callable[[dict[str, Any]], bool]

RELATIONS = ("within", "contains", "intersects", "equals", "disjoint", "overlaps")
GEOMETRIES = {
    name.lower(): name
    for name in ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
}
_NEAR = re.compile(r"(maxDistance|minDistance)(?:==|:)(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)")


@dataclass(frozen=True)
class GeoRel:
    """A parsed georel: the relation and, for ``near``, the distance bound in metres."""

    relation: str  # near, within, contains, intersects, equals, disjoint, overlaps
    max_distance: float | None = None
    min_distance: float | None = None


def parse_georel(text: Any, field: str = "georel") -> GeoRel:
    """``near;maxDistance==2000``, ``within``, ... or BadRequestData."""
    if not isinstance(text, str) or not text.strip():
        raise BadRequestData(f"{field} is missing", field=field)
    parts = [part.strip() for part in text.split(";")]
    relation = parts[0]
    if relation == "near":
        found = _NEAR.fullmatch(parts[1]) if len(parts) == 2 else None
        if found is None:
            raise BadRequestData(
                f"{field} 'near' needs exactly one of ;maxDistance==N or ;minDistance==N "
                f"(metres), got {text!r}",
                field=field,
            )
        distance = float(found.group(2))
        if not math.isfinite(distance) or distance <= 0:
            raise BadRequestData(f"{field} distance must be a positive number", field=field)
        if found.group(1) == "maxDistance":
            return GeoRel("near", max_distance=distance)
        return GeoRel("near", min_distance=distance)
    if relation in RELATIONS and len(parts) == 1:
        return GeoRel(relation)
    raise BadRequestData(
        f"{field} must be near;maxDistance==N, near;minDistance==N or one of "
        f"{', '.join(RELATIONS)}; got {text!r}",
        field=field,
    )


def parse_coordinates(raw: Any, field: str = "coordinates") -> Any:
    """Coordinates as JSON text (``[71.4,51.1]``, possibly still URL-encoded) or a JSON array."""
    if isinstance(raw, list):
        return raw
    if not isinstance(raw, str) or not raw.strip():
        raise BadRequestData(f"{field} are missing", field=field)
    text = raw.strip()
    if "%" in text:
        text = unquote(text)
    if not text.startswith("["):
        text = f"[{text}]"
    try:
        return json.loads(text)
    except ValueError:
        raise BadRequestData(f"{field} are not a JSON array: {raw!r}", field=field) from None


def _position(node: Any, field: str) -> None:
    if not (
        isinstance(node, list)
        and len(node) in (2, 3)
        and all(
            isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n)
            for n in node
        )
    ):
        raise BadRequestData(
            f"{field}: a position is [longitude, latitude], got {node!r}", field=field
        )
    if not (-180 <= node[0] <= 180 and -90 <= node[1] <= 90):
        raise BadRequestData(f"{field}: position out of range: {node!r}", field=field)


def _positions(node: Any, field: str, minimum: int, closed: bool = False) -> None:
    if not isinstance(node, list) or len(node) < minimum:
        raise BadRequestData(f"{field}: expected at least {minimum} positions", field=field)
    for position in node:
        _position(position, field)
    if closed and node[0][:2] != node[-1][:2]:
        raise BadRequestData(f"{field}: a polygon ring must end where it starts", field=field)


def _check_shape(kind: str, coords: Any, field: str) -> None:
    def each(items: Any, check: Callable[[Any], None]) -> None:
        if not isinstance(items, list) or not items:
            raise BadRequestData(f"{field}: expected a non-empty list for a {kind}", field=field)
        for item in items:
            check(item)

    polygon: Callable[[Any], None] = lambda rings: each(  # noqa: E731
        rings, lambda ring: _positions(ring, field, 4, closed=True)
    )
    checks: dict[str, Callable[[Any], None]] = {
        "Point": lambda c: _position(c, field),
        "MultiPoint": lambda c: each(c, lambda p: _position(p, field)),
        "LineString": lambda c: _positions(c, field, 2),
        "MultiLineString": lambda c: each(c, lambda line: _positions(line, field, 2)),
        "Polygon": polygon,
        "MultiPolygon": lambda c: each(c, polygon),
    }
    checks[kind](coords)


def parse_reference(geometry: Any, coordinates: Any) -> BaseGeometry:
    """The reference geometry of a geo-query, validated (RFC 7946 minus GeometryCollection)."""
    if not isinstance(geometry, str) or geometry.strip().lower() not in GEOMETRIES:
        raise BadRequestData(
            f"geometry must be one of {', '.join(GEOMETRIES.values())}; got {geometry!r}",
            field="geometry",
        )
    kind = GEOMETRIES[geometry.strip().lower()]
    coords = parse_coordinates(coordinates)
    _check_shape(kind, coords, "coordinates")
    try:
        reference = shape({"type": kind, "coordinates": coords})
    except (ValueError, TypeError, GEOSException) as error:
        raise BadRequestData(
            f"coordinates do not form a {kind}: {error}", field="coordinates"
        ) from None
    if not reference.is_valid:
        raise BadRequestData(
            f"coordinates do not form a valid {kind}: {explain_validity(reference)}",
            field="coordinates",
        )
    return reference


def parse_geo_query(
    georel: str, geometry: str, coordinates: Any, geoproperty: str | None, terms: TermMap
) -> tuple[EntityPredicate, BBox | None]:
    """Compile a geo-query into a predicate and an optional pre-filter box (lon/lat)."""
    rel = parse_georel(georel)
    reference = parse_reference(geometry, coordinates)
    iri = terms.expand(geoproperty) if geoproperty else LOCATION
    test = geometry_test(rel, reference)

    def matches(entity: dict[str, Any]) -> bool:
        for instance in entity["attrs"].get(iri, ()):
            value = instance.get("value")
            if instance.get("type") == "GeoProperty" and isinstance(value, dict) and test(value):
                return True
        return False

    return matches, _bbox(rel, reference) if iri == LOCATION else None


def _bbox(rel: GeoRel, reference: BaseGeometry) -> BBox | None:
    west, south, east, north = (float(b) for b in reference.bounds)
    if rel.relation == "near":
        if rel.max_distance is None:
            return None
        return geodesy.grow_bbox((west, south, east, north), rel.max_distance)
    if rel.relation == "disjoint":
        return None
    return west, south, east, north


def geometry_test(rel: GeoRel, reference: BaseGeometry) -> GeometryTest:
    """A test of one stored GeoJSON geometry against the reference."""
    shapely.prepare(reference)
    if rel.relation == "near":
        return _near_test(rel, reference)
    relate: Callable[[BaseGeometry, BaseGeometry], Any] = getattr(shapely, rel.relation)
    point_test: Callable[[float, float], bool] | None = {
        "within": lambda x, y: bool(shapely.contains_xy(reference, x, y)),
        "intersects": lambda x, y: bool(shapely.intersects_xy(reference, x, y)),
        "disjoint": lambda x, y: not shapely.intersects_xy(reference, x, y),
    }.get(rel.relation)

    def test(value: dict[str, Any]) -> bool:
        point = _point(value)
        if point is not None and point_test is not None:
            return point_test(*point)
        target = _shape(value)
        if target is None:
            return False
        try:
            return bool(relate(target, reference))
        except GEOSException:
            return False

    return test


def _near_test(rel: GeoRel, reference: BaseGeometry) -> GeometryTest:
    dense = geodesy.densify(reference)
    bound = rel.max_distance if rel.max_distance is not None else rel.min_distance
    assert bound is not None
    within = rel.max_distance is not None

    def test(value: dict[str, Any]) -> bool:
        point = _point(value)
        if point is not None:
            distance = geodesy.distance_from_point(point[0], point[1], dense)
        else:
            target = _shape(value)
            if target is None:
                return False
            try:
                distance = geodesy.distance_between(target, dense)
            except GEOSException:
                return False
        return distance <= bound if within else distance > bound

    return test


def _point(value: dict[str, Any]) -> tuple[float, float] | None:
    if value.get("type") != "Point":
        return None
    coords = value.get("coordinates")
    if isinstance(coords, list) and len(coords) >= 2:
        return float(coords[0]), float(coords[1])
    return None


def _shape(value: dict[str, Any]) -> BaseGeometry | None:
    try:
        geometry: BaseGeometry = shape(value)
    except (ValueError, TypeError, KeyError, AttributeError, GEOSException):
        return None
    return None if geometry.is_empty else geometry
