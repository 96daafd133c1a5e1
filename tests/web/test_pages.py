"""Dashboard pages: the city list, the citizen page, the situational centre and who sees what."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qala.core.auth import service as auth
from qala.core.auth.models import User
from qala.core.cities import City
from tests.conftest import assert_problem

MakeUser = Callable[..., auth.Principal]
SignIn = Callable[..., str]
NAMES = {"ru": "Тествилль", "kk": "Тестқала", "en": "Testville"}
DISTRICTS = {"ru": "Центр", "kk": "Орталық", "en": "Centre"}


@pytest.fixture
def named_city(db: Session, city: City) -> City:
    """``city`` with a different name in each language."""
    city.name_ru, city.name_kk, city.name_en = NAMES["ru"], NAMES["kk"], NAMES["en"]
    db.commit()
    return city


def map_data(html: str) -> dict[str, Any]:
    """The JSON the page hands to the map script."""
    found = re.search(
        r'<script type="application/json" id="map-data">(.*?)</script>', html, re.DOTALL
    )
    assert found, "no map data on the page"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def tile_keys(html: str) -> list[str]:
    return re.findall(r'data-tile="([^"]+)"', html)


def test_home_lists_every_city(client: TestClient, named_city: City, other_city: City) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "Тествилль" in response.text
    assert "Другой" in response.text
    assert 'href="/c/testville/public"' in response.text
    assert 'href="/c/otherton/public"' in response.text
    assert 'href="/c/testville/"' not in response.text  # no situational centre for strangers


def test_home_offers_the_operator_their_situational_centre_only(
    client: TestClient, sign_in: SignIn, make_user: MakeUser, city: City, other_city: City
) -> None:
    sign_in(make_user("operator", city).username)
    page = client.get("/").text
    assert 'href="/c/testville/"' in page
    assert 'href="/c/otherton/"' not in page


@pytest.mark.parametrize("language", ["ru", "kk", "en"])
def test_citizen_page_renders_for_anyone_in_each_language(
    client: TestClient, named_city: City, language: str
) -> None:
    response = client.get("/c/testville/public", params={"lang": language})
    assert response.status_code == 200
    assert f'<html lang="{language}">' in response.text
    assert f"<h1>{NAMES[language]}</h1>" in response.text
    assert 'id="map"' in response.text
    data = map_data(response.text)
    assert data["centre"] == [51.15, 71.45]
    assert data["districts"]["type"] == "FeatureCollection"
    (district,) = data["districts"]["features"]
    assert district["geometry"]["type"] == "Polygon"
    assert district["properties"]["name"] == DISTRICTS[language]
    assert 'data-testid="sign-in-link"' in response.text


def test_citizen_page_shows_only_public_tiles(app: FastAPI, client: TestClient, city: City) -> None:
    page = client.get("/c/testville/public").text
    public = [tile.key for tile in app.state.qala.tiles if tile.public]
    assert tile_keys(page) == public
    assert {"web.population", "web.districts"} <= set(public)
    assert "web.alerts_today" not in public
    assert "50\u202f000" in page


def test_unknown_city_page_is_404(client: TestClient, city: City) -> None:
    assert_problem(client.get("/c/nowhere/public"), 404)
    assert_problem(client.get("/c/nowhere/"), 404)


def test_situational_centre_sends_anonymous_visitors_to_sign_in(
    client: TestClient, city: City
) -> None:
    response = client.get("/c/testville/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=/c/testville/"


@pytest.mark.parametrize("role", ["citizen", "specialist"])
def test_situational_centre_sends_residents_to_the_citizen_page(
    client: TestClient, sign_in: SignIn, make_user: MakeUser, city: City, role: str
) -> None:
    sign_in(make_user(role, city).username)
    response = client.get("/c/testville/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/c/testville/public"


def test_situational_centre_renders_for_an_operator(
    app: FastAPI, client: TestClient, sign_in: SignIn, make_user: MakeUser, city: City
) -> None:
    principal = make_user("operator", city)
    sign_in(principal.username)
    response = client.get("/c/testville/")
    assert response.status_code == 200
    page = response.text
    assert 'id="map"' in page
    assert 'data-testid="alerts"' in page
    assert 'data-city="testville"' in page
    assert tile_keys(page) == [tile.key for tile in app.state.qala.tiles]
    assert "web.alerts_today" in tile_keys(page)
    assert map_data(page)["districts"]["features"][0]["id"] == "centre"
    assert f'data-testid="username">{principal.username}<' in page


def test_operator_signs_in_straight_to_the_situational_centre(
    client: TestClient, make_user: MakeUser, city: City
) -> None:
    principal = make_user("operator", city)
    response = client.post(
        "/sign-in", data={"username": principal.username, "password": "correct-horse-battery"}
    )
    assert response.status_code == 200
    assert str(response.url).endswith("/c/testville/")
    assert 'data-testid="alerts"' in response.text


def test_another_citys_situational_centre_sends_the_operator_to_its_citizen_page(
    client: TestClient, sign_in: SignIn, make_user: MakeUser, city: City, other_city: City
) -> None:
    sign_in(make_user("operator", city).username)
    response = client.get("/c/otherton/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/c/otherton/public"


def test_language_switch_is_remembered_for_the_signed_in_user(
    client: TestClient, db: Session, sign_in: SignIn, make_user: MakeUser, city: City
) -> None:
    principal = make_user("operator", city)
    sign_in(principal.username)
    assert client.get("/c/testville/?lang=kk").status_code == 200
    db.expire_all()
    user = db.get(User, principal.user_id)
    assert user is not None
    assert user.language == "kk"
    client.cookies.clear()
    client.post(
        "/sign-in", data={"username": principal.username, "password": "correct-horse-battery"}
    )
    assert '<html lang="kk">' in client.get("/c/testville/public").text
