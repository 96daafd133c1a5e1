"""Distances on the Earth for geo-queries: great-circle (haversine) between points, and the
shortest distance between any two lon/lat geometries through a spherical azimuthal
equidistant projection centred on one of them (exact from the centre, so exact whenever one
side is a point)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

EARTH_RADIUS = 6_371_008.8  # metres, IUGG mean radius
#: Longest segment (degrees) kept straight when projecting: short enough that the curvature of
#: a lon/lat segment in the projection is negligible at city scale.
DENSIFY_DEGREES = 0.01
BBox = tuple[float, float, float, float]


def haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two lon/lat points."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = math.radians(lon2 - lon1) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS * math.asin(min(1.0, math.sqrt(a)))


def densify(geometry: BaseGeometry) -> BaseGeometry:
    """Extra vertices every ``DENSIFY_DEGREES`` so that projected segments stay faithful."""
    if geometry.geom_type in ("Point", "MultiPoint"):
        return geometry
    densified: BaseGeometry = shapely.segmentize(geometry, DENSIFY_DEGREES)
    return densified


def project(geometry: BaseGeometry, lon0: float, lat0: float) -> BaseGeometry:
    """The geometry in a spherical azimuthal equidistant projection centred at lon0/lat0
    (metres); distances from the centre are great-circle distances."""
    phi0, lambda0 = math.radians(lat0), math.radians(lon0)
    sin0, cos0 = math.sin(phi0), math.cos(phi0)

    def forward(coords: Any) -> Any:
        lam = np.radians(coords[:, 0]) - lambda0
        phi = np.radians(coords[:, 1])
        sin_phi, cos_phi, cos_lam = np.sin(phi), np.cos(phi), np.cos(lam)
        cos_c = np.clip(sin0 * sin_phi + cos0 * cos_phi * cos_lam, -1.0, 1.0)
        c = np.arccos(cos_c)
        sin_c = np.sin(c)
        k = np.where(sin_c > 1e-12, c / np.where(sin_c > 1e-12, sin_c, 1.0), 1.0)
        x = EARTH_RADIUS * k * cos_phi * np.sin(lam)
        y = EARTH_RADIUS * k * (cos0 * sin_phi - sin0 * cos_phi * cos_lam)
        return np.column_stack((x, y))

    projected: BaseGeometry = shapely.transform(geometry, forward)
    return projected


def distance_from_point(lon: float, lat: float, dense: BaseGeometry) -> float:
    """Metres from a point to a (densified) geometry: 0 when the point lies inside it."""
    if dense.geom_type == "Point":
        return haversine(lon, lat, dense.x, dense.y)
    projected = project(dense, lon, lat)
    return float(shapely.distance(projected, shapely.Point(0.0, 0.0)))


def distance_between(target: BaseGeometry, dense_reference: BaseGeometry) -> float:
    """Metres between two geometries; exact when either is a point, else centred on the
    target's point nearest the reference (accurate at city and region scale)."""
    if target.geom_type == "Point":
        return distance_from_point(target.x, target.y, dense_reference)
    if dense_reference.geom_type == "Point":
        return distance_from_point(dense_reference.x, dense_reference.y, densify(target))
    nearest = nearest_points(target, dense_reference)[0]
    centre_lon, centre_lat = nearest.x, nearest.y
    a = project(densify(target), centre_lon, centre_lat)
    b = project(dense_reference, centre_lon, centre_lat)
    return float(shapely.distance(a, b))


def grow_bbox(bounds: BBox, metres: float) -> BBox:
    """A lon/lat box holding every point within ``metres`` of ``bounds`` (whole longitude
    range near the poles or across the antimeridian)."""
    west, south, east, north = bounds
    angle = metres / EARTH_RADIUS * 1.001
    dlat = math.degrees(angle)
    south, north = south - dlat, north + dlat
    if south <= -90 or north >= 90 or angle >= math.pi / 2:
        return -180.0, max(south, -90.0), 180.0, min(north, 90.0)
    ratio = math.sin(angle) / math.cos(math.radians(max(abs(south), abs(north))))
    if ratio >= 1:
        return -180.0, south, 180.0, north
    dlon = math.degrees(math.asin(ratio))
    west, east = west - dlon, east + dlon
    if west < -180 or east > 180:
        return -180.0, south, 180.0, north
    return west, south, east, north
