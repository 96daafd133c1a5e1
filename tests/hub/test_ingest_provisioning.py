"""IoT Agent provisioning (``/iot/services``, ``/iot/devices``): what an operator sees and
the errors that name the bad field; another city sees none of it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from qala.core.cities import City
from tests.conftest import assert_problem
from tests.hub.iot_support import WEATHER_KEY, Iot, weather_group


@pytest.fixture
def iot(client: TestClient, as_role: Callable[..., dict[str, str]], city: City) -> Iot:
    """An operator of ``city`` provisioning devices (fiware-service = the city's slug)."""
    headers = as_role("operator")
    headers.pop("Qala-City", None)
    return Iot(client, {**headers, "fiware-service": city.slug, "fiware-servicepath": "/"})


@pytest.fixture
def other_iot(client: TestClient, as_role: Callable[..., dict[str, str]], other_city: City) -> Iot:
    """An operator of ``other_city``."""
    headers = as_role("operator", other_city)
    headers.pop("Qala-City", None)
    return Iot(client, {**headers, "fiware-service": other_city.slug})


def test_group_is_listed_with_its_mapping(iot: Iot, city: City) -> None:
    iot.provision_weather()
    listed = iot.get("/services").json()
    assert listed["count"] == 1
    (group,) = listed["services"]
    assert group["apikey"] == WEATHER_KEY
    assert group["entity_type"] == "WeatherObserved"
    assert group["service"] == city.slug
    assert group["subservice"] == "/"
    assert group["attributes"][0]["metadata"]["unitCode"]["value"] == "CEL"


def test_duplicate_apikey_is_refused_even_from_another_city(iot: Iot, other_iot: Iot) -> None:
    iot.provision_weather()
    again = assert_problem(other_iot.post("/services", json=weather_group()), 409)
    assert again["name"] == "DUPLICATE_GROUP"
    assert again["field"] == "services[0].apikey"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"apikey": ""}, "services[0].apikey"),
        ({"apikey": "a/b"}, "services[0].apikey"),
        ({"entity_type": None}, "services[0].entity_type"),
        (
            {"attributes": [{"object_id": "t", "name": "bad name", "type": "Number"}]},
            "services[0].attributes[0].name",
        ),
        (
            {"static_attributes": [{"name": "location", "type": "geo:point", "value": "north"}]},
            "services[0].static_attributes[0].value",
        ),
        ({"explicitAttrs": "['t']"}, "services[0].explicitAttrs"),
    ],
)
def test_bad_group_names_the_field(iot: Iot, change: dict[str, object], field: str) -> None:
    group = {**weather_group()["services"][0], **change}
    problem = assert_problem(iot.post("/services", json={"services": [group]}), 400)
    assert problem["name"] == "WRONG_SYNTAX"
    assert problem["field"] == field
    assert iot.get("/services").json()["count"] == 0


def test_body_must_list_services(iot: Iot) -> None:
    problem = assert_problem(iot.post("/services", json={"apikey": "x"}), 400)
    assert problem["field"] == "services"
    broken = iot.post("/services", content=b"{nope", headers={"Content-Type": "application/json"})
    assert assert_problem(broken, 400)["field"] == "body"


def test_update_and_delete_group(iot: Iot) -> None:
    iot.provision_weather()
    changed = iot.put(
        f"/services?apikey={WEATHER_KEY}&resource=/iot/json",
        json={"entity_type": "AirQualityObserved", "explicitAttrs": True},
    )
    assert changed.status_code == 204, changed.text
    (group,) = iot.get("/services").json()["services"]
    assert group["entity_type"] == "AirQualityObserved"
    assert group["explicitAttrs"] is True
    renamed = iot.put(f"/services?apikey={WEATHER_KEY}", json={"apikey": "other"})
    assert assert_problem(renamed, 400)["field"] == "apikey"
    assert iot.delete(f"/services?apikey={WEATHER_KEY}&resource=/iot/json").status_code == 204
    assert iot.get("/services").json()["count"] == 0
    gone = assert_problem(iot.delete(f"/services?apikey={WEATHER_KEY}"), 404)
    assert gone["name"] == "DEVICE_GROUP_NOT_FOUND"
    assert assert_problem(iot.delete("/services"), 400)["field"] == "apikey"


def test_device_lifecycle(iot: Iot, city: City) -> None:
    iot.provision_weather()
    device = {
        "device_id": "ws-001",
        "entity_name": "urn:ngsi-ld:WeatherObserved:centre",
        "apikey": WEATHER_KEY,
        "protocol": "PDI-IoTA-JSON",
        "transport": "MQTT",
        "attributes": [{"object_id": "p", "name": "atmosphericPressure", "type": "Number"}],
    }
    assert iot.post("/devices", json={"devices": [device]}).status_code == 201
    shown = iot.get("/devices/ws-001").json()
    assert shown["entity_name"] == "urn:ngsi-ld:WeatherObserved:centre"
    assert shown["entity_type"] == "WeatherObserved"
    assert shown["service"] == city.slug
    assert shown["transport"] == "MQTT"
    assert iot.get("/devices").json()["count"] == 1
    duplicate = assert_problem(iot.post("/devices", json={"devices": [device]}), 409)
    assert duplicate["name"] == "DUPLICATE_DEVICE_ID"
    update = {"attributes": [{"object_id": "w", "name": "windSpeed", "type": "Number"}]}
    assert iot.put("/devices/ws-001", json=update).status_code == 204
    assert iot.get("/devices/ws-001").json()["attributes"][0]["name"] == "windSpeed"
    moved = iot.put("/devices/ws-001", json={"entity_name": "urn:x:y"})
    assert assert_problem(moved, 400)["field"] == "entity_name"
    assert iot.delete("/devices/ws-001").status_code == 204
    assert assert_problem(iot.get("/devices/ws-001"), 404)["name"] == "DEVICE_NOT_FOUND"


@pytest.mark.parametrize(
    ("device", "status", "field"),
    [
        ({"device_id": "d1", "apikey": "missing"}, 404, "devices[0].apikey"),
        ({"device_id": "d1", "entity_name": "not a uri"}, 400, "devices[0].entity_name"),
        ({"device_id": "d/1"}, 400, "devices[0].device_id"),
        ({"entity_name": "urn:x:1"}, 400, "devices[0].device_id"),
    ],
)
def test_bad_device_names_the_field(
    iot: Iot, device: dict[str, str], status: int, field: str
) -> None:
    iot.provision_weather()
    problem = assert_problem(iot.post("/devices", json={"devices": [device]}), status)
    assert problem["field"] == field
    assert iot.get("/devices").json()["count"] == 0


def test_about_answers_without_credentials(client: TestClient) -> None:
    about = client.get("/iot/about")
    assert about.status_code == 200
    assert about.json()["protocol"] == "IoTA-JSON"


def test_provisioning_needs_an_operator(
    client: TestClient, as_role: Callable[..., dict[str, str]], city: City
) -> None:
    anonymous = client.get("/iot/services", headers={"fiware-service": city.slug})
    assert_problem(anonymous, 401)
    specialist = {**as_role("specialist"), "fiware-service": city.slug}
    assert_problem(client.get("/iot/services", headers=specialist), 403)


def test_other_city_sees_no_groups_or_devices(iot: Iot, other_iot: Iot, city: City) -> None:
    iot.provision_weather()
    assert iot.post("/devices", json={"devices": [{"device_id": "ws-1"}]}).status_code == 201
    assert other_iot.get("/services").json() == {"count": 0, "services": []}
    assert other_iot.get("/devices").json()["count"] == 0
    assert_problem(other_iot.get("/devices/ws-1"), 404)
    cross = other_iot.get("/services", headers={"fiware-service": city.slug})
    assert_problem(cross, 403)
    assert_problem(other_iot.delete(f"/services?apikey={WEATHER_KEY}"), 404)
