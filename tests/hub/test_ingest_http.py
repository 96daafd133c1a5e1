"""Measurements over HTTP (``POST /iot/json?k=&i=``): the device's entity follows them, a bad
measurement is refused naming its field and changes nothing, and an apikey writes only into
its own city."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from qala.core.cities import City
from tests.conftest import assert_problem
from tests.hub.conftest import Ngsi
from tests.hub.iot_support import WEATHER_KEY, Iot, weather_group

ENTITY = "/entities/urn:ngsi-ld:WeatherObserved:ws-001"


@pytest.fixture
def iot(client: TestClient, as_role: Callable[..., dict[str, str]], city: City) -> Iot:
    """An operator of ``city`` with the weather group provisioned."""
    headers = as_role("operator")
    headers.pop("Qala-City", None)
    iot = Iot(client, {**headers, "fiware-service": city.slug})
    iot.provision_weather()
    return iot


def test_measure_updates_the_entity_with_units_and_time(iot: Iot, ngsi: Ngsi) -> None:
    response = iot.measure(
        "ws-001", {"t": 21.5, "h": "0.4", "s": "ok", "TimeInstant": "2026-03-01T10:00:00+05:00"}
    )
    assert response.status_code == 200, response.text
    entity = ngsi.get(ENTITY).json()
    assert entity["type"] == "WeatherObserved"
    assert entity["temperature"] == {
        "type": "Property",
        "value": 21.5,
        "unitCode": "CEL",
        "observedAt": "2026-03-01T05:00:00.000Z",
    }
    assert entity["relativeHumidity"]["value"] == 0.4
    assert entity["status"]["value"] == "ok"
    assert entity["source"]["value"] == "akimat weather network"


def test_t_parameter_and_arrays_of_measures(iot: Iot, ngsi: Ngsi) -> None:
    assert iot.measure("ws-001", {"t": 1}, t="2026-03-01T00:00:00Z").status_code == 200
    observed = ngsi.get(ENTITY).json()["temperature"]["observedAt"]
    assert observed == "2026-03-01T00:00:00.000Z"
    batch = [
        {"t": 2, "TimeInstant": "2026-03-01T01:00:00Z"},
        {"t": 3, "TimeInstant": "2026-03-01T02:00:00Z"},
    ]
    assert iot.measure("ws-001", batch).status_code == 200
    assert ngsi.get(ENTITY + "?options=keyValues").json()["temperature"] == 3


def test_late_and_duplicate_measures_do_not_roll_the_entity_back(iot: Iot, ngsi: Ngsi) -> None:
    latest = {"t": 5, "TimeInstant": "2026-03-01T05:00:00Z"}
    assert iot.measure("ws-001", latest).status_code == 200
    before = ngsi.get(ENTITY + "?options=sysAttrs").json()
    assert iot.measure("ws-001", latest).status_code == 200
    assert iot.measure("ws-001", {"t": 4, "TimeInstant": "2026-03-01T04:00:00Z"}).status_code == 200
    after = ngsi.get(ENTITY + "?options=sysAttrs").json()
    assert after["temperature"]["value"] == 5
    assert after["temperature"]["modifiedAt"] == before["temperature"]["modifiedAt"]


def test_unknown_device_is_autoprovisioned(iot: Iot, ngsi: Ngsi) -> None:
    response = iot.measure("ws-new", {"t": 7, "pm25": 12, "lat": 51.13, "lon": 71.43})
    assert response.status_code == 200, response.text
    entity = ngsi.get("/entities/urn:ngsi-ld:WeatherObserved:ws-new").json()
    assert entity["pm25"]["value"] == 12
    assert entity["location"]["type"] == "GeoProperty"
    assert entity["location"]["value"] == {"type": "Point", "coordinates": [71.43, 51.13]}
    assert "lat" not in entity
    near = ngsi.get(
        "/entities?type=WeatherObserved&georel=near;maxDistance==500"
        "&geometry=Point&coordinates=[71.431,51.131]"
    ).json()
    assert [item["id"] for item in near] == ["urn:ngsi-ld:WeatherObserved:ws-new"]
    (device,) = iot.get("/devices").json()["devices"]
    assert device["device_id"] == "ws-new"
    assert device["entity_name"] == "urn:ngsi-ld:WeatherObserved:ws-new"


def test_single_attribute_route(iot: Iot, ngsi: Ngsi) -> None:
    response = iot.client.post(
        "/iot/json/attrs/t",
        params={"k": WEATHER_KEY, "i": "ws-001"},
        content=b"19.25",
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 200, response.text
    assert ngsi.get(ENTITY + "?options=keyValues").json()["temperature"] == 19.25


@pytest.mark.parametrize(
    ("body", "params", "status", "field"),
    [
        (b"{not json", {}, 400, "body"),
        (b'"just text"', {}, 400, "body"),
        (b'{"t": "warm"}', {}, 400, "temperature"),
        (b'{"t": 1, "TimeInstant": "yesterday"}', {}, 400, "TimeInstant"),
        (b'{"t": 1}', {"t": "soon"}, 400, "t"),
        (b'{"bad key": 1}', {}, 400, "bad key"),
        (b'{"t": 1}', {"k": ""}, 400, "k"),
        (b'{"t": 1}', {"i": ""}, 400, "i"),
        (b'{"t": 1}', {"k": "no-such-key"}, 404, "k"),
    ],
)
def test_bad_measure_is_refused_and_changes_nothing(
    iot: Iot, ngsi: Ngsi, body: bytes, params: dict[str, str], status: int, field: str
) -> None:
    query = {"k": WEATHER_KEY, "i": "ws-001", **params}
    response = iot.client.post(
        "/iot/json", params=query, content=body, headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, status)
    assert problem["field"] == field
    assert ngsi.get(ENTITY).status_code == 404
    assert iot.get("/devices").json()["count"] == 0


def test_unknown_apikey_answers_like_the_iot_agent(iot: Iot) -> None:
    problem = assert_problem(iot.measure("ws-001", {"t": 1}, key="nope"), 404)
    assert problem["name"] == "DEVICE_GROUP_NOT_FOUND"


def test_explicit_attrs_and_closed_groups(iot: Iot, ngsi: Ngsi) -> None:
    closed = {"explicitAttrs": True, "autoprovision": False}
    assert iot.put(f"/services?apikey={WEATHER_KEY}", json=closed).status_code == 204
    stranger = assert_problem(iot.measure("ws-001", {"t": 1}), 404)
    assert stranger["name"] == "DEVICE_NOT_FOUND"
    assert iot.post("/devices", json={"devices": [{"device_id": "ws-001"}]}).status_code == 201
    only_unknown = assert_problem(iot.measure("ws-001", {"wind": 3}), 400)
    assert only_unknown["field"] == "wind"
    assert iot.measure("ws-001", {"t": 2, "wind": 3}).status_code == 200
    entity = ngsi.get(ENTITY + "?options=keyValues").json()
    assert entity["temperature"] == 2
    assert "wind" not in entity


def test_apikey_writes_only_into_its_own_city(
    iot: Iot, ngsi: Ngsi, other_ngsi: Ngsi, other_city: City
) -> None:
    assert iot.measure("ws-001", {"t": 1}).status_code == 200
    assert other_ngsi.get(ENTITY).status_code == 404
    assert other_ngsi.get("/entities?type=WeatherObserved").json() == []
    elsewhere = iot.client.post(
        "/iot/json",
        params={"k": WEATHER_KEY, "i": "ws-002"},
        content=b'{"t": 1}',
        headers={"Content-Type": "application/json", "fiware-service": other_city.slug},
    )
    assert_problem(elsewhere, 404)
    assert other_ngsi.get("/entities/urn:ngsi-ld:WeatherObserved:ws-002").status_code == 404
    assert ngsi.get("/entities/urn:ngsi-ld:WeatherObserved:ws-002").status_code == 404


def test_group_of_another_city_cannot_be_reused(
    iot: Iot, client: TestClient, as_role: Callable[..., dict[str, str]], other_city: City
) -> None:
    headers = {**as_role("operator", other_city), "fiware-service": other_city.slug}
    device = {"device_id": "spy", "apikey": WEATHER_KEY}
    response = client.post("/iot/devices", json={"devices": [device]}, headers=headers)
    assert_problem(response, 404)
    assert client.post("/iot/services", json=weather_group(), headers=headers).status_code == 409
