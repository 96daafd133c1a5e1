"""Querying entities through the NGSI-LD API: q, type selection, geo-queries, scopeQ, paging,
count and POST /entityOperations/query; bad input is a 400, and each city sees only its own."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hub.conftest import Ngsi, meter

SQUARE = "[[[71.40,51.10],[71.50,51.10],[71.50,51.20],[71.40,51.20],[71.40,51.10]]]"


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [entity["id"] for entity in response.json()]


@pytest.fixture
def meters(ngsi: Ngsi) -> Ngsi:
    """Five water meters in central Astana (consumption 11..15), two of them in scopes."""
    for n in range(1, 6):
        extra: dict[str, Any] = {}
        if n <= 2:
            extra["scope"] = ["/Kazakhstan/Astana/Esil", f"/Operator/{n}"]
        if n == 3:
            extra["servedBy"] = {"type": "Relationship", "object": "urn:ngsi-ld:Pump:7"}
            extra["address"] = {
                "type": "Property",
                "value": {"city": "Astana", "street": "Kabanbay Batyr"},
            }
        ngsi.create(meter(n, **extra))
    ngsi.create(
        {
            "id": "urn:ngsi-ld:Pump:7",
            "type": "Pump",
            "location": {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [76.95, 43.24]},
            },
        }
    )
    return ngsi


def test_q_filters_and_counts(meters: Ngsi) -> None:
    response = meters.get("/entities?type=WaterMeter&q=consumption>12&count=true")
    assert ids(response) == [f"urn:ngsi-ld:WaterMeter:{n}" for n in (3, 4, 5)]
    assert response.headers["NGSILD-Results-Count"] == "3"


def test_q_precedence_lists_ranges_and_paths(meters: Ngsi) -> None:
    def q(text: str) -> list[int]:
        found = ids(meters.get("/entities", params={"type": "WaterMeter", "q": text}))
        return [int(entity_id.rsplit(":", 1)[1]) for entity_id in found]

    assert q("consumption==11,15") == [1, 5]
    assert q("consumption==12..14") == [2, 3, 4]
    assert q("consumption<12|consumption>14;consumption<15") == [1]
    assert q("(consumption<12|consumption>14);consumption<16") == [1, 5]
    assert q('consumption.unitCode=="MTQ";consumption>=15') == [5]
    assert q("servedBy==urn:ngsi-ld:Pump:7") == [3]
    assert q('address[city]=="Astana"') == [3]
    assert q("!servedBy;consumption<13") == [1, 2]


def test_bad_q_is_a_400_naming_the_position(meters: Ngsi) -> None:
    for text in ("consumption>>1", "(consumption>1", "consumption==", "consumption>1..4"):
        response = meters.get("/entities", params={"type": "WaterMeter", "q": text})
        assert response.status_code == 400, text
        body = response.json()
        assert body["type"].endswith("/BadRequestData")
        assert body["field"] == "q"
        assert "position" in body["detail"]


def test_type_selection(meters: Ngsi) -> None:
    assert len(ids(meters.get("/entities?type=WaterMeter|Pump"))) == 6
    assert len(ids(meters.get("/entities?type=Pump,Valve"))) == 1
    assert ids(meters.get("/entities?type=(WaterMeter;Pump)")) == []
    bad = meters.get("/entities?type=(WaterMeter")
    assert bad.status_code == 400
    assert bad.json()["type"].endswith("/BadRequestData")


def test_geo_queries_in_astana(meters: Ngsi) -> None:
    near = meters.get(
        "/entities",
        params={
            "type": "WaterMeter",
            "georel": "near;maxDistance==150",
            "geometry": "Point",
            "coordinates": "[71.431,51.13]",
        },
    )
    # meters sit at 71.431..71.435 E, 51.13 N: 0.001 degree of longitude is about 70 m here
    assert ids(near) == [
        "urn:ngsi-ld:WaterMeter:1",
        "urn:ngsi-ld:WaterMeter:2",
        "urn:ngsi-ld:WaterMeter:3",
    ]
    far = meters.get(
        "/entities",
        params={
            "type": "WaterMeter,Pump",
            "georel": "near;minDistance==1000",
            "geometry": "Point",
            "coordinates": "[71.431,51.13]",
        },
    )
    assert ids(far) == ["urn:ngsi-ld:Pump:7"]
    within = meters.get(
        "/entities",
        params={
            "type": "WaterMeter,Pump",
            "georel": "within",
            "geometry": "Polygon",
            "coordinates": SQUARE,
            "count": "true",
        },
    )
    assert within.headers["NGSILD-Results-Count"] == "5"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        (
            {"georel": "near;maxDistance==-5", "geometry": "Point", "coordinates": "[71.4,51.1]"},
            "georel",
        ),
        ({"georel": "touches", "geometry": "Point", "coordinates": "[71.4,51.1]"}, "georel"),
        ({"georel": "within", "geometry": "Circle", "coordinates": "[71.4,51.1]"}, "geometry"),
        (
            {
                "georel": "within",
                "geometry": "Polygon",
                "coordinates": "[[[71.4,51.1],[71.5,51.1]]]",
            },
            "coordinates",
        ),
        ({"georel": "within", "geometry": "Point", "coordinates": "[71.4,"}, "coordinates"),
        ({"georel": "within", "geometry": "Point", "coordinates": "[200,51.1]"}, "coordinates"),
        ({"geometry": "Point", "coordinates": "[71.4,51.1]"}, "georel"),
    ],
)
def test_bad_geo_queries_are_a_400(meters: Ngsi, params: dict[str, str], field: str) -> None:
    response = meters.get("/entities", params={"type": "WaterMeter", **params})
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/BadRequestData")
    assert response.json()["field"] == field


def test_scope_queries(meters: Ngsi) -> None:
    assert len(ids(meters.get("/entities?type=WaterMeter&scopeQ=/Kazakhstan/%23"))) == 2
    assert len(ids(meters.get("/entities?type=WaterMeter&scopeQ=/Kazakhstan/%2B/Esil"))) == 2
    assert ids(meters.get("/entities?scopeQ=/Kazakhstan/Astana/Esil;/Operator/2")) == [
        "urn:ngsi-ld:WaterMeter:2"
    ]
    assert len(ids(meters.get("/entities?scopeQ=/Operator/1,/Operator/2"))) == 2
    assert meters.get("/entities?scopeQ=Kazakhstan").status_code == 400


def test_paging_with_limit_and_offset(meters: Ngsi) -> None:
    first = meters.get("/entities?type=WaterMeter&q=consumption>=11&limit=2&count=true")
    second = meters.get("/entities?type=WaterMeter&q=consumption>=11&limit=2&offset=2")
    last = meters.get("/entities?type=WaterMeter&q=consumption>=11&limit=2&offset=4")
    pages = ids(first) + ids(second) + ids(last)
    assert pages == [f"urn:ngsi-ld:WaterMeter:{n}" for n in range(1, 6)]
    assert first.headers["NGSILD-Results-Count"] == "5"
    only_count = meters.get("/entities?type=WaterMeter&limit=0&count=true")
    assert ids(only_count) == []
    assert only_count.headers["NGSILD-Results-Count"] == "5"


def test_post_query(meters: Ngsi) -> None:
    body = {
        "type": "Query",
        "entities": [{"type": "WaterMeter"}],
        "q": "consumption>=13",
        "attrs": ["consumption"],
        "geoQ": {
            "georel": "within",
            "geometry": "Polygon",
            "coordinates": [
                [[71.40, 51.10], [71.50, 51.10], [71.50, 51.20], [71.40, 51.20], [71.40, 51.10]]
            ],
        },
    }
    response = meters.post("/entityOperations/query?count=true&limit=2", json=body)
    assert ids(response) == ["urn:ngsi-ld:WaterMeter:3", "urn:ngsi-ld:WaterMeter:4"]
    assert response.headers["NGSILD-Results-Count"] == "3"
    assert set(response.json()[0]) == {"id", "type", "consumption"}


def test_post_query_with_several_selectors(meters: Ngsi) -> None:
    body = {
        "type": "Query",
        "entities": [
            {"id": "urn:ngsi-ld:WaterMeter:2"},
            {"idPattern": ":4$", "type": "WaterMeter"},
            {"type": "Pump"},
        ],
    }
    response = meters.post("/entityOperations/query?options=keyValues", json=body)
    assert ids(response) == [
        "urn:ngsi-ld:Pump:7",
        "urn:ngsi-ld:WaterMeter:2",
        "urn:ngsi-ld:WaterMeter:4",
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "NotQuery", "entities": [{"type": "WaterMeter"}]},
        {"type": "Query", "entities": []},
        {"type": "Query", "entities": [{"type": "WaterMeter"}], "attrs": []},
        {"type": "Query", "entities": [{"type": "WaterMeter"}], "q": 42},
        {"type": "Query", "entities": [{"type": "WaterMeter"}], "q": "consumption>"},
        {
            "type": "Query",
            "entities": [{"type": "WaterMeter"}],
            "geoQ": {"georel": "within", "geometry": "Polygon", "coordinates": [[1, 2]]},
        },
        {
            "type": "Query",
            "entities": [{"type": "WaterMeter"}],
            "temporalQ": {"timerel": "after", "timeAt": "2020-01-01T00:00:00Z"},
        },
        {"type": "Query", "entities": [{"id": "not a uri"}]},
        [1, 2],
    ],
)
def test_bad_post_query_is_a_400(meters: Ngsi, body: Any) -> None:
    response = meters.post("/entityOperations/query", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/BadRequestData")


def test_other_city_sees_nothing(meters: Ngsi, other_ngsi: Ngsi) -> None:
    assert ids(other_ngsi.get("/entities?type=WaterMeter&q=consumption>0")) == []
    assert (
        ids(
            other_ngsi.get(
                "/entities",
                params={
                    "type": "WaterMeter",
                    "georel": "within",
                    "geometry": "Polygon",
                    "coordinates": SQUARE,
                },
            )
        )
        == []
    )
    assert ids(other_ngsi.get("/entities?scopeQ=/%23")) == []
    response = other_ngsi.post(
        "/entityOperations/query", json={"type": "Query", "entities": [{"type": "WaterMeter"}]}
    )
    assert ids(response) == []


TRICKY: list[dict[str, Any]] = [
    {"n": {"type": "Property", "value": 5}, "s": {"type": "Property", "value": "open"}},
    {"n": {"type": "Property", "value": [1, 9]}, "s": {"type": "Property", "value": ["a", "open"]}},
    {"n": {"type": "ListProperty", "valueList": [3, 7]}, "b": {"type": "Property", "value": True}},
    {
        "n": {"type": "Property", "value": {"@type": "Number", "@value": 8}},
        "s": {"type": "LanguageProperty", "languageMap": {"kk": "ашық", "en": "open"}},
    },
    {
        "n": [
            {"type": "Property", "value": 1.0, "datasetId": "urn:a"},
            {"type": "Property", "value": 6.5, "datasetId": "urn:b"},
        ],
        "s": {"type": "Relationship", "object": ["urn:ngsi-ld:X:1", "open"]},
    },
    {"n": {"type": "Property", "value": "5"}, "b": {"type": "Property", "value": 1}},
    {"n": {"type": "Property", "value": {"deep": 5}}, "s": {"type": "Property", "value": 5}},
]


@pytest.mark.parametrize(
    "q",
    [
        "n==5",
        "n>4",
        "n>=9",
        "n<2",
        "n<=1",
        "n==5..8",
        "n==2,8",
        "n!=5",
        "n",
        "!n",
        's=="open"',
        "s==open",
        's=="urn:ngsi-ld:X:1"',
        "s==urn:ngsi-ld:X:1",
        "b==true",
        "b==false",
        's~="^op"',
        'n>4;s=="open"',
        'n>8|s=="open"',
        "n[deep]==5",
        "(n==5|b);s",
    ],
)
def test_sql_prefilter_never_drops_a_match(db: Any, city: Any, q: str) -> None:
    """The database pre-filter agrees with the Python predicate on awkward stored values."""
    from qala.hub import service
    from qala.hub.ngsild.context import ContextCache
    from qala.hub.ngsild.query import parse_q
    from qala.hub.ngsild.query_sql import parse_q_for_query

    terms = ContextCache().term_map(None)
    for index, attrs in enumerate(TRICKY):
        stored = {
            name: value if isinstance(value, list) else [value] for name, value in attrs.items()
        }
        service.create_entity(
            service.Hub(),
            db,
            city.id,
            {
                "id": f"urn:ngsi-ld:T:{index}",
                "type": [terms.expand("T")],
                "createdAt": "2024-01-01T00:00:00Z",
                "modifiedAt": "2024-01-01T00:00:00Z",
                "attrs": {terms.expand(name): value for name, value in stored.items()},
            },
        )
    predicate, where = parse_q_for_query(q, terms)
    pushed, total = service.query_entities(
        db, city.id, service.EntityQuery(q=predicate, where=where, limit=100)
    )
    plain, _ = service.query_entities(
        db, city.id, service.EntityQuery(q=parse_q(q, terms), limit=100)
    )
    assert [e["id"] for e in pushed] == [e["id"] for e in plain]
    assert total == len(plain)
