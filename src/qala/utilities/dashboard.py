"""What the utilities page shows, gathered in one place (no HTTP): the chosen consumption
series drawn as SVG, balance and losses, top consumers, incidents and the map's data."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from qala.core.cities import City, CityContext, districts_geojson
from qala.core.errors import Problem
from qala.core.i18n import _
from qala.utilities import balance, consumption, incidents, service, state
from qala.utilities.charts import Series, chart_svg
from qala.utilities.events import INCIDENT_KINDS, INCIDENT_STATUSES, SEVERITIES
from qala.utilities.periods import DAY
from qala.utilities.resources import BY_CODE, LEVELS, RESOURCES
from qala.utilities.schemas import BalanceSeries, ConsumptionSeries

GRAINS = {"hour": _("Hourly"), "day": _("Daily"), "month": _("Monthly")}
LABEL_FORMATS = {"hour": "%H:00", "day": "%d.%m", "month": "%m.%Y"}


@dataclass(frozen=True)
class Choice:
    """What the user picked on the page (already checked against what exists)."""

    resource: str = "cold_water"
    grain: str = "day"
    level: str = "building"
    district: str | None = None
    building_id: int | None = None
    meter_id: int | None = None
    incident_id: int | None = None


def choose(query: dict[str, str]) -> Choice:
    """The page's choices from its query string; unknown values fall back to the defaults."""
    resource = query.get("resource", "")
    grain = query.get("grain", "")
    level = query.get("level", "")
    building = query.get("building", "")
    meter = query.get("meter", "")
    incident = query.get("incident", "")
    return Choice(
        resource=resource if resource in BY_CODE else "cold_water",
        grain=grain if grain in GRAINS else "day",
        level=level if level in LEVELS else "building",
        district=query.get("district") or None,
        building_id=int(building) if building.isdigit() else None,
        meter_id=int(meter) if meter.isdigit() else None,
        incident_id=int(incident) if incident.isdigit() else None,
    )


def labels(points: list[dt.datetime], grain: str, timezone: str) -> list[str]:
    """Axis labels: hours in the city's time, days and months as dated (UTC days)."""
    zone = ZoneInfo(timezone)
    return [
        (p.astimezone(zone) if grain == "hour" else p).strftime(LABEL_FORMATS[grain])
        for p in points
    ]


def consumption_chart(result: ConsumptionSeries, timezone: str) -> str:
    """Bars of the consumption, last year's line, the norm dashed."""
    names = labels([p.start for p in result.points], result.grain, timezone)
    series = [Series(str(_("Consumption")), [p.value for p in result.points])]
    if any(p.previous_year is not None for p in result.points):
        series.append(Series(str(_("Last year")), [p.previous_year for p in result.points], "line"))
    if any(p.norm for p in result.points):
        series.append(Series(str(_("Norm")), [p.norm for p in result.points], "dashed"))
    return chart_svg(names, series, result.unit, str(_("Consumption")))


def losses_chart(result: BalanceSeries, timezone: str) -> str:
    """Loss per bucket as a percentage of what was supplied."""
    names = labels([p.start for p in result.points], result.grain, timezone)
    values = [p.loss_percent for p in result.points]
    return chart_svg(names, [Series(str(_("Losses")), values)], "%", str(_("Losses, %")))


def _scope(db: Session, city: CityContext, choice: Choice) -> tuple[Choice, Any]:
    """The scope the choice names, falling back to the whole city when it names nothing."""
    kind, scope_id = "city", None
    if choice.meter_id is not None:
        kind, scope_id = "meter", choice.meter_id
    elif choice.building_id is not None:
        kind, scope_id = "building", choice.building_id
    elif choice.district:
        kind = "district"
    try:
        scope = consumption.resolve_scope(
            db, city, kind, scope_id, choice.resource, choice.level, choice.district
        )
    except Problem:
        choice = Choice(choice.resource, choice.grain, choice.level)
        scope = consumption.resolve_scope(db, city, "city", None, choice.resource, choice.level)
    return choice, scope


def page_data(
    db: Session, city: City, choice: Choice, language: str, tiles: tuple[str, str] = ("", "")
) -> dict[str, Any]:
    """Everything the utilities page renders."""
    ctx = CityContext.of(city)
    choice, scope = _scope(db, ctx, choice)
    series = consumption.consumption_series(db, ctx, scope, choice.grain)
    end = series.end
    month_ago = end - 30 * DAY
    losses = balance.district_losses_series(db, ctx, None, choice.resource, "day", month_ago, end)
    data: dict[str, Any] = {
        "choice": choice,
        "resources": RESOURCES,
        "grains": GRAINS,
        "levels": LEVELS,
        "series": series,
        "chart": consumption_chart(series, city.timezone),
        "losses": losses,
        "losses_chart": losses_chart(losses, city.timezone),
        "district_losses": balance.district_losses(
            db, ctx, choice.resource, month_ago, end, language
        ),
        "top": consumption.top_consumers(
            db, ctx, choice.resource, "apartment", month_ago, end, limit=10
        ),
        "building": None,
        "meter": service.get_meter(db, ctx, scope.id) if scope.kind == "meter" else None,
        "balance": None,
        "kinds": INCIDENT_KINDS,
        "severities": SEVERITIES,
        "statuses": INCIDENT_STATUSES,
        "unit": BY_CODE[choice.resource].unit,
    }
    if choice.building_id is not None:
        building = service.get_building(db, ctx, choice.building_id)
        result = balance.building_balance(
            db, ctx, building.id, choice.resource, "day", month_ago, end
        )
        data.update(
            building=building, balance=result, balance_chart=losses_chart(result, city.timezone)
        )
    active, _total = incidents.list_incidents(db, ctx, status=("open", "acknowledged"), limit=50)
    recent, _count = incidents.list_incidents(db, ctx, status=("resolved",), limit=10)
    data["incidents"] = active + recent
    data["district_names"] = {d.id: d.name(language) for d in city.districts}
    data["map_data"] = map_json(db, city, ctx, language, tiles)
    return data


def map_json(
    db: Session, city: City, ctx: CityContext, language: str, tiles: tuple[str, str]
) -> str:
    """The map's data (city frame, districts, buildings and incidents) for utilities.js;
    ``tiles`` is the deployment's tile URL and attribution (empty: no background tiles)."""
    data = {
        "tileUrl": tiles[0],
        "attribution": tiles[1],
        "centre": [city.centre_lat, city.centre_lon],
        "bounds": city.bounds,
        "districts": districts_geojson(city, language),
        "features": state.map_features(db, ctx),
    }
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
