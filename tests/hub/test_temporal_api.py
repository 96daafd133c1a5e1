"""The NGSI-LD temporal API: create and extend temporal entities, retrieve and query them with
every timerel, lastN, the simplified and aggregated representations, change and delete
history; history of entity API changes; tenant isolation; bad input is a 400, never a 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.hub.conftest import CORE, Ngsi, meter

VEHICLE: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "temporal_vehicle.json").read_text(encoding="utf-8")
)
ID = VEHICLE["id"]
PATH = f"/temporal/entities/{ID}"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """An NGSI-LD ProblemDetails with ``status`` (sent as application/json)."""
    assert response.status_code == status, response.text
    problem: dict[str, Any] = response.json()
    assert problem["type"].startswith("https://uri.etsi.org/ngsi-ld/errors/")
    assert problem["status"] == status and problem["title"]
    return problem


def created(ngsi: Ngsi, body: dict[str, Any] | None = None) -> None:
    response = ngsi.post("/temporal/entities", json=body or VEHICLE)
    assert response.status_code == 201, response.text


def times(body: dict[str, Any], attr: str) -> list[str]:
    return [instance["observedAt"] for instance in body.get(attr, [])]


def test_create_then_extend_and_retrieve(ngsi: Ngsi) -> None:
    response = ngsi.post("/temporal/entities", json=VEHICLE)
    assert response.status_code == 201
    assert response.headers["location"] == f"/ngsi-ld/v1{PATH}"
    more = {
        "id": ID,
        "type": "Vehicle",
        "speed": [{"type": "Property", "value": 90, "observedAt": "2020-08-01T12:09:00Z"}],
    }
    assert ngsi.post("/temporal/entities", json=more).status_code == 204
    got = ngsi.get(PATH)
    assert got.status_code == 200
    assert CORE in got.headers["link"]
    body = got.json()
    assert body["type"] == "Vehicle"
    assert [i["value"] for i in body["speed"]] == [120, 80, 100, 90]  # oldest first
    ids = [i["instanceId"] for name in ("speed", "fuelLevel") for i in body[name]]
    assert len(set(ids)) == len(ids) and all(i.startswith("urn:ngsi-ld:Instance:") for i in ids)
    fuel = {i["observedAt"]: i.get("datasetId") for i in body["fuelLevel"]}
    assert fuel["2020-08-01T14:07:00Z"] == "urn:ngsi-ld:Dataset:fuel"
    # The entity did not exist: it now does, holding the newest instances.
    current = ngsi.get(f"/entities/{ID}?options=keyValues").json()
    assert current["speed"] == 100  # the second POST only added history


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("timerel=before&timeAt=2020-08-01T12:05:00Z", ["2020-08-01T12:03:00Z"]),
        (
            "timerel=after&timeAt=2020-08-01T12:05:00.000Z",
            ["2020-08-01T12:05:00Z", "2020-08-01T12:07:00Z"],
        ),
        (
            "timerel=between&timeAt=2020-08-01T12:03:00Z&endTimeAt=2020-08-01T12:07:00Z",
            ["2020-08-01T12:03:00Z", "2020-08-01T12:05:00Z"],
        ),
        ("lastN=2", ["2020-08-01T12:05:00Z", "2020-08-01T12:07:00Z"]),
        ("timerel=before&timeAt=2020-08-01T12:06:00%2B00:00&lastN=1", ["2020-08-01T12:05:00Z"]),
    ],
)
def test_every_timerel_and_last_n(ngsi: Ngsi, query: str, expected: list[str]) -> None:
    created(ngsi)
    body = ngsi.get(f"{PATH}?attrs=speed&{query}").json()
    assert times(body, "speed") == expected
    assert "fuelLevel" not in body


def test_simplified_representation(ngsi: Ngsi) -> None:
    created(ngsi)
    body = ngsi.get(f"{PATH}?options=temporalValues&attrs=speed").json()
    assert body["speed"] == {
        "type": "Property",
        "values": [
            [120.0, "2020-08-01T12:03:00Z"],
            [80.0, "2020-08-01T12:05:00Z"],
            [100.0, "2020-08-01T12:07:00Z"],
        ],
    }


def test_aggregated_values_by_hand(ngsi: Ngsi) -> None:
    created(ngsi)
    body = ngsi.get(
        f"{PATH}?options=aggregatedValues&attrs=speed&aggrPeriodDuration=PT1H"
        "&aggrMethods=totalCount,sum,avg,min,max,stddev,sumsq,distinctCount"
    ).json()
    period = ["2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"]  # from the first instance
    speed = body["speed"]
    assert speed["type"] == "Property"
    assert speed["totalCount"] == [[3, *period]]
    assert speed["sum"] == [[300.0, *period]]
    assert speed["avg"] == [[100.0, *period]]
    assert speed["min"] == [[80.0, *period]] and speed["max"] == [[120.0, *period]]
    assert speed["sumsq"] == [[120.0**2 + 80.0**2 + 100.0**2, *period]]
    assert speed["stddev"][0][0] == pytest.approx(20.0)  # sqrt(((20² + 20² + 0²) / 2))
    assert speed["distinctCount"] == [[3, *period]]


def test_aggregation_over_whole_hours_and_days(ngsi: Ngsi) -> None:
    created(ngsi)
    hourly = ngsi.get(
        f"{PATH}?attrs=fuelLevel&aggrMethods=avg,max&aggrPeriodDuration=PT1H"
        "&timerel=after&timeAt=2020-08-01T12:00:00Z"
    ).json()["fuelLevel"]
    default, dataset = sorted(hourly, key=lambda item: "datasetId" in item)
    assert default["avg"] == [
        [67.0, "2020-08-01T12:00:00Z", "2020-08-01T13:00:00Z"],
        [53.0, "2020-08-01T13:00:00Z", "2020-08-01T14:00:00Z"],
    ]
    assert dataset["max"] == [[40.0, "2020-08-01T14:00:00Z", "2020-08-01T15:00:00Z"]]
    daily = ngsi.get(
        f"{PATH}?attrs=speed&options=aggregatedValues&aggrMethods=sum,totalCount"
        "&aggrPeriodDuration=P1D&timerel=between&timeAt=2020-07-31T00:00:00Z"
        "&endTimeAt=2020-08-03T00:00:00Z"
    ).json()["speed"]
    assert daily["sum"] == [[300.0, "2020-08-01T00:00:00Z", "2020-08-02T00:00:00Z"]]
    assert daily["totalCount"] == [[3, "2020-08-01T00:00:00Z", "2020-08-02T00:00:00Z"]]


def test_entity_changes_are_recorded(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    for value in (20, 30):
        patch = {"consumption": {"type": "Property", "value": value, "unitCode": "MTQ"}}
        assert ngsi.patch("/entities/urn:ngsi-ld:WaterMeter:1/attrs", json=patch).status_code == 204
    same = {"consumption": {"type": "Property", "value": 5, "observedAt": "2024-05-01T10:00:00Z"}}
    for _twice in range(2):  # the same observation twice is kept once
        ngsi.patch("/entities/urn:ngsi-ld:WaterMeter:1/attrs", json=same)
    body = ngsi.get("/temporal/entities/urn:ngsi-ld:WaterMeter:1?attrs=consumption").json()
    history = body["consumption"]
    assert [i["value"] for i in history] == [5, 11.0, 20, 30]  # by time: 2024 first
    assert history[0]["observedAt"] == "2024-05-01T10:00:00Z"
    assert "observedAt" not in history[1] and history[2]["unitCode"] == "MTQ"
    assert ngsi.delete("/entities/urn:ngsi-ld:WaterMeter:1/attrs/consumption").status_code == 204
    gone = ngsi.get("/temporal/entities/urn:ngsi-ld:WaterMeter:1?timeproperty=deletedAt").json()
    (marker,) = gone["consumption"]
    assert marker["value"] == "urn:ngsi-ld:null" and "deletedAt" in marker
    assert "location" not in gone  # only deletions are on the deletedAt time line


def test_query_temporal_entities(ngsi: Ngsi) -> None:
    created(ngsi)
    created(ngsi, {**VEHICLE, "id": "urn:ngsi-ld:Vehicle:B2"})
    created(
        ngsi,
        {
            "id": "urn:ngsi-ld:Bus:C3",
            "type": "Bus",
            "speed": {"type": "Property", "value": 50, "observedAt": "2020-08-01T12:04:00Z"},
        },
    )
    response = ngsi.get(
        "/temporal/entities?type=Vehicle&timerel=before"
        "&timeAt=2020-08-01T12:04:00Z&attrs=speed&count=true"
    )
    assert response.status_code == 200
    assert response.headers["NGSILD-Results-Count"] == "2"
    assert [(e["id"], times(e, "speed")) for e in response.json()] == [
        (ID, ["2020-08-01T12:03:00Z"]),
        ("urn:ngsi-ld:Vehicle:B2", ["2020-08-01T12:03:00Z"]),
    ]
    limited = ngsi.get("/temporal/entities?type=Vehicle,Bus&limit=1&offset=2").json()
    assert [e["id"] for e in limited] == ["urn:ngsi-ld:Vehicle:B2"]
    pattern = ngsi.get("/temporal/entities?idPattern=.*B2$&attrs=speed&lastN=1").json()
    assert [times(e, "speed") for e in pattern] == [["2020-08-01T12:07:00Z"]]


def test_query_by_post(ngsi: Ngsi) -> None:
    created(ngsi)
    query = {
        "type": "Query",
        "entities": [{"type": "Vehicle"}],
        "temporalQ": {"timerel": "after", "timeAt": "2020-08-01T12:00:00Z", "lastN": 1},
    }
    response = ngsi.post("/temporal/entityOperations/query", json=query)
    assert response.status_code == 200, response.text
    (entity,) = response.json()
    assert times(entity, "speed") == ["2020-08-01T12:07:00Z"]
    query["temporalQ"] = {
        "timerel": "after",
        "timeAt": "2020-08-01T12:00:00Z",
        "aggrMethods": ["avg"],
        "aggrPeriodDuration": "P1D",
    }
    (aggregated,) = ngsi.post("/temporal/entityOperations/query", json=query).json()
    assert aggregated["speed"]["avg"] == [[100.0, "2020-08-01T12:00:00Z", "2020-08-02T12:00:00Z"]]


def test_append_patch_and_delete_history(ngsi: Ngsi) -> None:
    created(ngsi)
    extra = {"speed": [{"type": "Property", "value": 60, "observedAt": "2020-08-01T12:11:00Z"}]}
    assert ngsi.post(f"{PATH}/attrs", json=extra).status_code == 204
    speed = ngsi.get(f"{PATH}?attrs=speed").json()["speed"]
    assert [i["value"] for i in speed] == [120, 80, 100, 60]
    first = speed[0]["instanceId"]
    changed = ngsi.patch(f"{PATH}/attrs/speed/{first}", json={"value": 140})
    assert changed.status_code == 204, changed.text
    assert ngsi.delete(f"{PATH}/attrs/speed/{speed[1]['instanceId']}").status_code == 204
    hour = ngsi.get(
        f"{PATH}?attrs=speed&aggrMethods=sum,min,totalCount&aggrPeriodDuration=PT1H"
        "&timerel=after&timeAt=2020-08-01T12:00:00Z"
    ).json()["speed"]
    assert [hour["sum"][0][0], hour["min"][0][0], hour["totalCount"][0][0]] == [300.0, 60.0, 3]
    assert ngsi.delete(f"{PATH}/attrs/speed/{speed[1]['instanceId']}").status_code == 404
    fuel = ngsi.delete(f"{PATH}/attrs/fuelLevel?datasetId=urn:ngsi-ld:Dataset:fuel")
    assert fuel.status_code == 204
    assert len(ngsi.get(f"{PATH}?attrs=fuelLevel").json()["fuelLevel"]) == 2
    assert ngsi.delete(PATH).status_code == 204
    assert_problem(ngsi.get(PATH), 404)
    assert ngsi.get(f"/entities/{ID}").status_code == 200  # the current state is kept


def test_other_city_sees_nothing(ngsi: Ngsi, other_ngsi: Ngsi) -> None:
    created(ngsi)
    assert_problem(other_ngsi.get(PATH), 404)
    assert other_ngsi.get("/temporal/entities?type=Vehicle").json() == []
    assert_problem(other_ngsi.delete(PATH), 404)
    cross = other_ngsi.get(PATH, headers={"NGSILD-Tenant": "testville"})
    assert cross.status_code == 403
    assert ngsi.get(PATH).status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("timerel=during&timeAt=2020-08-01T12:00:00Z", "timerel"),
        ("timerel=between&timeAt=2020-08-01T12:00:00Z", "endTimeAt"),
        ("timerel=after&timeAt=2020-08-01", "timeAt"),
        ("timerel=after", "timeAt"),
        ("timeAt=2020-08-01T12:00:00Z", "timerel"),
        ("timerel=between&timeAt=2020-08-02T00:00:00Z&endTimeAt=2020-08-01T00:00:00Z", "endTimeAt"),
        ("lastN=0", "lastN"),
        ("lastN=1.5", "lastN"),
        ("lastN=abc", "lastN"),
        ("timeproperty=sometime", "timeproperty"),
        ("options=aggregatedValues", "aggrMethods"),
        ("aggrMethods=median", "aggrMethods"),
        ("aggrMethods=avg&aggrPeriodDuration=bogus", "aggrPeriodDuration"),
        ("options=fancy", "options"),
    ],
)
def test_bad_queries_are_400(ngsi: Ngsi, query: str, field: str) -> None:
    created(ngsi)
    problem = assert_problem(ngsi.get(f"{PATH}?{query}"), 400)
    assert problem["type"].endswith("/BadRequestData")
    assert problem["field"] == field


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        {"type": "Vehicle", "speed": {"value": 1}},
        {"id": "not a uri", "type": "Vehicle"},
        {"id": ID},
        {"id": ID, "type": "Vehicle", "expiresAt": "urn:ngsi-ld:null"},
        {"id": ID, "type": "Vehicle", "speed": [{"value": 1, "observedAt": "yesterday"}]},
        {"id": ID, "type": "Vehicle", "speed": [{"type": "Relationship", "object": "x y"}]},
        {"id": ID, "type": "Vehicle", "speed": []},
    ],
)
def test_bad_bodies_are_400_and_store_nothing(ngsi: Ngsi, body: Any) -> None:
    assert_problem(ngsi.post("/temporal/entities", json=body), 400)
    assert_problem(ngsi.get(PATH), 404)


def test_bad_paths_and_unknown_things(ngsi: Ngsi) -> None:
    assert_problem(ngsi.get("/temporal/entities/not-a-uri"), 400)
    assert_problem(ngsi.post(f"{PATH}/attrs", json={"speed": {"value": 1}}), 404)
    created(ngsi)
    assert_problem(
        ngsi.patch(f"{PATH}/attrs/speed/urn:ngsi-ld:Instance:42", json={"value": 1}), 404
    )
    assert_problem(ngsi.delete(f"{PATH}/attrs/nothing"), 404)
    assert_problem(ngsi.get(f"{PATH}?attrs=nothing"), 404)
    assert_problem(ngsi.get("/temporal/entities?timerel=after&timeAt=2020-01-01T00:00:00Z"), 400)
    assert_problem(
        ngsi.get(f"/temporal/entities?id={ID}&timerel=after&timeAt=2020-01-01T00:00Z"), 400
    )
    nan = ngsi.post(
        f"{PATH}/attrs",
        content=b'{"speed": {"value": NaN}}',
        headers={"Content-Type": "application/json"},
    )
    assert nan.status_code in (204, 400)
    assert ngsi.get(PATH).status_code == 200  # whatever was kept renders
