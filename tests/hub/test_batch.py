"""NGSI-LD batch operations: create, upsert, update, delete and merge many entities at once,
each entity on its own (207 with per-entity errors), the successful ones committed together."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from qala.hub.ngsild import batch
from qala.hub.ngsild.errors import BadRequestData
from qala.hub.service import Change, Hub
from tests.hub.conftest import Ngsi, meter

LD = {"Content-Type": "application/ld+json"}
CTX = {"kwh": "https://example.org/energy#kwh", "Meter": "https://example.org/energy#Meter"}


def ids(*numbers: int) -> list[str]:
    return [meter(n)["id"] for n in numbers]


def keyvalues(ngsi: Ngsi, entity_id: str) -> Any:
    response = ngsi.get(f"/entities/{entity_id}?options=keyValues")
    return response.json() if response.status_code == 200 else response.status_code


def errors_of(response: Any) -> dict[str, str]:
    assert response.status_code == 207, response.text
    return {e["entityId"]: e["error"]["type"].rsplit("/", 1)[1] for e in response.json()["errors"]}


def test_create_answers_201_with_the_ids(ngsi: Ngsi) -> None:
    response = ngsi.post("/entityOperations/create", json=[meter(1), meter(2)])
    assert response.status_code == 201
    assert response.json() == ids(1, 2)
    assert keyvalues(ngsi, ids(2)[0])["consumption"] == 12.0


def test_one_bad_entity_does_not_block_the_others(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    body = [meter(1), meter(2), {"id": "urn:ngsi-ld:WaterMeter:3"}, meter(2), {"id": "bad id"}]
    response = ngsi.post("/entityOperations/create", json=body)
    assert response.json()["success"] == ids(2)
    assert errors_of(response) == {
        ids(1)[0]: "AlreadyExists",
        ids(3)[0]: "BadRequestData",
        ids(2)[0]: "AlreadyExists",
        "bad id": "BadRequestData",
    }
    problem = response.json()["errors"][0]["error"]
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert keyvalues(ngsi, ids(2)[0])["consumption"] == 12.0
    assert keyvalues(ngsi, ids(3)[0]) == 404


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ([], "BadRequestData"),
        ({"id": "x"}, "BadRequestData"),
        ([meter(1), None], "BadRequestData"),
        (b"[{oops", "InvalidRequest"),
        (b"", "InvalidRequest"),
    ],
)
def test_malformed_batches_are_refused_whole(ngsi: Ngsi, body: Any, kind: str) -> None:
    content = body if isinstance(body, bytes) else None
    json = None if isinstance(body, bytes) else body
    response = ngsi.post(
        "/entityOperations/create",
        json=json,
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["type"].endswith(kind)
    assert keyvalues(ngsi, ids(1)[0]) == 404


def test_batch_size_is_limited(ngsi: Ngsi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "MAX_BATCH", 2)
    response = ngsi.post("/entityOperations/create", json=[meter(1), meter(2), meter(3)])
    assert response.status_code == 400
    assert "at most 2" in response.json()["detail"]


def test_upsert_creates_new_and_replaces_existing(ngsi: Ngsi) -> None:
    ngsi.create(meter(1, extra={"type": "Property", "value": "gone after replace"}))
    new_one = {"id": ids(1)[0], "type": ["WaterMeter", "Asset"], "consumption": 50}
    response = ngsi.post("/entityOperations/upsert", json=[new_one, meter(2)])
    assert response.status_code == 201
    assert response.json() == ids(2)
    replaced = keyvalues(ngsi, ids(1)[0])
    assert replaced == {"id": ids(1)[0], "type": ["WaterMeter", "Asset"], "consumption": 50}
    again = ngsi.post("/entityOperations/upsert?options=replace", json=[new_one, meter(2)])
    assert again.status_code == 204


def test_upsert_update_keeps_attributes_not_given(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    fragment = {"id": ids(1)[0], "type": "WaterMeter", "pressure": 3}
    response = ngsi.post("/entityOperations/upsert?options=update", json=[fragment])
    assert response.status_code == 204
    body = keyvalues(ngsi, ids(1)[0])
    assert (body["consumption"], body["pressure"]) == (11.0, 3)


def test_upsert_applies_repeated_ids_in_order(ngsi: Ngsi) -> None:
    first = {**meter(1), "old": 1}
    second = {"id": ids(1)[0], "type": "WaterMeter", "consumption": 99}
    response = ngsi.post("/entityOperations/upsert", json=[first, second])
    assert response.status_code == 201
    assert response.json() == ids(1)
    assert keyvalues(ngsi, ids(1)[0]) == {"id": ids(1)[0], "type": "WaterMeter", "consumption": 99}


def test_update_appends_and_reports_missing_entities(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    ngsi.create(meter(2))
    fragments = [{"id": i, "consumption": 1, "valve": "open"} for i in ids(1, 2, 3)]
    response = ngsi.post("/entityOperations/update", json=fragments)
    assert errors_of(response) == {ids(3)[0]: "ResourceNotFound"}
    assert response.json()["success"] == ids(1, 2)
    assert keyvalues(ngsi, ids(2)[0])["valve"] == "open"
    assert keyvalues(ngsi, ids(2)[0])["consumption"] == 1


def test_update_no_overwrite_keeps_values_and_adds_new_attributes(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    fragment = {"id": ids(1)[0], "consumption": 1, "valve": "open"}
    response = ngsi.post("/entityOperations/update?options=noOverwrite", json=[fragment])
    assert errors_of(response) == {ids(1)[0]: "BadRequestData"}
    body = keyvalues(ngsi, ids(1)[0])
    assert (body["consumption"], body["valve"]) == (11.0, "open")
    only_new = ngsi.post(
        "/entityOperations/update?options=noOverwrite", json=[{"id": ids(1)[0], "mode": "eco"}]
    )
    assert only_new.status_code == 204


def test_update_adds_types(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    response = ngsi.post("/entityOperations/update", json=[{"id": ids(1)[0], "type": "Asset"}])
    assert response.status_code == 204
    assert keyvalues(ngsi, ids(1)[0])["type"] == ["WaterMeter", "Asset"]
    assert [e["id"] for e in ngsi.get("/entities?type=Asset").json()] == ids(1)


def test_delete_reports_each_id(ngsi: Ngsi) -> None:
    ngsi.create(meter(1))
    ngsi.create(meter(2))
    assert ngsi.post("/entityOperations/delete", json=ids(2)).status_code == 204
    response = ngsi.post("/entityOperations/delete", json=[*ids(1, 1), "urn:ngsi-ld:Nope:1"])
    assert response.json()["success"] == ids(1)
    assert errors_of(response) == {
        ids(1)[0]: "ResourceNotFound",
        "urn:ngsi-ld:Nope:1": "ResourceNotFound",
    }
    assert keyvalues(ngsi, ids(1)[0]) == 404
    refused = ngsi.post("/entityOperations/delete", json=[{"id": ids(1)[0]}])
    assert refused.status_code == 400


def test_merge_merges_and_deletes_with_null(ngsi: Ngsi) -> None:
    ngsi.create(meter(1, valve={"type": "Property", "value": "open"}))
    fragment = {"id": ids(1)[0], "valve": "urn:ngsi-ld:null", "consumption": {"value": 20}}
    response = ngsi.post("/entityOperations/merge", json=[fragment, {"id": ids(5)[0], "x": 1}])
    assert errors_of(response) == {ids(5)[0]: "ResourceNotFound"}
    body = ngsi.get(f"/entities/{ids(1)[0]}").json()
    assert "valve" not in body
    assert body["consumption"] == {"type": "Property", "value": 20, "unitCode": "MTQ"}


def test_each_ld_json_entity_brings_its_own_context(ngsi: Ngsi) -> None:
    good = {"id": "urn:ngsi-ld:Meter:1", "type": "Meter", "kwh": 5, "@context": CTX}
    no_context = {"id": "urn:ngsi-ld:Meter:2", "type": "Meter", "kwh": 5}
    response = ngsi.post("/entityOperations/create", json=[good, no_context], headers=LD)
    assert response.json()["success"] == ["urn:ngsi-ld:Meter:1"]
    assert errors_of(response) == {"urn:ngsi-ld:Meter:2": "BadRequestData"}
    stored = ngsi.get("/entities/urn:ngsi-ld:Meter:1").json()
    assert stored["type"] == "https://example.org/energy#Meter"
    assert "https://example.org/energy#kwh" in stored


def test_context_in_a_json_body_or_with_a_link_is_refused(ngsi: Ngsi) -> None:
    with_context = {"id": "urn:ngsi-ld:Meter:1", "type": "Meter", "@context": CTX}
    response = ngsi.post("/entityOperations/create", json=[with_context])
    assert errors_of(response) == {"urn:ngsi-ld:Meter:1": "BadRequestData"}
    link = '<https://example.org/ctx.jsonld>; rel="http://www.w3.org/ns/json-ld#context"'
    both = ngsi.post("/entityOperations/create", json=[with_context], headers={**LD, "Link": link})
    assert both.status_code == 400
    assert both.json()["type"].endswith("BadRequestData")


def test_unknown_parameters_and_options_are_refused(ngsi: Ngsi) -> None:
    response = ngsi.post("/entityOperations/create?invalidParam=1", json=[meter(1)])
    assert response.status_code == 400
    assert response.json()["type"].endswith("InvalidRequest")
    both = ngsi.post("/entityOperations/upsert?options=replace,update", json=[meter(1)])
    assert both.status_code == 400
    assert (
        ngsi.post(
            "/entityOperations/create", json=[meter(1)], headers={"Content-Type": "text/plain"}
        ).status_code
        == 415
    )


def test_a_failing_entity_is_rolled_back_alone(ngsi: Ngsi, client: TestClient) -> None:
    ngsi.create(meter(1))
    refused = {ids(2)[0]}

    def fussy(_db: Any, change: Change) -> None:
        if change.entity_id in refused:
            raise BadRequestData("the listener refuses this one")

    client.app.state.hub = Hub(listeners=[fussy])  # type: ignore[attr-defined]
    response = ngsi.post("/entityOperations/upsert", json=[meter(1, x=1), meter(2), meter(3)])
    assert errors_of(response) == {ids(2)[0]: "BadRequestData"}
    assert sorted(response.json()["success"]) == ids(1, 3)
    assert keyvalues(ngsi, ids(1)[0])["x"] == 1
    assert keyvalues(ngsi, ids(2)[0]) == 404
    refused = {ids(1)[0]}
    deleting = ngsi.post("/entityOperations/delete", json=ids(1, 3))
    assert errors_of(deleting) == {ids(1)[0]: "BadRequestData"}
    assert keyvalues(ngsi, ids(1)[0])["x"] == 1
    assert keyvalues(ngsi, ids(3)[0]) == 404


def test_other_city_neither_sees_nor_touches_the_batch(ngsi: Ngsi, other_ngsi: Ngsi) -> None:
    assert ngsi.post("/entityOperations/create", json=[meter(1)]).status_code == 201
    assert keyvalues(other_ngsi, ids(1)[0]) == 404
    deleting = other_ngsi.post("/entityOperations/delete", json=ids(1))
    assert errors_of(deleting) == {ids(1)[0]: "ResourceNotFound"}
    assert other_ngsi.post("/entityOperations/create", json=[meter(1)]).status_code == 201
    other_ngsi.post("/entityOperations/update", json=[{"id": ids(1)[0], "consumption": 0}])
    assert keyvalues(ngsi, ids(1)[0])["consumption"] == 11.0


def test_fold_is_a_pure_function() -> None:
    stamp = "2024-01-01T00:00:00.000Z"
    entity = {"id": "urn:x:1", "type": ["T"], "createdAt": stamp, "modifiedAt": stamp, "attrs": {}}
    items = [batch.Item("urn:x:1", entity), batch.Item("urn:x:1", entity)]
    result = batch.fold("create", items, {}, stamp)
    assert result.created == ["urn:x:1"]
    assert [problem.slug for _id, problem in result.errors] == ["AlreadyExists"]
    gone = batch.fold("delete", [batch.Item("urn:x:1")], {"urn:x:1": entity}, stamp)
    assert gone.steps["urn:x:1"].after is None
