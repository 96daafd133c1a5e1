"""The public city API: the list of cities, one city, its districts as GeoJSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qala.core.auth import service as auth
from qala.core.auth.models import User
from qala.core.cities import City, District
from tests.conftest import SQUARE, assert_problem


def test_city_list_shows_every_city_by_name(
    client: TestClient, city: City, other_city: City
) -> None:
    body = client.get("/api/cities").json()
    assert [item["slug"] for item in body] == ["otherton", "testville"]  # Другой < Тествилль
    testville = body[1]
    assert testville["name_ru"] == "Тествилль"
    assert testville["population"] == 50_000
    assert testville["centre"] == [51.15, 71.45]
    assert testville["bounds"] == [71.40, 51.10, 71.50, 51.20]


def test_one_city(client: TestClient, city: City) -> None:
    response = client.get("/api/cities/testville")
    assert response.status_code == 200
    assert response.json()["slug"] == "testville"
    assert response.json()["timezone"] == "Asia/Almaty"


@pytest.mark.parametrize("path", ["/api/cities/nowhere", "/api/cities/nowhere/districts"])
def test_unknown_city_is_404_problem(client: TestClient, city: City, path: str) -> None:
    problem = assert_problem(client.get(path), 404)
    assert "nowhere" in problem["detail"]


def _check_feature_collection(body: dict[str, Any]) -> None:
    """RFC 7946: a FeatureCollection of Features with geometry and properties."""
    assert body["type"] == "FeatureCollection"
    assert isinstance(body["features"], list)
    for feature in body["features"]:
        assert feature["type"] == "Feature"
        assert isinstance(feature["properties"], dict)
        geometry = feature["geometry"]
        assert geometry["type"] in {"Polygon", "MultiPolygon"}
        rings = (
            geometry["coordinates"]
            if geometry["type"] == "Polygon"
            else [ring for polygon in geometry["coordinates"] for ring in polygon]
        )
        for ring in rings:
            assert len(ring) >= 4
            assert ring[0] == ring[-1]  # closed
            for lon, lat in ring:  # longitude first
                assert -180 <= lon <= 180
                assert -90 <= lat <= 90


def test_districts_are_a_geojson_feature_collection(client: TestClient, city: City) -> None:
    response = client.get("/api/cities/testville/districts")
    assert response.status_code == 200
    body = response.json()
    _check_feature_collection(body)
    assert len(body["features"]) == 1
    feature = body["features"][0]
    assert feature["geometry"] == SQUARE
    assert feature["properties"] == {"slug": "centre", "name": "Центр"}


def test_districts_belong_to_their_city_only(
    client: TestClient, db: Session, city: City, other_city: City
) -> None:
    db.add(
        District(
            city_id=other_city.id,
            slug="north",
            name_ru="Север",
            name_kk="Солтүстік",
            name_en="North",
            geometry=SQUARE,
        )
    )
    db.commit()
    mine = client.get("/api/cities/testville/districts").json()["features"]
    theirs = client.get("/api/cities/otherton/districts").json()["features"]
    assert [f["id"] for f in mine] == ["centre"]
    assert sorted(f["id"] for f in theirs) == ["centre", "north"]


DISTRICT_NAMES = {"ru": "Центр", "kk": "Орталық", "en": "Centre"}


@pytest.mark.parametrize(
    ("request_language", "language"),
    [
        ({"params": {"lang": "kk"}}, "kk"),
        ({"params": {"lang": "en"}}, "en"),
        ({"headers": {"Accept-Language": "kk"}}, "kk"),
        ({"headers": {"Accept-Language": "en"}}, "en"),
        ({}, "ru"),
    ],
)
def test_district_names_are_in_the_language_the_response_declares(
    client: TestClient, city: City, request_language: dict[str, dict[str, str]], language: str
) -> None:
    path = "/api/cities/testville/districts"
    response = client.get(path, **request_language)  # type: ignore[arg-type]
    assert response.headers["content-language"] == language
    assert response.json()["features"][0]["properties"]["name"] == DISTRICT_NAMES[language]


def test_modules_of_a_city_are_public_and_follow_its_switches(
    client: TestClient, db: Session, city: City
) -> None:
    everything = client.get("/api/modules", headers={"Qala-City": "testville"})
    assert everything.status_code == 200
    assert {m["name"] for m in everything.json()} >= {"web"}
    assert all(m["enabled"] for m in everything.json())
    city.enabled_modules = ["web"]
    db.commit()
    switched = client.get("/api/modules", params={"city": "testville"}).json()
    assert {m["name"]: m["enabled"] for m in switched}["web"] is True
    assert [m["name"] for m in switched if not m["enabled"]] == [
        m["name"] for m in switched if m["name"] != "web"
    ]


def test_modules_need_a_known_city(client: TestClient, city: City) -> None:
    problem = assert_problem(client.get("/api/modules"), 400)
    assert [error["field"] for error in problem["errors"]] == ["city"]
    assert_problem(client.get("/api/modules", headers={"Qala-City": "nowhere"}), 404)


def test_departments_are_the_callers_citys(
    client: TestClient, as_role: Callable[..., dict[str, str]], city: City, other_city: City
) -> None:
    response = client.get("/api/departments", headers=as_role("citizen"))
    assert response.status_code == 200
    (department,) = response.json()
    assert department["slug"] == "housing"
    theirs = client.get("/api/departments", headers=as_role("citizen", other_city)).json()
    assert theirs[0]["id"] != department["id"]


def test_a_caller_of_one_city_needs_no_city_header(
    client: TestClient, as_role: Callable[..., dict[str, str]], city: City
) -> None:
    headers = {k: v for k, v in as_role("citizen").items() if k != "Qala-City"}
    assert client.get("/api/departments", headers=headers).status_code == 200


def test_a_caller_of_several_cities_must_say_which(
    client: TestClient,
    db: Session,
    make_user: Callable[..., auth.Principal],
    city: City,
    other_city: City,
) -> None:
    principal = make_user("operator", city)
    user = db.get(User, principal.user_id)
    assert user is not None
    auth.set_role(db, user, other_city.id, "citizen")
    raw, _token = auth.issue_token(db, user, kind="bearer", max_age=60)
    db.commit()
    bearer = {"Authorization": f"Bearer {raw}"}
    problem = assert_problem(client.get("/api/departments", headers=bearer), 400)
    assert [error["field"] for error in problem["errors"]] == ["city"]
    assert (
        client.get("/api/alerts", headers={**bearer, "Qala-City": "testville"}).status_code == 200
    )
    assert_problem(client.get("/api/alerts", headers={**bearer, "Qala-City": "otherton"}), 403)


def test_platform_admin_administers_every_city(
    client: TestClient,
    db: Session,
    make_user: Callable[..., auth.Principal],
    city: City,
    other_city: City,
) -> None:
    user = db.get(User, make_user(None, admin=True).user_id)
    assert user is not None
    raw, _token = auth.issue_token(db, user, kind="bearer", max_age=60)
    db.commit()
    bearer = {"Authorization": f"Bearer {raw}"}
    for slug in ("testville", "otherton"):
        assert client.get("/api/users", headers={**bearer, "Qala-City": slug}).status_code == 200
    assert_problem(client.get("/api/users", headers=bearer), 400)


def test_city_admin_switches_a_module_off_and_on(
    client: TestClient, as_role: Callable[..., dict[str, str]], city: City
) -> None:
    headers = as_role("city_admin")
    off = client.put("/api/modules/hub", json={"enabled": False}, headers=headers)
    assert off.status_code == 200
    listed = client.get("/api/modules", params={"city": city.slug}).json()
    assert {m["name"]: m["enabled"] for m in listed}["hub"] is False
    client.put("/api/modules/hub", json={"enabled": True}, headers=headers)
    listed = client.get("/api/modules", params={"city": city.slug}).json()
    assert {m["name"]: m["enabled"] for m in listed}["hub"] is True


def test_shell_cannot_be_switched_off_and_operators_cannot_switch(
    client: TestClient, as_role: Callable[..., dict[str, str]]
) -> None:
    assert (
        client.put(
            "/api/modules/web", json={"enabled": False}, headers=as_role("city_admin")
        ).status_code
        == 409
    )
    assert (
        client.put(
            "/api/modules/nosuch", json={"enabled": False}, headers=as_role("city_admin")
        ).status_code
        == 404
    )
    assert (
        client.put(
            "/api/modules/hub", json={"enabled": False}, headers=as_role("operator")
        ).status_code
        == 403
    )
