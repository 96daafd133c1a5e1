"""NGSI-LD entities: create, retrieve in every form, change attributes, delete; per city."""

from __future__ import annotations

from tests.hub.conftest import CORE, Ngsi, meter


def test_create_and_retrieve_normalized(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    response = ngsi.get("/entities/urn:ngsi-ld:WaterMeter:1")
    assert response.status_code == 200
    assert CORE in response.headers["link"]
    body = response.json()
    assert body["type"] == "WaterMeter"
    assert body["consumption"] == {"type": "Property", "value": 11.0, "unitCode": "MTQ"}


def test_key_values_concise_and_ld_json(ngsi: Ngsi) -> None:
    ngsi.create(
        meter(
            1,
            name={"type": "LanguageProperty", "languageMap": {"ru": "Счётчик", "kk": "Есептегіш"}},
        )
    )
    simple = ngsi.get("/entities/urn:ngsi-ld:WaterMeter:1?options=keyValues&lang=kk").json()
    assert simple["consumption"] == 11.0
    assert simple["name"] == "Есептегіш"
    concise = ngsi.get(
        "/entities/urn:ngsi-ld:WaterMeter:1?format=concise",
        headers={"Accept": "application/ld+json"},
    )
    assert concise.headers["content-type"].startswith("application/ld+json")
    assert concise.json()["@context"] == CORE
    assert concise.json()["consumption"] == {"value": 11.0, "unitCode": "MTQ"}


def test_duplicate_and_bad_ids_are_refused(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    again = ngsi.post("/entities", json=meter(1))
    assert again.status_code == 409
    assert again.json()["type"].endswith("/AlreadyExists")
    bad = ngsi.post("/entities", json={"id": "not a uri", "type": "X"})
    assert bad.status_code == 400
    assert bad.json()["type"].endswith("/BadRequestData")
    broken = ngsi.post("/entities", content=b"{oops", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    assert broken.json()["type"].endswith("/InvalidRequest")


def test_update_reports_attributes_it_could_not_update(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    response = ngsi.patch(
        "/entities/urn:ngsi-ld:WaterMeter:1/attrs",
        json={
            "consumption": {"type": "Property", "value": 99},
            "nope": {"type": "Property", "value": 1},
        },
    )
    assert response.status_code == 207
    assert response.json()["updated"] == ["consumption"]
    assert (
        ngsi.get("/entities/urn:ngsi-ld:WaterMeter:1?options=keyValues").json()["consumption"] == 99
    )


def test_other_city_never_sees_the_entity(ngsi: Ngsi, other_ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    assert other_ngsi.get("/entities/urn:ngsi-ld:WaterMeter:1").status_code == 404
    assert other_ngsi.get("/entities?type=WaterMeter").json() == []
    cross = other_ngsi.get(
        "/entities/urn:ngsi-ld:WaterMeter:1", headers={"NGSILD-Tenant": "testville"}
    )
    assert cross.status_code == 403


def test_delete_entity(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    assert ngsi.delete("/entities/urn:ngsi-ld:WaterMeter:1").status_code == 204
    assert ngsi.get("/entities/urn:ngsi-ld:WaterMeter:1").status_code == 404
