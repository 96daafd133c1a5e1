"""Situational-centre tiles: their values, the tiles API, and a broken tile never breaks a page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qala.core.alerts import Alert
from qala.core.cities import City, CityContext
from qala.core.db import utcnow
from qala.core.modules import Tile, TileData
from tests.conftest import assert_problem

AsRole = Callable[..., dict[str, str]]


def add_alert(
    db: Session, city: City, severity: str = "warning", created_at: dt.datetime | None = None
) -> None:
    db.add(
        Alert(
            city_id=city.id,
            severity=severity,
            message="Test alert",
            event_name="test",
            created_at=created_at or utcnow(),
        )
    )
    db.commit()


def tiles(client: TestClient, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    response = client.get("/api/web/tiles", headers=headers)
    assert response.status_code == 200, response.text
    return {tile["key"]: tile for tile in response.json()}


def test_operator_gets_the_tiles_with_values(
    app: FastAPI, client: TestClient, as_role: AsRole, city: City
) -> None:
    shown = tiles(client, as_role("operator"))
    assert list(shown) == [tile.key for tile in app.state.qala.tiles]
    assert shown["web.population"]["value"] == "50\u202f000"
    assert shown["web.districts"]["value"] == 1
    assert shown["web.alerts_today"]["value"] == 0
    assert shown["web.alerts_today"]["severity"] == "ok"
    assert shown["web.population"]["title"]


def test_tiles_are_titled_in_the_request_language(
    client: TestClient, as_role: AsRole, city: City
) -> None:
    headers = as_role("operator")
    english = tiles(client, {**headers, "Accept-Language": "en"})
    russian = tiles(client, {**headers, "Accept-Language": "ru"})
    assert english["web.population"]["title"] == "Population"
    assert russian["web.population"]["title"] != "Population"


@pytest.mark.parametrize("role", ["citizen", "specialist"])
def test_tiles_api_is_for_operators(client: TestClient, as_role: AsRole, role: str) -> None:
    assert_problem(client.get("/api/web/tiles", headers=as_role(role)), 403)


def test_tiles_of_another_city_are_refused(
    client: TestClient, as_role: AsRole, other_city: City
) -> None:
    headers = {**as_role("operator"), "Qala-City": other_city.slug}
    assert_problem(client.get("/api/web/tiles", headers=headers), 403)
    by_query = {k: v for k, v in as_role("operator").items() if k != "Qala-City"}
    assert_problem(client.get("/api/web/tiles?city=otherton", headers=by_query), 403)


def test_alerts_tile_counts_only_the_citys_alerts_and_flags_critical(
    client: TestClient, db: Session, as_role: AsRole, city: City, other_city: City
) -> None:
    add_alert(db, city)
    add_alert(db, other_city, "critical")
    tile = tiles(client, as_role("operator"))["web.alerts_today"]
    assert (tile["value"], tile["severity"]) == (1, "warning")
    add_alert(db, city, "critical")
    tile = tiles(client, as_role("operator"))["web.alerts_today"]
    assert (tile["value"], tile["severity"]) == (2, "critical")


def test_alerts_today_means_today_in_the_citys_time_zone(
    client: TestClient, db: Session, as_role: AsRole, city: City
) -> None:
    zone = ZoneInfo(city.timezone)
    midnight = utcnow().astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    add_alert(db, city, created_at=(midnight + dt.timedelta(minutes=1)).astimezone(dt.UTC))
    add_alert(db, city, created_at=(midnight - dt.timedelta(minutes=1)).astimezone(dt.UTC))
    assert tiles(client, as_role("operator"))["web.alerts_today"]["value"] == 1


def test_alerts_tile_on_the_dashboard(
    client: TestClient,
    db: Session,
    sign_in: Callable[..., str],
    make_user: Callable[..., Any],
    city: City,
) -> None:
    add_alert(db, city, "critical")
    sign_in(make_user("operator", city).username)
    page = client.get("/c/testville/").text
    assert 'class="tile severity-critical" data-tile="web.alerts_today"' in page


def _broken(db: Session, city: CityContext) -> TileData:
    db.add(Alert(city_id=city.id, severity="info", message="half-written", event_name="test"))
    db.flush()
    raise RuntimeError("tile source is down")


def test_a_broken_tile_shows_empty_and_the_page_still_renders(
    app: FastAPI,
    client: TestClient,
    db: Session,
    as_role: AsRole,
    sign_in: Callable[..., str],
    make_user: Callable[..., Any],
    city: City,
) -> None:
    app.state.qala.tiles.insert(0, Tile("web.broken", "Broken", _broken))
    shown = tiles(client, as_role("operator"))
    assert shown["web.broken"]["value"] is None
    assert shown["web.population"]["value"] == "50\u202f000"  # later tiles still work
    sign_in(make_user("operator", city).username)
    page = client.get("/c/testville/")
    assert page.status_code == 200
    assert 'data-tile="web.broken"' in page.text
    assert "tile source is down" not in page.text
    assert 'data-tile="web.population"' in page.text
    db.expire_all()
    assert db.query(Alert).filter_by(message="half-written").count() == 0
