"""The utilities API: roles (specialists read, operators write, city admins set norms),
problems naming the field, import and readings reports, consumption, incidents, the map, and
another city that sees and changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qala.core.cities import City
from tests.conftest import assert_problem

Headers = dict[str, str]
API = "/api/utilities"


@pytest.fixture
def operator(as_role: Callable[..., Headers]) -> Headers:
    return as_role("operator")


def make_building(client: TestClient, headers: Headers, code: str = "B1") -> dict[str, Any]:
    body = {
        "code": code,
        "address": "Abay avenue 10",
        "district": "centre",
        "lat": 51.15,
        "lon": 71.45,
        "residents": 12,
    }
    response = client.post(f"{API}/buildings", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def make_meter(client: TestClient, headers: Headers, **body: Any) -> dict[str, Any]:
    response = client.post(f"{API}/meters", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_roles_read_write_and_admin(
    client: TestClient, as_role: Callable[..., Headers], operator: Headers
) -> None:
    building = make_building(client, operator)
    assert building["district"] == "centre" and building["meters"] == 0
    specialist = as_role("specialist")
    listed = client.get(f"{API}/buildings", headers=specialist).json()
    assert listed["total"] == 1 and listed["items"][0]["code"] == "B1"
    assert_problem(
        client.post(f"{API}/buildings", json={"code": "B2", "address": "x"}, headers=specialist),
        403,
    )
    assert_problem(client.get(f"{API}/buildings", headers=as_role("citizen")), 403)
    norm = {"resource": "hot_water", "per_resident_month": 2.5}
    assert_problem(client.put(f"{API}/norms", json=norm, headers=operator), 403)
    saved = client.put(f"{API}/norms", json=norm, headers=as_role("city_admin"))
    assert saved.status_code == 200 and saved.json()["per_resident_month"] == 2.5
    norms = {n["resource"]: n for n in client.get(f"{API}/norms", headers=specialist).json()}
    assert (
        norms["hot_water"]["default"] is False and norms["cold_water"]["per_resident_month"] == 3.9
    )


def test_bad_input_names_the_field(client: TestClient, operator: Headers) -> None:
    building = make_building(client, operator)
    bad = client.post(
        f"{API}/meters", json={"serial": "A 1", "resource": "steam"}, headers=operator
    )
    fields = {e["field"] for e in assert_problem(bad, 422)["errors"]}
    assert fields == {"serial", "resource"}
    rule = client.post(
        f"{API}/meters",
        json={"serial": "A1", "resource": "heat", "level": "apartment"},
        headers=operator,
    )
    assert assert_problem(rule, 422)["errors"][0]["field"] == "building_id"
    dup = client.post(f"{API}/buildings", json={"code": "B1", "address": "again"}, headers=operator)
    assert assert_problem(dup, 409)["errors"] == [{"field": "code"}]
    nowhere = client.patch(
        f"{API}/buildings/{building['id']}", json={"district": "nowhere"}, headers=operator
    )
    assert assert_problem(nowhere, 422)["errors"][0]["field"] == "district"
    long = client.get(
        f"{API}/consumption",
        params={"grain": "hour", "start": "2025-01-01T00:00:00Z", "end": "2025-06-01T00:00:00Z"},
        headers=operator,
    )
    assert assert_problem(long, 422)["errors"][0]["field"] == "start"
    assert_problem(client.get(f"{API}/meters/999999", headers=operator), 404)


def test_import_reports_rows_and_readings_feed_consumption(
    client: TestClient, operator: Headers
) -> None:
    content = "code,address,residents\nB1,Abay avenue 10,12\nB2,,5\n"
    report = client.post(
        f"{API}/import/buildings", json={"content": content}, headers=operator
    ).json()
    assert (report["created"], report["rejected"]) == (1, 1)
    assert report["errors"] == [
        {"row": 2, "field": "address", "message": report["errors"][0]["message"]}
    ]
    meters = "serial,resource,level,building_code\nIN-1,cold_water,building,B1\n"
    assert (
        client.post(f"{API}/import/meters", json={"content": meters}, headers=operator).json()[
            "created"
        ]
        == 1
    )
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    readings = [
        {"meter": "IN-1", "at": (start + dt.timedelta(hours=h)).isoformat(), "index": 10 + 2 * h}
        for h in range(5)
    ]
    readings.append({"meter": "IN-1", "at": start.isoformat(), "index": -1})
    result = client.post(f"{API}/readings", json={"readings": readings}, headers=operator).json()
    assert (result["accepted"], result["rejected"]) == (5, 1)
    assert result["errors"][0]["row"] == 6
    series = client.get(
        f"{API}/consumption",
        params={"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat()},
        headers=operator,
    ).json()
    assert series["total"] == 8.0 and series["unit"] == "m³" and series["residents"] == 12
    assert series["points"][0]["norm"] > 0


def test_incident_workflow_logs_who_did_what(
    client: TestClient, operator: Headers, as_role: Callable[..., Headers]
) -> None:
    building = make_building(client, operator)
    meter = make_meter(
        client,
        operator,
        serial="IN-1",
        resource="cold_water",
        level="building",
        building_id=building["id"],
    )
    opened = client.post(
        f"{API}/incidents",
        json={
            "kind": "burst",
            "title": "Water in the basement",
            "building_id": building["id"],
            "meter_ids": [meter["id"]],
        },
        headers=operator,
    )
    assert opened.status_code == 201
    incident = opened.json()
    assert incident["meter_ids"] == [meter["id"]] and incident["lat"] == 51.15
    url = f"{API}/incidents/{incident['id']}"
    assert (
        client.post(f"{url}/acknowledge", json={"note": "crew sent"}, headers=operator).json()[
            "status"
        ]
        == "acknowledged"
    )
    comment = client.post(f"{url}/comments", json={"text": "valve closed"}, headers=operator)
    assert comment.status_code == 201
    assert_problem(client.post(f"{url}/resolve", json={}, headers=as_role("specialist")), 403)
    resolved = client.post(f"{url}/resolve", json={"note": "fixed"}, headers=operator).json()
    assert resolved["status"] == "resolved"
    actions = [(e["action"], e["actor"].startswith("user")) for e in resolved["events"]]
    assert actions == [
        ("opened", True),
        ("acknowledged", True),
        ("commented", True),
        ("resolved", True),
    ]
    assert assert_problem(client.post(f"{url}/resolve", json={}, headers=operator), 409)
    listed = client.get(f"{API}/incidents", params={"status": "resolved"}, headers=operator).json()
    assert listed["total"] == 1
    feed = client.get("/api/alerts", headers=operator).json()
    assert [(a["severity"], a["link"]) for a in feed] == [
        ("warning", f"/c/testville/utilities?incident={incident['id']}")
    ]  # opening raised one alert on the dashboard feed; resolving none
    features = client.get(f"{API}/map", headers=operator).json()["features"]
    assert [f["properties"]["kind"] for f in features] == ["building"]  # resolved: off the map


def test_other_city_sees_and_changes_nothing(
    client: TestClient, operator: Headers, as_role: Callable[..., Headers], other_city: City
) -> None:
    building = make_building(client, operator)
    theirs = as_role("operator", other_city)
    assert client.get(f"{API}/buildings", headers=theirs).json() == {"items": [], "total": 0}
    assert_problem(client.get(f"{API}/buildings/{building['id']}", headers=theirs), 404)
    assert_problem(client.delete(f"{API}/buildings/{building['id']}", headers=theirs), 404)
    meter = {"serial": "X1", "resource": "heat", "level": "building", "building_id": building["id"]}
    wrong = client.post(f"{API}/meters", json=meter, headers=theirs)
    assert assert_problem(wrong, 422)["errors"][0]["field"] == "building_id"
    assert client.get(f"{API}/buildings/{building['id']}", headers=operator).status_code == 200
