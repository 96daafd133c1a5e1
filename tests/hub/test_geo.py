"""Geo-queries as pure functions, with real Astana places: every georel, metric distances
checked against an independent ellipsoidal (Vincenty) reference within 1%, pre-filter boxes,
and bad georel / geometry / coordinates refused with the field named."""

from __future__ import annotations

import math
from typing import Any

import pytest

from qala.hub.ngsild.context import ContextCache
from qala.hub.ngsild.errors import BadRequestData
from qala.hub.ngsild.geo import parse_geo_query
from qala.hub.ngsild.geodesy import distance_between, distance_from_point, grow_bbox, haversine
from qala.hub.ngsild.model import LOCATION

TERMS = ContextCache().term_map(None)
BAITEREK = (71.4305, 51.1283)
KHAN_SHATYR = (71.4036, 51.1326)
AK_ORDA = (71.4464, 51.1256)
AIRPORT = (71.4669, 51.0222)
ALMATY = (76.9286, 43.2567)
#: A box around the left-bank government quarter (Baiterek, Khan Shatyr, Ak Orda).
LEFT_BANK = [[[71.39, 51.12], [71.46, 51.12], [71.46, 51.14], [71.39, 51.14], [71.39, 51.12]]]


def vincenty(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """WGS 84 geodesic distance in metres (Vincenty's inverse formula), the reference."""
    a, f = 6378137.0, 1 / 298.257223563
    b = a * (1 - f)
    u1, u2 = (
        math.atan((1 - f) * math.tan(math.radians(lat1))),
        math.atan((1 - f) * math.tan(math.radians(lat2))),
    )
    lon = big_l = math.radians(lon2 - lon1)
    for _ in range(200):
        sin_s = math.hypot(
            math.cos(u2) * math.sin(lon),
            math.cos(u1) * math.sin(u2) - math.sin(u1) * math.cos(u2) * math.cos(lon),
        )
        cos_s = math.sin(u1) * math.sin(u2) + math.cos(u1) * math.cos(u2) * math.cos(lon)
        sigma = math.atan2(sin_s, cos_s)
        sin_a = math.cos(u1) * math.cos(u2) * math.sin(lon) / sin_s
        cos2_a = 1 - sin_a**2
        cos_2sm = cos_s - 2 * math.sin(u1) * math.sin(u2) / cos2_a
        c = f / 16 * cos2_a * (4 + f * (4 - 3 * cos2_a))
        previous, lon = (
            lon,
            big_l
            + (1 - c)
            * f
            * sin_a
            * (sigma + c * sin_s * (cos_2sm + c * cos_s * (-1 + 2 * cos_2sm**2))),
        )
        if abs(lon - previous) < 1e-12:
            break
    u_sq = cos2_a * (a**2 - b**2) / b**2
    big_a = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
    big_b = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
    delta = (
        big_b
        * sin_s
        * (
            cos_2sm
            + big_b
            / 4
            * (
                cos_s * (-1 + 2 * cos_2sm**2)
                - big_b / 6 * cos_2sm * (-3 + 4 * sin_s**2) * (-3 + 4 * cos_2sm**2)
            )
        )
    )
    return b * big_a * (sigma - delta)


def place(*coordinates: tuple[float, float], attr: str = LOCATION) -> dict[str, Any]:
    """An entity with one GeoProperty instance per point."""
    instances = [
        {"type": "GeoProperty", "value": {"type": "Point", "coordinates": list(p)}}
        for p in coordinates
    ]
    return {"id": "urn:ngsi-ld:Place:1", "type": ["Place"], "attrs": {attr: instances}}


def area(coordinates: Any, kind: str = "Polygon") -> dict[str, Any]:
    value = {"type": kind, "coordinates": coordinates}
    return {
        "id": "urn:ngsi-ld:Area:1",
        "type": ["Area"],
        "attrs": {LOCATION: [{"type": "GeoProperty", "value": value}]},
    }


def query(georel: str, geometry: str, coordinates: Any, geoproperty: str | None = None) -> Any:
    return parse_geo_query(georel, geometry, coordinates, geoproperty, TERMS)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (BAITEREK, KHAN_SHATYR),
        (BAITEREK, AK_ORDA),
        (BAITEREK, AIRPORT),
        (BAITEREK, ALMATY),
        ((71.43, 51.0), (71.43, 52.0)),  # one degree along the meridian, about 111.2 km
    ],
)
def test_distances_match_the_ellipsoid_within_one_percent(
    a: tuple[float, float], b: tuple[float, float]
) -> None:
    reference = vincenty(*a, *b)
    assert haversine(*a, *b) == pytest.approx(reference, rel=0.01)
    import shapely

    assert distance_from_point(*a, shapely.Point(*b)) == pytest.approx(reference, rel=0.01)
    assert 960_000 < vincenty(*BAITEREK, *ALMATY) < 980_000  # "about 970 km" Astana–Almaty


def test_distance_to_a_line_is_to_its_nearest_point() -> None:
    import shapely

    # Kabanbay Batyr avenue, roughly west-east at 51.1283 N; Ak Orda stands south of its end
    avenue = shapely.LineString([(71.40, 51.1283), (71.44, 51.1283)])
    expected = vincenty(*AK_ORDA, 71.44, 51.1283)  # the east end is the nearest point
    assert distance_from_point(*AK_ORDA, avenue) == pytest.approx(expected, rel=0.01)
    below = vincenty(71.42, 51.1283, 71.42, 51.1183)  # straight south of the middle
    assert distance_from_point(71.42, 51.1183, shapely.segmentize(avenue, 0.01)) == (
        pytest.approx(below, rel=0.01)
    )
    square = shapely.Polygon(LEFT_BANK[0])
    assert distance_between(square, shapely.Point(*AIRPORT)) == pytest.approx(
        vincenty(*AIRPORT, AIRPORT[0], 51.12), rel=0.01
    )


def test_near_max_and_min_distance() -> None:
    gap = vincenty(*BAITEREK, *KHAN_SHATYR)  # about 1.96 km
    inside, box = query(f"near;maxDistance=={gap * 1.02:.0f}", "Point", list(BAITEREK))
    outside, _ = query(f"near;maxDistance=={gap * 0.98:.0f}", "Point", list(BAITEREK))
    assert inside(place(KHAN_SHATYR)) and not outside(place(KHAN_SHATYR))
    far, no_box = query("near;minDistance==5000", "Point", f"[{BAITEREK[0]},{BAITEREK[1]}]")
    assert far(place(AIRPORT)) and not far(place(AK_ORDA)) and no_box is None
    west, south, east, north = box
    assert west < KHAN_SHATYR[0] < east and south < KHAN_SHATYR[1] < north
    assert north - BAITEREK[1] == pytest.approx(gap * 1.02 / 111_195, rel=0.01)


def test_near_an_extended_reference_measures_from_its_closest_point() -> None:
    line = [[0, 60], [10, 60]]
    near, _ = query("near;maxDistance==2000", "LineString", line)
    assert near(place((10, 60.009)))  # about 1 km from the end, 557 km from the start
    assert not query("near;maxDistance==2000", "LineString", [[0, 61], [10, 61]])[0](
        place((10, 60.009))
    )
    high = area([[1, 85], [0, 85.6]], "LineString")
    assert query("near;maxDistance==20000", "Point", [0, 85])[0](high)  # ~9.7 km east
    assert not query("near;maxDistance==5000", "Point", [0, 85])[0](high)


def test_within_contains_intersects_disjoint() -> None:
    within, box = query("within", "Polygon", LEFT_BANK)
    assert within(place(BAITEREK)) and not within(place(AIRPORT))
    assert box == (71.39, 51.12, 71.46, 51.14)
    assert within(place(AIRPORT, AK_ORDA))  # any instance of a multi-instance GeoProperty
    quarter = area(LEFT_BANK)
    contains, _ = query("contains", "Point", list(BAITEREK))
    assert contains(quarter) and not contains(place(AK_ORDA))
    crossing, _ = query("intersects", "LineString", [list(BAITEREK), list(AIRPORT)])
    assert crossing(quarter) and not crossing(
        area([[[71.0, 50.0], [71.1, 50.0], [71.1, 50.1], [71.0, 50.0]]])
    )
    disjoint, no_box = query("disjoint", "MultiPoint", [list(AIRPORT), list(ALMATY)])
    assert disjoint(place(BAITEREK)) and not disjoint(place(AIRPORT)) and no_box is None


def test_equals_and_overlaps() -> None:
    rotated = [
        [LEFT_BANK[0][1], LEFT_BANK[0][2], LEFT_BANK[0][3], LEFT_BANK[0][0], LEFT_BANK[0][1]]
    ]
    equals, _ = query("equals", "Polygon", rotated)
    assert equals(area(LEFT_BANK)) and not equals(place(BAITEREK))
    east = [[[71.44, 51.12], [71.50, 51.12], [71.50, 51.14], [71.44, 51.14], [71.44, 51.12]]]
    overlaps, _ = query("overlaps", "MultiPolygon", [east])
    assert overlaps(area(LEFT_BANK))
    inner = [[[71.40, 51.125], [71.41, 51.125], [71.41, 51.13], [71.40, 51.125]]]
    assert not overlaps(area(inner))  # wholly outside "east"
    assert not query("overlaps", "Polygon", LEFT_BANK)[0](area(inner))  # contained, no overlap


def test_polygon_holes_exclude_points() -> None:
    holed = [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]]
    within, _ = query("within", "Polygon", holed)
    assert within(place((2, 2))) and not within(place((5, 5)))


def test_geoproperty_other_than_location_has_no_box() -> None:
    matches, box = query("within", "Polygon", LEFT_BANK, "observationSpace")
    assert box is None
    assert matches(place(BAITEREK, attr=TERMS.expand("observationSpace")))
    assert not matches(place(BAITEREK))  # an entity without the GeoProperty never matches


def test_grow_bbox_spans_the_globe_near_the_poles() -> None:
    assert grow_bbox((0, 89.9, 0, 89.9), 50_000)[0] == -180
    assert grow_bbox((179.99, 0, 179.99, 0), 10_000) == pytest.approx(
        (-180, -0.09, 180, 0.09), abs=0.001
    )


@pytest.mark.parametrize(
    ("georel", "geometry", "coordinates", "field"),
    [
        ("near", "Point", "[71.4,51.1]", "georel"),
        ("near;maxDistance==0", "Point", "[71.4,51.1]", "georel"),
        ("near;maxDistance==-100", "Point", "[71.4,51.1]", "georel"),
        ("near;maxDistance==inf", "Point", "[71.4,51.1]", "georel"),
        ("near;maxDistance==1e400", "Point", "[71.4,51.1]", "georel"),
        ("near;maxDistance==5;minDistance==1", "Point", "[71.4,51.1]", "georel"),
        ("touches", "Point", "[71.4,51.1]", "georel"),
        ("", "Point", "[71.4,51.1]", "georel"),
        ("within", "GeometryCollection", "[]", "geometry"),
        ("within", "", "[71.4,51.1]", "geometry"),
        ("within", "Point", "", "coordinates"),
        ("within", "Point", "[71.4]", "coordinates"),
        ("within", "Point", "[71.4,true]", "coordinates"),
        ("within", "Point", "[71.4,91]", "coordinates"),
        ("within", "Point", '{"x":1}', "coordinates"),
        ("within", "LineString", "[[71.4,51.1]]", "coordinates"),
        ("within", "Polygon", "[[[0,0],[1,0],[1,1],[0,1]]]", "coordinates"),  # not closed
        ("within", "Polygon", "[[[0,0],[1,1],[1,0],[0,1],[0,0]]]", "coordinates"),  # bow-tie
        ("within", "MultiPolygon", "[]", "coordinates"),
    ],
)
def test_bad_geo_queries_name_the_field(
    georel: str, geometry: str, coordinates: str, field: str
) -> None:
    with pytest.raises(BadRequestData) as raised:
        query(georel, geometry, coordinates)
    assert raised.value.extra["field"] == field


def test_coordinates_may_arrive_encoded_or_as_json() -> None:
    for coordinates in ("%5B71.4305%2C51.1283%5D", "71.4305,51.1283", [71.4305, 51.1283]):
        matches, _ = query("near;maxDistance==10", "point", coordinates)
        assert matches(place(BAITEREK))
