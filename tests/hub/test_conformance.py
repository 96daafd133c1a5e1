"""Conformance details of the NGSI-LD entity API (ETSI GS CIM 009 v1.8): media types and
content negotiation, @context rules, projections and representations, attribute types, multi-
instance attributes, merge and replace, error types and their media type, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.hub.conftest import Ngsi, meter

ID = "urn:ngsi-ld:WaterMeter:1"
LD = {"Content-Type": "application/ld+json"}
CTX = {"consumption": "https://example.org/water#consumption"}


def problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    """An NGSI-LD ProblemDetails of ``kind``, sent as application/json (the NGSI-LD binding)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://uri.etsi.org/ngsi-ld/errors/{kind}"
    assert body["title"]
    return body


def test_media_types_of_requests(ngsi: Ngsi) -> None:
    problem(
        ngsi.post("/entities", content=b"{}", headers={"Content-Type": "text/plain"}),
        415,
        "UnsupportedMediaType",
    )
    problem(ngsi.post("/entities", json={**meter(1), "@context": CTX}), 400, "BadRequestData")
    problem(ngsi.post("/entities", json=meter(1), headers=LD), 400, "BadRequestData")
    created = ngsi.post("/entities", json={**meter(1), "@context": CTX}, headers=LD)
    assert created.status_code == 201
    assert created.headers["location"] == f"/ngsi-ld/v1/entities/{ID}"
    problem(ngsi.post("/entities", content=b"", headers=LD), 400, "InvalidRequest")


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        ("*/*", "application/json"),
        ("application/ld+json, application/json", "application/json"),
        ("application/json;q=0.1, application/ld+json;q=0.9", "application/ld+json"),
        ("application/json;q=0, application/ld+json", "application/ld+json"),
        ("text/html, */*;q=0.8", "application/json"),
        ("", "application/json"),
    ],
)
def test_accept_negotiation(ngsi: Ngsi, accept: str, media: str) -> None:
    ngsi.create(meter(1))
    response = ngsi.get(f"/entities/{ID}", headers={"Accept": accept})
    assert response.headers["content-type"] == media
    assert ("@context" in response.json()) == (media == "application/ld+json")
    assert ("link" in response.headers) == (media == "application/json")


def test_unacceptable_accept_is_406_even_for_a_missing_entity(ngsi: Ngsi) -> None:
    response = ngsi.get("/entities/urn:ngsi-ld:Nope:1", headers={"Accept": "application/xml"})
    problem(response, 406, "NotAcceptable")


def test_geojson_carries_its_context_unless_asked_not_to(ngsi: Ngsi) -> None:
    ngsi.create(
        meter(
            1, spot={"type": "GeoProperty", "value": {"type": "Point", "coordinates": [71.0, 51.0]}}
        )
    )
    geo = {"Accept": "application/geo+json"}
    feature = ngsi.get(f"/entities/{ID}?geometryProperty=spot", headers=geo)
    assert feature.headers["content-type"] == "application/geo+json"
    assert feature.json()["geometry"] == {"type": "Point", "coordinates": [71.0, 51.0]}
    assert "@context" in feature.json()
    plain = ngsi.get("/entities?type=WaterMeter", headers={**geo, "Prefer": "body=json"})
    assert plain.json()["type"] == "FeatureCollection"
    assert "@context" not in plain.json()
    assert "json-ld#context" in plain.headers["link"]


def test_projections(ngsi: Ngsi) -> None:
    ngsi.create(meter(1, valve={"type": "Property", "value": "open"}))
    assert set(ngsi.get(f"/entities/{ID}?attrs=valve").json()) == {"id", "type", "valve"}
    assert set(ngsi.get(f"/entities/{ID}?pick=id,valve").json()) == {"id", "valve"}
    assert set(ngsi.get(f"/entities/{ID}?omit=location,valve").json()) == {
        "id",
        "type",
        "consumption",
    }
    problem(ngsi.get(f"/entities/{ID}?pick=id&omit=valve"), 400, "BadRequestData")
    assert ngsi.get(f"/entities/{ID}?type=WaterMeter").status_code == 200
    problem(ngsi.get(f"/entities/{ID}?type=Building"), 404, "ResourceNotFound")


def test_system_attributes(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    body = ngsi.get(f"/entities/{ID}?options=sysAttrs").json()
    assert body["createdAt"].endswith("Z") and body["modifiedAt"].endswith("Z")
    assert body["consumption"]["createdAt"].endswith("Z")
    assert "createdAt" not in ngsi.get(f"/entities/{ID}").json()


def test_language_property_and_lang(ngsi: Ngsi) -> None:
    name = {"type": "LanguageProperty", "languageMap": {"ru": "Счётчик", "kk": "Есептегіш"}}
    ngsi.create(meter(1, name=name))
    assert ngsi.get(f"/entities/{ID}").json()["name"] == name
    picked = ngsi.get(f"/entities/{ID}?lang=kk").json()["name"]
    assert picked == {"type": "Property", "value": "Есептегіш", "lang": "kk"}
    fallback = ngsi.get(f"/entities/{ID}?lang=fr").json()["name"]
    assert (fallback["value"], fallback["lang"]) == ("Есептегіш", "kk")  # sorted first
    bad = meter(2, name={"type": "LanguageProperty", "languageMap": {"not a tag": "x"}})
    problem(ngsi.post("/entities", json=bad), 400, "BadRequestData")


def test_vocab_json_and_list_attributes(ngsi: Ngsi) -> None:
    ngsi.create(
        meter(
            1,
            state={"type": "VocabProperty", "vocab": "Running"},
            config={"type": "JsonProperty", "json": {"a": [1, {"b": None}]}},
            readings={"type": "ListProperty", "valueList": [1, 2, 3]},
            route={
                "type": "ListRelationship",
                "objectList": [{"object": "urn:ngsi-ld:Pipe:1"}, {"object": "urn:ngsi-ld:Pipe:2"}],
            },
            feeds={"type": "Relationship", "object": "urn:ngsi-ld:Flat:1", "objectType": "Flat"},
        )
    )
    normal = ngsi.get(f"/entities/{ID}").json()
    assert normal["state"] == {"type": "VocabProperty", "vocab": "Running"}
    assert normal["config"] == {"type": "JsonProperty", "json": {"a": [1, {"b": None}]}}
    assert normal["route"]["objectList"][1] == {"object": "urn:ngsi-ld:Pipe:2"}
    assert normal["feeds"]["objectType"] == "Flat"
    simple = ngsi.get(f"/entities/{ID}?options=keyValues").json()
    assert simple["state"] == {"vocab": "Running"}
    assert simple["readings"] == [1, 2, 3]
    assert simple["route"] == ["urn:ngsi-ld:Pipe:1", "urn:ngsi-ld:Pipe:2"]
    concise = ngsi.get(f"/entities/{ID}?format=concise").json()
    assert concise["state"] == {"vocab": "Running"}
    assert (
        ngsi.post("/entities", json={**concise, "id": "urn:ngsi-ld:WaterMeter:2"}).status_code
        == 201
    )
    assert ngsi.get("/entities/urn:ngsi-ld:WaterMeter:2").json()["route"] == normal["route"]


def test_multi_instance_attributes(ngsi: Ngsi) -> None:
    dataset = "urn:ngsi-ld:Dataset:backup"
    ngsi.create(
        meter(
            1,
            consumption=[
                {"type": "Property", "value": 1},
                {"type": "Property", "value": 2, "datasetId": dataset},
            ],
        )
    )
    assert len(ngsi.get(f"/entities/{ID}").json()["consumption"]) == 2
    extra = {"consumption": {"type": "Property", "value": 3, "datasetId": "urn:ngsi-ld:Dataset:x"}}
    assert ngsi.post(f"/entities/{ID}/attrs/", json=extra).status_code == 204
    assert len(ngsi.get(f"/entities/{ID}").json()["consumption"]) == 3
    assert ngsi.delete(f"/entities/{ID}/attrs/consumption?datasetId={dataset}").status_code == 204
    values = [i["value"] for i in ngsi.get(f"/entities/{ID}").json()["consumption"]]
    assert values == [1, 3]
    problem(
        ngsi.delete(f"/entities/{ID}/attrs/consumption?datasetId={dataset}"),
        404,
        "ResourceNotFound",
    )
    assert ngsi.delete(f"/entities/{ID}/attrs/consumption?deleteAll=true").status_code == 204
    assert "consumption" not in ngsi.get(f"/entities/{ID}").json()
    problem(ngsi.delete(f"/entities/{ID}/attrs/consumption"), 404, "ResourceNotFound")
    problem(ngsi.delete(f"/entities/{ID}/attrs/location?deleteAll=yes"), 400, "BadRequestData")


def test_merge_patch(ngsi: Ngsi) -> None:
    ngsi.create(meter(1, valve={"type": "Property", "value": "open"}))
    merge = {"valve": "urn:ngsi-ld:null", "consumption": {"value": 20}, "type": "Asset"}
    response = ngsi.patch(
        f"/entities/{ID}", json=merge, headers={"Content-Type": "application/merge-patch+json"}
    )
    assert response.status_code == 204
    body = ngsi.get(f"/entities/{ID}").json()
    assert "valve" not in body
    assert body["consumption"] == {"type": "Property", "value": 20, "unitCode": "MTQ"}
    assert body["type"] == ["WaterMeter", "Asset"]


def test_put_replaces_the_entity_but_keeps_its_creation_time(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    created = ngsi.get(f"/entities/{ID}?options=sysAttrs").json()["createdAt"]
    response = ngsi.put(f"/entities/{ID}", json={"type": "Tap", "flow": 2})
    assert response.status_code == 204
    assert "content-length" not in response.headers
    body = ngsi.get(f"/entities/{ID}?options=sysAttrs,keyValues").json()
    assert (body["type"], body["flow"], body["createdAt"]) == ("Tap", 2, created)
    assert "consumption" not in body


def test_partial_updates_report_what_they_could_not_do(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    response = ngsi.patch(f"/entities/{ID}/attrs/", json={"consumption": 5, "nope": 1})
    assert response.status_code == 207
    assert response.json()["updated"] == ["consumption"]
    assert response.json()["notUpdated"][0]["attributeName"] == "nope"
    assert response.json()["notUpdated"][0]["reason"]
    kept = ngsi.post(f"/entities/{ID}/attrs?options=noOverwrite", json={"consumption": 9})
    assert kept.status_code == 207
    appended = ngsi.post(f"/entities/{ID}/attrs", json={"type": "Asset", "flow": 1})
    assert appended.status_code == 204
    assert ngsi.get(f"/entities/{ID}").json()["type"] == ["WaterMeter", "Asset"]


def test_counting_and_limits(ngsi: Ngsi) -> None:
    for n in range(1, 4):
        ngsi.create(meter(n))
    counted = ngsi.get("/entities?type=WaterMeter&count=true&limit=2")
    assert counted.headers["ngsild-results-count"] == "3"
    assert len(counted.json()) == 2
    only_count = ngsi.get("/entities?type=WaterMeter&count=true&limit=0")
    assert (only_count.json(), only_count.headers["ngsild-results-count"]) == ([], "3")
    problem(ngsi.get("/entities?type=WaterMeter&limit=0"), 400, "BadRequestData")
    problem(ngsi.get("/entities?type=WaterMeter&limit=100000"), 403, "TooManyResults")


def test_scope(ngsi: Ngsi) -> None:
    ngsi.create(meter(1, scope=["/Kazakhstan/Astana", "/Utilities"]))
    assert ngsi.get(f"/entities/{ID}").json()["scope"] == ["/Kazakhstan/Astana", "/Utilities"]
    problem(ngsi.post("/entities", json=meter(2, scope="Astana")), 400, "BadRequestData")


@pytest.mark.parametrize(
    "entity",
    [
        {"id": "not a uri", "type": "T"},
        {"id": "urn:x:1", "type": "T", "bad name": 1},
        {"id": "urn:x:1", "type": "T", "a(b)": 1},
        {"id": "urn:x:1", "type": "T=1"},
        {"id": "urn:x:1", "type": "T", "p": {"type": "Property", "value": None}},
        {"id": "urn:x:1", "type": "T", "p": {"type": "Nonsense", "value": 1}},
        {
            "id": "urn:x:1",
            "type": "T",
            "location": {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [500, 1]},
            },
        },
    ],
)
def test_bad_entities_are_bad_request_data(ngsi: Ngsi, entity: dict[str, Any]) -> None:
    problem(ngsi.post("/entities", json=entity), 400, "BadRequestData")


def test_iri_names_are_allowed(ngsi: Ngsi) -> None:
    entity = {
        "id": "urn:x:1",
        "type": "https://example.org/T",
        "https://example.org/p": 1,
        "ngsi-ld:default-context/zz": 2,
    }
    assert ngsi.post("/entities", json=entity).status_code == 201
    body = ngsi.get("/entities/urn:x:1").json()
    assert (body["type"], body["https://example.org/p"]["value"], body["zz"]["value"]) == (
        "https://example.org/T",
        1,
        2,
    )


def test_compaction_never_hides_a_different_iri(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    mine = ngsi.get(f"/entities/{ID}", headers={"Accept": "application/ld+json"}).json()
    assert "consumption" in mine
    theirs = {"id": "urn:x:2", "type": "T", "consumption": 1, "@context": CTX}
    ngsi.post("/entities", json=theirs, headers=LD)
    link = ngsi.post("/jsonldContexts", json={"@context": CTX}).headers["location"]
    header = {"Link": f'<http://testserver{link}>; rel="http://www.w3.org/ns/json-ld#context"'}
    body = ngsi.get(f"/entities/{ID}", headers=header).json()
    assert "ngsi-ld:default-context/consumption" in body
    assert "consumption" not in body


def test_bad_urls_and_parameters(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    problem(ngsi.get("/entities/not-a-uri"), 400, "BadRequestData")
    problem(ngsi.delete(f"/entities/{ID}/attrs/a(b"), 400, "BadRequestData")
    problem(ngsi.post("/entities?invalidParams=1", json=meter(2)), 400, "InvalidRequest")
    problem(ngsi.get(f"/entities/{ID}?invalidParams=1"), 400, "InvalidRequest")
    problem(ngsi.patch(f"/entities/{ID}/attrs/consumption", json={}), 400, "BadRequestData")


def test_deep_and_huge_bodies_are_refused(ngsi: Ngsi, client: TestClient) -> None:
    deep: Any = 1
    for _ in range(100):
        deep = {"a": deep}
    problem(ngsi.post("/entities", json={**meter(1), "p": {"value": deep}}), 400, "BadRequestData")
    very_deep = b"[" * 100_000 + b"]" * 100_000
    response = ngsi.post(
        "/entities", content=very_deep, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    limit = client.app.state.qala.settings.max_body_bytes  # type: ignore[attr-defined]
    huge = ngsi.post(
        "/entities", content=b" " * (limit + 1), headers={"Content-Type": "application/json"}
    )
    assert huge.status_code == 413


def test_other_city_cannot_change_our_entity(ngsi: Ngsi, other_ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    problem(other_ngsi.patch(f"/entities/{ID}", json={"consumption": 0}), 404, "ResourceNotFound")
    problem(other_ngsi.put(f"/entities/{ID}", json={"type": "X"}), 404, "ResourceNotFound")
    problem(other_ngsi.post(f"/entities/{ID}/attrs", json={"x": 1}), 404, "ResourceNotFound")
    problem(other_ngsi.delete(f"/entities/{ID}/attrs/consumption"), 404, "ResourceNotFound")
    problem(other_ngsi.delete(f"/entities/{ID}"), 404, "ResourceNotFound")
    assert ngsi.get(f"/entities/{ID}?options=keyValues").json()["consumption"] == 11.0


def test_partial_update_keeps_the_attribute_type(ngsi: Ngsi) -> None:
    ngsi.create(meter(1, feeds={"type": "Relationship", "object": "urn:ngsi-ld:Flat:1"}))
    problem(
        ngsi.patch(
            f"/entities/{ID}/attrs/consumption",
            json={"type": "Relationship", "object": "urn:ngsi-ld:X:1"},
        ),
        400,
        "BadRequestData",
    )
    problem(ngsi.patch(f"/entities/{ID}/attrs/feeds", json={"value": 3}), 400, "BadRequestData")
    assert (
        ngsi.patch(f"/entities/{ID}/attrs/feeds", json={"object": "urn:ngsi-ld:Flat:2"}).status_code
        == 204
    )
    assert ngsi.get(f"/entities/{ID}?options=keyValues").json()["feeds"] == "urn:ngsi-ld:Flat:2"


def test_ngsi_ld_null_deletes_instances(ngsi: Ngsi) -> None:
    dataset = "urn:ngsi-ld:Dataset:1"
    ngsi.create(
        meter(
            1,
            name=[
                {"type": "LanguageProperty", "languageMap": {"ru": "А"}},
                {"type": "LanguageProperty", "languageMap": {"ru": "Б"}, "datasetId": dataset},
            ],
            valve={"type": "Property", "value": "open"},
        )
    )
    null_name = {"type": "LanguageProperty", "languageMap": {"@none": "urn:ngsi-ld:null"}}
    assert ngsi.patch(f"/entities/{ID}/attrs", json={"name": null_name}).status_code == 204
    assert ngsi.get(f"/entities/{ID}").json()["name"]["datasetId"] == dataset
    merged = ngsi.patch(f"/entities/{ID}", json={"name": {**null_name, "datasetId": dataset}})
    assert merged.status_code == 204
    assert "name" not in ngsi.get(f"/entities/{ID}").json()
    partial = ngsi.patch(f"/entities/{ID}/attrs/valve", json={"value": "urn:ngsi-ld:null"})
    assert partial.status_code == 204
    assert "valve" not in ngsi.get(f"/entities/{ID}").json()
    missing = ngsi.patch(f"/entities/{ID}/attrs", json={"valve": "urn:ngsi-ld:null"})
    assert missing.status_code == 207


@pytest.mark.parametrize(
    "query",
    [
        "pick=id,,consumption",
        "pick=id;consumption",
        "pick=location{name",
        "omit=a{}",
        "attrs=consumption&pick=id",
        "pick=consumption&omit=id",
    ],
)
def test_malformed_projections_are_bad_request_data(ngsi: Ngsi, query: str) -> None:
    ngsi.create(meter(1))
    problem(ngsi.get(f"/entities/{ID}?{query}"), 400, "BadRequestData")


def test_projection_of_linked_members_and_nothing_left(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    body = ngsi.get(f"/entities/{ID}?pick=id,location{{name}}").json()
    assert set(body) == {"id", "location"}
    problem(ngsi.get(f"/entities/{ID}?pick=unknown"), 404, "ResourceNotFound")
    problem(ngsi.get(f"/entities/{ID}?omit=id,type,consumption,location"), 404, "ResourceNotFound")


@pytest.mark.parametrize("query", ["format=invalidFormat", "options=keyValues,invalid"])
def test_unknown_formats_and_options_are_invalid_requests(ngsi: Ngsi, query: str) -> None:
    problem(ngsi.get(f"/entities/urn:ngsi-ld:Nope:1?{query}"), 400, "InvalidRequest")


def test_json_ld_keywords_and_the_protected_core_context(ngsi: Ngsi) -> None:
    entity = {
        "@id": ID,
        "@type": "WaterMeter",
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [71.4, 51.1]},
        },
        "@context": {"location": "https://evil.example/location"},
    }
    assert ngsi.post("/entities", json=entity, headers=LD).status_code == 201
    body = ngsi.get(f"/entities/{ID}").json()
    assert (body["id"], body["type"]) == (ID, "WaterMeter")
    assert body["location"]["type"] == "GeoProperty"
    problem(ngsi.post("/entities", json={"id": "urn:x:1", "type": "type"}), 400, "BadRequestData")


@pytest.mark.parametrize(
    ("attribute", "status"),
    [
        ({"type": "Property", "value": 1, "object": "urn:x:1"}, 400),
        ({"type": "Property", "value": 1, "previousValue": 0}, 400),
        ({"type": "Relationship", "object": "urn:x:1", "unitCode": "MTR"}, 400),
        ({"type": "Relationship", "object": "urn:x:1", "value": 1}, 400),
        ({"type": "ListProperty", "valueList": [1], "value": 3}, 400),
        ({"type": "ListRelationship", "objectList": ["not a uri"]}, 400),
        ({"type": "Property", "value": 1, "valueType": "xsd:double"}, 201),
        ({"type": "ListRelationship", "objectList": ["urn:x:1", {"object": "urn:x:2"}]}, 201),
    ],
)
def test_members_an_attribute_type_forbids(
    ngsi: Ngsi, attribute: dict[str, Any], status: int
) -> None:
    response = ngsi.post("/entities", json=meter(1, thing=attribute))
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("name", "status"),
    [("9lives", 400), ("my-attr", 400), ("výška_1", 201), ("Škola", 201), ("a:b", 201)],
)
def test_attribute_names_follow_the_grammar(ngsi: Ngsi, name: str, status: int) -> None:
    assert ngsi.post("/entities", json=meter(1, **{name: 1})).status_code == status
