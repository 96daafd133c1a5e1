"""The utilities page and tiles: who may see and act, charts drawn as SVG, incident actions
through forms (CSRF-checked), the situational-centre tiles."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qala.core.auth import service as auth
from qala.core.cities import City, CityContext
from qala.utilities import incidents, pages
from qala.utilities.charts import Series, chart_svg, nice_ceiling, number
from qala.utilities.periods import HOUR

from .conftest import House, Record, steady
from .test_incidents import Finding


def test_the_chart_is_svg_with_a_tooltip_per_bar() -> None:
    svg = chart_svg(
        ["01.11", "02.11"],
        [Series("use", [2.0, 4.5]), Series("norm", [3.0, 3.0], "dashed")],
        "m³",
        "Water <use>",
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<rect") == 2 and "<title>02.11: 4.50 m³</title>" not in svg
    assert "<title>02.11: 4.5 m³</title>" in svg and "Water &lt;use&gt;" in svg
    assert "stroke-dasharray" in svg and "<polyline" in svg
    assert (nice_ceiling(0.0), nice_ceiling(7.3), nice_ceiling(180.0)) == (1.0, 10.0, 200.0)
    assert (number(12345.0), number(2.5), number(1500.0)) == ("12k", "2.5", "1.5k")


def test_anonymous_and_citizens_are_sent_away(
    client: TestClient,
    city: City,
    make_user: Callable[..., auth.Principal],
    sign_in: Callable[..., str],
) -> None:
    response = client.get(f"/c/{city.slug}/utilities", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/sign-in")
    sign_in(make_user("citizen", city).username)
    response = client.get(f"/c/{city.slug}/utilities", follow_redirects=False)
    assert response.headers["location"] == f"/c/{city.slug}/public"


def test_operator_sees_consumption_and_acts_on_incidents(
    client: TestClient,
    db: Session,
    city: City,
    ctx: CityContext,
    house: House,
    record: Record,
    make_user: Callable[..., auth.Principal],
    sign_in: Callable[..., str],
) -> None:
    record(house.input, steady(30, 3.0))
    incident = incidents.apply_finding(db, ctx.id, Finding(meter_ids=(house.flats[0].serial,)))
    db.commit()
    sign_in(make_user("operator", city).username)
    page = client.get(f"/c/{city.slug}/utilities?building={house.building.id}&grain=day")
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="consumption-total">90.0<' in html
    assert f'id="incident-{incident.id}"' in html and "Abay avenue B1" in html
    assert html.count("<svg") >= 3  # consumption, building balance, losses
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None
    url = f"/c/{city.slug}/utilities/incidents/{incident.id}/acknowledge"
    forged = client.post(url, data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    done = client.post(url, data={"csrf_token": token.group(1)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith(f"#incident-{incident.id}")
    db.refresh(incident)
    assert incident.status == "acknowledged"
    assert [e.action for e in incidents.events_of(db, incident)][-1] == "acknowledged"


def test_specialists_read_without_actions(
    client: TestClient,
    db: Session,
    city: City,
    ctx: CityContext,
    make_user: Callable[..., auth.Principal],
    sign_in: Callable[..., str],
) -> None:
    incidents.apply_finding(db, ctx.id, Finding())
    db.commit()
    sign_in(make_user("specialist", city).username)
    html = client.get(f"/c/{city.slug}/utilities?resource=nonsense&grain=week").text
    assert 'data-testid="incidents"' in html and 'data-action="acknowledge"' not in html


def test_tiles(db: Session, ctx: CityContext, house: House, record: Record) -> None:
    quiet = {tile.key: tile.data(db, ctx) for tile in pages.TILES}
    assert quiet["utilities.incidents"].value == 0 and quiet["utilities.incidents"].severity == "ok"
    assert quiet["utilities.silent"].value == 3  # three meters, none has reported
    assert quiet["utilities.losses"].value == "—"
    recent = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - 3 * HOUR
    record(house.input, steady(2, 1.0, first=5.0), start=recent)
    incidents.apply_finding(db, ctx.id, Finding(severity="critical"))
    shown = {tile.key: tile.data(db, ctx) for tile in pages.TILES}
    assert (
        shown["utilities.incidents"].value == 1
        and shown["utilities.incidents"].severity == "critical"
    )
    assert shown["utilities.silent"].value == 2
