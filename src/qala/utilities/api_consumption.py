"""Utilities API: consumption series, top consumers, balance and losses, norms, settings."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request

from qala.core.deps import AdminCity, DbSession, OperatorCity, SpecialistCity
from qala.utilities import balance, consumption, daily, state
from qala.utilities.schemas import (
    BalanceSeries,
    ConsumptionSeries,
    DistrictLoss,
    Grain,
    Level,
    NormRead,
    NormUpdate,
    RefreshReport,
    RefreshRequest,
    ResourceCode,
    Scope,
    SettingsRead,
    SettingsUpdate,
    TopConsumer,
)

router = APIRouter()
DistrictSlug = Annotated[str | None, Query(max_length=64)]


@router.get("/consumption")
def get_consumption(
    db: DbSession,
    city: SpecialistCity,
    scope: Scope = "city",
    id: int | None = None,
    district: DistrictSlug = None,
    resource: ResourceCode = "cold_water",
    level: Level = "building",
    grain: Grain = "day",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    compare: bool = True,
) -> ConsumptionSeries:
    """Consumption of the city, a district, a building or a meter per hour, day or month,
    with the same period last year and the per-resident norm (``compare``)."""
    selected = consumption.resolve_scope(db, city, scope, id, resource, level, district)
    return consumption.consumption_series(db, city, selected, grain, start, end, compare=compare)


@router.get("/consumption/top")
def get_top_consumers(
    db: DbSession,
    city: SpecialistCity,
    resource: ResourceCode = "cold_water",
    level: Level = "apartment",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[TopConsumer]:
    """The meters that consumed most over the period (default: the last 30 days)."""
    return consumption.top_consumers(db, city, resource, level, start, end, limit)


@router.post("/consumption/refresh")
def post_refresh(body: RefreshRequest, db: DbSession, city: OperatorCity) -> RefreshReport:
    """Recompute the settled daily consumption of the last ``days`` days (after late data
    or changes to meters)."""
    since = daily.today() - dt.timedelta(days=body.days - 1)
    first, rows = daily.settle(db, city.id, since=since)
    return RefreshReport(start=first, end=daily.today(), rows=rows)


@router.get("/buildings/{building_id}/balance")
def get_building_balance(
    building_id: int,
    db: DbSession,
    city: SpecialistCity,
    resource: ResourceCode = "cold_water",
    grain: Grain = "day",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> BalanceSeries:
    """A building's input meters against its apartment meters and the unmetered estimate."""
    return balance.building_balance(db, city, building_id, resource, grain, start, end)


@router.get("/losses")
def get_losses(
    request: Request,
    db: DbSession,
    city: SpecialistCity,
    resource: ResourceCode = "cold_water",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> list[DistrictLoss]:
    """Each district's losses over the period (district meters against buildings')."""
    language = getattr(request.state, "language", "ru")
    return balance.district_losses(db, city, resource, start, end, language)


@router.get("/losses/series")
def get_losses_series(
    db: DbSession,
    city: SpecialistCity,
    district: DistrictSlug = None,
    resource: ResourceCode = "cold_water",
    grain: Grain = "day",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> BalanceSeries:
    """A district's (or the city's) losses over time, as values and percentages."""
    return balance.district_losses_series(db, city, district, resource, grain, start, end)


@router.get("/norms")
def list_norms(db: DbSession, city: SpecialistCity) -> list[NormRead]:
    """The city's consumption norms per resident and month."""
    return consumption.list_norms(db, city)


@router.put("/norms")
def put_norm(body: NormUpdate, db: DbSession, city: AdminCity) -> NormRead:
    """Set the city's norm of one resource (city admins)."""
    return consumption.set_norm(db, city, body)


@router.get("/settings")
def get_settings(db: DbSession, city: SpecialistCity) -> SettingsRead:
    """The module's settings for the city."""
    return SettingsRead.model_validate(daily.city_settings(db, city.id))


@router.put("/settings")
def put_settings(body: SettingsUpdate, db: DbSession, city: AdminCity) -> SettingsRead:
    """Change the module's settings (auto-closing incidents, silent-meter threshold)."""
    return SettingsRead.model_validate(state.update_settings(db, city, body))
