"""NGSI-LD discovery: the entity types and attributes a city's entities use (``/types``,
``/attributes``), named under the caller's @context; another city sees none of them."""

from __future__ import annotations

from typing import Any

from qala.hub.ngsild import discovery
from qala.hub.ngsild.context import ContextCache
from tests.hub.conftest import Ngsi, meter

LD = {"Content-Type": "application/ld+json"}
CTX = {"Meter": "https://example.org/energy#Meter", "kwh": "https://example.org/energy#kwh"}


def seed(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    ngsi.create(meter(2, valve={"type": "Relationship", "object": "urn:ngsi-ld:Valve:1"}))
    ngsi.create(
        {
            "id": "urn:ngsi-ld:Building:1",
            "type": ["Building", "Asset"],
            "name": {"type": "LanguageProperty", "languageMap": {"ru": "Дом"}},
            "consumption": 3,
        }
    )
    response = ngsi.post(
        "/entities",
        headers=LD,
        json={"id": "urn:ngsi-ld:Meter:1", "type": "Meter", "kwh": 5, "@context": CTX},
    )
    assert response.status_code == 201


def test_type_list_is_compacted_with_the_callers_context(ngsi: Ngsi) -> None:
    seed(ngsi)
    body = ngsi.get("/types").json()
    assert body["id"].startswith("urn:ngsi-ld:EntityTypeList:")
    assert body["type"] == "EntityTypeList"
    assert body["typeList"] == [
        "Asset",
        "Building",
        "WaterMeter",
        "https://example.org/energy#Meter",
    ]
    ld = ngsi.get("/types", headers={"Accept": "application/ld+json"})
    assert ld.headers["content-type"].startswith("application/ld+json")
    assert "@context" in ld.json()


def test_type_details_list_attribute_names(ngsi: Ngsi) -> None:
    seed(ngsi)
    body = {t["typeName"]: t for t in ngsi.get("/types?details=true").json()}
    assert body["WaterMeter"] == {
        "id": "https://uri.etsi.org/ngsi-ld/default-context/WaterMeter",
        "type": "EntityType",
        "typeName": "WaterMeter",
        "attributeNames": ["consumption", "location", "valve"],
    }


def test_one_type_counts_entities_and_details_attributes(ngsi: Ngsi) -> None:
    seed(ngsi)
    body = ngsi.get("/types/WaterMeter").json()
    assert (body["type"], body["entityCount"]) == ("EntityTypeInfo", 2)
    details = {a["attributeName"]: a for a in body["attributeDetails"]}
    assert details["valve"] == {
        "id": "https://uri.etsi.org/ngsi-ld/default-context/valve",
        "type": "Attribute",
        "attributeName": "valve",
        "attributeTypes": ["Relationship"],
    }
    assert details["location"]["attributeTypes"] == ["GeoProperty"]


def test_a_type_can_be_named_by_its_iri(ngsi: Ngsi) -> None:
    seed(ngsi)
    response = ngsi.get("/types/https%3A%2F%2Fexample.org%2Fenergy%23Meter")
    assert response.status_code == 200
    assert response.json()["typeName"] == "https://example.org/energy#Meter"
    link = '<{}>; rel="http://www.w3.org/ns/json-ld#context"'
    hosted = ngsi.post("/jsonldContexts", json={"@context": CTX}).headers["location"]
    named = ngsi.get("/types/Meter", headers={"Link": link.format("http://h" + hosted)})
    assert named.json()["typeName"] == "Meter"
    assert named.json()["attributeDetails"][0]["attributeName"] == "kwh"


def test_attributes_list_details_and_one(ngsi: Ngsi) -> None:
    seed(ngsi)
    listing = ngsi.get("/attributes").json()
    assert listing["type"] == "AttributeList"
    assert listing["attributeList"] == sorted(
        ["consumption", "location", "name", "valve", "https://example.org/energy#kwh"]
    )
    details = {a["attributeName"]: a for a in ngsi.get("/attributes?details=true").json()}
    assert details["consumption"]["typeNames"] == ["Asset", "Building", "WaterMeter"]
    assert set(details["consumption"]) == {"id", "type", "attributeName", "typeNames"}
    one = ngsi.get("/attributes/consumption").json()
    assert one == {
        "id": "https://uri.etsi.org/ngsi-ld/default-context/consumption",
        "type": "Attribute",
        "attributeName": "consumption",
        "attributeCount": 3,
        "attributeTypes": ["Property"],
        "typeNames": ["Asset", "Building", "WaterMeter"],
    }


def test_unknown_names_and_parameters(ngsi: Ngsi) -> None:
    seed(ngsi)
    for path in ("/types/Nope", "/attributes/nope", "/attributes/createdAt"):
        response = ngsi.get(path)
        assert response.status_code == 404, path
        assert response.json()["type"].endswith("ResourceNotFound")
    for path in ("/types?invalidParams=1", "/types/WaterMeter?details=true", "/attributes?limit=5"):
        response = ngsi.get(path)
        assert response.status_code == 400, path
        assert response.json()["type"].endswith("InvalidRequest")
    assert ngsi.get("/types?details=maybe").status_code == 400
    assert ngsi.get("/types", headers={"Accept": "application/geo+json"}).status_code == 406


def test_other_city_discovers_nothing_of_ours(ngsi: Ngsi, other_ngsi: Ngsi) -> None:
    seed(ngsi)
    assert other_ngsi.get("/types").json()["typeList"] == []
    assert other_ngsi.get("/types/WaterMeter").status_code == 404
    assert other_ngsi.get("/attributes").json()["attributeList"] == []
    assert other_ngsi.get("/attributes/consumption").status_code == 404
    other_ngsi.create({"id": "urn:ngsi-ld:Tram:1", "type": "Tram"})
    assert ngsi.get("/types/Tram").status_code == 404


def test_catalog_folds_plain_entities() -> None:
    entities: list[dict[str, Any]] = [
        {
            "id": "urn:a",
            "type": ["urn:T"],
            "attrs": {"urn:p": [{"type": "Property"}, {"type": "Property"}]},
        },
        {"id": "urn:b", "type": ["urn:T", "urn:U"], "attrs": {"urn:p": [{"type": "GeoProperty"}]}},
    ]
    found = discovery.catalog(entities)
    assert found.types["urn:T"].entities == 2
    assert found.attributes["urn:p"].instances == 3
    assert found.attributes["urn:p"].kinds == {"Property", "GeoProperty"}
    terms = ContextCache().term_map(None)
    assert discovery.attribute_info("urn:p", found.attributes["urn:p"], terms)["typeNames"] == [
        "urn:T",
        "urn:U",
    ]
