"""NGSI-LD subscriptions API: create, read, list, change and delete; validation; per city."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hub.conftest import Ngsi

ENDPOINT = "http://127.0.0.1:9/notify"
SUB = "urn:ngsi-ld:Subscription:meters"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """An NGSI-LD problem (ProblemDetails) with ``status``; returns its body."""
    assert response.status_code == status, response.text
    problem: dict[str, Any] = response.json()
    assert problem["type"].startswith("https://uri.etsi.org/ngsi-ld/errors/")
    assert problem["title"]
    return problem


def subscription(**members: Any) -> dict[str, Any]:
    """A subscription to water meters' consumption."""
    body: dict[str, Any] = {
        "id": SUB,
        "type": "Subscription",
        "entities": [{"type": "WaterMeter"}],
        "watchedAttributes": ["consumption"],
        "notification": {"format": "keyValues", "endpoint": {"uri": ENDPOINT}},
    }
    body.update(members)
    return body


def test_create_then_retrieve_as_given_with_status(ngsi: Ngsi) -> None:
    created = ngsi.post("/subscriptions", json=subscription(description="leaks"))
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/ngsi-ld/v1/subscriptions/{SUB}"
    response = ngsi.get(f"/subscriptions/{SUB}")
    assert response.status_code == 200
    assert response.json() == {
        "id": SUB,
        "type": "Subscription",
        "description": "leaks",
        "entities": [{"type": "WaterMeter"}],
        "watchedAttributes": ["consumption"],
        "notificationTrigger": ["attributeCreated", "attributeUpdated"],
        "notification": {"format": "keyValues", "endpoint": {"uri": ENDPOINT}},
        "status": "active",
    }


def test_id_is_generated_and_duplicates_are_refused(ngsi: Ngsi) -> None:
    body = subscription()
    del body["id"]
    created = ngsi.post("/subscriptions/", json=body)
    assert created.status_code == 201
    location = created.headers["location"]
    assert location.startswith("/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:")
    assert ngsi.get(location.removeprefix("/ngsi-ld/v1")).status_code == 200
    assert ngsi.post("/subscriptions", json=subscription()).status_code == 201
    again = assert_problem(ngsi.post("/subscriptions", json=subscription()), 409)
    assert again["type"].endswith("/AlreadyExists")


def test_names_are_stored_expanded_under_the_creators_context(ngsi: Ngsi) -> None:
    context = {"Meter": "https://example.org/Meter", "flow": "https://example.org/flow"}
    body = subscription(entities=[{"type": "Meter"}], watchedAttributes=["flow"])
    body["@context"] = context
    response = ngsi.post(
        "/subscriptions", json=body, headers={"Content-Type": "application/ld+json"}
    )
    assert response.status_code == 201, response.text
    stored = ngsi.get(f"/subscriptions/{SUB}").json()  # read under the core context only
    assert stored["entities"] == [{"type": "https://example.org/Meter"}]
    assert stored["watchedAttributes"] == ["https://example.org/flow"]


@pytest.mark.parametrize(
    ("members", "field"),
    [
        ({"type": "Nope"}, "type"),
        ({"entities": [{"id": "urn:ngsi-ld:WaterMeter:1"}]}, "entities.type"),
        ({"entities": [], "watchedAttributes": None}, "entities"),
        (
            {"notification": {"endpoint": {"uri": "ftp://example.org/x"}}},
            "notification.endpoint.uri",
        ),
        ({"notification": {"endpoint": {}}}, "notification.endpoint.uri"),
        (
            {"notification": {"format": "x-ngsiv2", "endpoint": {"uri": ENDPOINT}}},
            "notification.format",
        ),
        ({"throttling": -1}, "throttling"),
        ({"timeInterval": 5, "watchedAttributes": None, "throttling": 5}, "throttling"),
        ({"expiresAt": "2000-01-01T00:00:00Z"}, "expiresAt"),
        ({"expiresAt": "tomorrow"}, "expiresAt"),
        ({"watchedAttributes": []}, "watchedAttributes"),
        ({"notificationTrigger": ["entityExploded"]}, "notificationTrigger"),
        ({"isActive": "yes"}, "isActive"),
        ({"colour": "red"}, "colour"),
        ({"q": "consumption>>"}, "q"),
        ({"geoQ": {"geometry": "Point", "coordinates": [1, 2]}}, "geoQ.georel"),
    ],
)
def test_bad_members_are_named(ngsi: Ngsi, members: dict[str, Any], field: str) -> None:
    body = {k: v for k, v in subscription(**members).items() if v is not None}
    problem = assert_problem(ngsi.post("/subscriptions", json=body), 400)
    assert problem["type"].endswith("/BadRequestData")
    assert problem["field"] == field
    assert ngsi.get(f"/subscriptions/{SUB}").status_code == 404


def test_empty_and_broken_bodies(ngsi: Ngsi) -> None:
    empty = assert_problem(ngsi.post("/subscriptions", json={}), 400)
    assert empty["type"].endswith("/BadRequestData")
    broken = ngsi.post("/subscriptions", content=b"{", headers={"Content-Type": "application/json"})
    assert assert_problem(broken, 400)["type"].endswith("/InvalidRequest")


def test_q_and_geo_q_are_accepted_and_echoed(ngsi: Ngsi) -> None:
    geo = {"geometry": "Point", "coordinates": [71.43, 51.13], "georel": "near;maxDistance==500"}
    response = ngsi.post("/subscriptions", json=subscription(q="consumption>50", geoQ=geo))
    assert response.status_code == 201, response.text
    body = ngsi.get(f"/subscriptions/{SUB}").json()
    assert body["q"] == "consumption>50"
    assert body["geoQ"] == geo


def test_list_pages_and_counts(ngsi: Ngsi) -> None:
    for n in range(3):
        ngsi.post("/subscriptions", json=subscription(id=f"{SUB}{n}"))
    page = ngsi.get("/subscriptions?limit=2&offset=1&count=true")
    assert page.status_code == 200
    assert page.headers["NGSILD-Results-Count"] == "3"
    assert [s["id"] for s in page.json()] == [f"{SUB}1", f"{SUB}2"]
    assert_problem(ngsi.get("/subscriptions?limit=0"), 400)


def test_patch_changes_members_and_status(ngsi: Ngsi) -> None:
    ngsi.post("/subscriptions", json=subscription(description="old"))
    paused = ngsi.patch(f"/subscriptions/{SUB}", json={"isActive": False, "description": "new"})
    assert paused.status_code == 204, paused.text
    body = ngsi.get(f"/subscriptions/{SUB}").json()
    assert (body["status"], body["isActive"], body["description"]) == ("paused", False, "new")
    ngsi.patch(
        f"/subscriptions/{SUB}",
        json={"description": None, "isActive": True, "notification": {"format": "concise"}},
    )
    body = ngsi.get(f"/subscriptions/{SUB}").json()
    assert "description" not in body
    assert body["status"] == "active"
    assert body["notification"] == {"format": "concise", "endpoint": {"uri": ENDPOINT}}
    ngsi.patch(f"/subscriptions/{SUB}", json={"expiresAt": "2001-01-01T00:00:00Z"})
    assert ngsi.get(f"/subscriptions/{SUB}").json()["status"] == "expired"


def test_patch_errors(ngsi: Ngsi) -> None:
    ngsi.post("/subscriptions", json=subscription())
    missing = assert_problem(ngsi.patch(f"/subscriptions/{SUB}x", json={"isActive": False}), 404)
    assert missing["type"].endswith("/ResourceNotFound")
    bad_id = assert_problem(ngsi.patch("/subscriptions/not%20a%20uri", json={"q": "a==1"}), 400)
    assert bad_id["type"].endswith("/BadRequestData")
    conflict = ngsi.patch(f"/subscriptions/{SUB}", json={"timeInterval": 10})
    assert assert_problem(conflict, 400)["field"] == "timeInterval"
    assert "timeInterval" not in ngsi.get(f"/subscriptions/{SUB}").json()


def test_delete(ngsi: Ngsi) -> None:
    ngsi.post("/subscriptions", json=subscription())
    assert ngsi.delete(f"/subscriptions/{SUB}").status_code == 204
    assert_problem(ngsi.get(f"/subscriptions/{SUB}"), 404)
    assert_problem(ngsi.delete(f"/subscriptions/{SUB}"), 404)


def test_other_city_cannot_see_change_or_delete(ngsi: Ngsi, other_ngsi: Ngsi) -> None:
    ngsi.post("/subscriptions", json=subscription())
    assert other_ngsi.get(f"/subscriptions/{SUB}").status_code == 404
    assert other_ngsi.get("/subscriptions").json() == []
    assert other_ngsi.patch(f"/subscriptions/{SUB}", json={"isActive": False}).status_code == 404
    assert other_ngsi.delete(f"/subscriptions/{SUB}").status_code == 404
    cross = other_ngsi.get(f"/subscriptions/{SUB}", headers={"NGSILD-Tenant": "testville"})
    assert cross.status_code == 403
    assert ngsi.get(f"/subscriptions/{SUB}").json()["status"] == "active"
    # the same id is free in the other city
    assert other_ngsi.post("/subscriptions", json=subscription()).status_code == 201
