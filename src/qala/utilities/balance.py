"""Balance and losses (небаланс / шығын): what an upstream meter let in against what the
meters downstream of it measured.

* A building's balance: its common-house (input) meters against the sum of its apartment
  meters, plus the norm-based estimate for residents whose apartments have no meter of that
  resource (how utilities bill them): loss = supplied − consumed − estimated.
* A district's losses: its district / substation meters against its buildings' input meters
  (network losses, leaks and unmetered draw); the city's are the sum over districts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from qala.core.cities import CityContext, District
from qala.core.db import utcnow
from qala.utilities import consumption, service
from qala.utilities.consumption import Scope
from qala.utilities.models import Meter
from qala.utilities.periods import Period, make_period, norm_for
from qala.utilities.resources import BY_CODE
from qala.utilities.schemas import BalancePoint, BalanceSeries, DistrictLoss


def _percent(loss: float, supplied: float) -> float | None:
    return round(100.0 * loss / supplied, 2) if supplied > 0 else None


def _series(
    scope: Scope,
    resource_code: str,
    period: Period,
    supplied: dict[dt.datetime, float],
    consumed: dict[dt.datetime, float],
    unmetered_norm: float,
) -> BalanceSeries:
    points = []
    for bucket in period.buckets():
        up, down = supplied.get(bucket, 0.0), consumed.get(bucket, 0.0)
        estimated = norm_for(bucket, period.grain, unmetered_norm) if unmetered_norm else 0.0
        loss = up - down - estimated if bucket in supplied else 0.0
        points.append(
            BalancePoint(
                start=bucket,
                supplied=up,
                consumed=down,
                estimated=estimated,
                loss=loss,
                loss_percent=_percent(loss, up),
            )
        )
    totals = [sum(getattr(p, name) for p in points) for name in ("supplied", "consumed")]
    estimated = sum(p.estimated for p in points if p.start in supplied)
    loss = sum(p.loss for p in points)
    return BalanceSeries(
        scope=scope.kind,
        id=scope.id,
        resource=resource_code,
        unit=BY_CODE[resource_code].unit,
        grain=period.grain,
        supplied=totals[0],
        consumed=totals[1],
        estimated=estimated,
        loss=loss,
        loss_percent=_percent(loss, totals[0]),
        points=points,
    )


def building_balance(
    db: Session,
    city: CityContext,
    building_id: int,
    resource_code: str,
    grain: str = "day",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> BalanceSeries:
    """A building's input meters against its apartment meters and the unmetered estimate."""
    building = service.get_building(db, city, building_id)
    period = make_period(grain, start, end, utcnow())
    supplied_scope = consumption.resolve_scope(
        db, city, "building", building.id, resource_code, "building"
    )
    consumed_scope = consumption.resolve_scope(
        db, city, "building", building.id, resource_code, "apartment"
    )
    supplied = consumption.read_values(db, city.id, supplied_scope, period)
    consumed = consumption.read_values(db, city.id, consumed_scope, period)
    unmetered = max(building.residents - consumed_scope.residents, 0)
    if not supplied_scope.entity_ids:
        unmetered = 0  # nothing to balance against
    norm = consumption.norm_value(db, city.id, resource_code) * unmetered
    return _series(supplied_scope, resource_code, period, supplied, consumed, norm)


def district_losses_series(
    db: Session,
    city: CityContext,
    district: str | None,
    resource_code: str,
    grain: str = "day",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> BalanceSeries:
    """A district's (or, without one, the city's) district meters against its buildings'."""
    period = make_period(grain, start, end, utcnow())
    kind = "district" if district else "city"
    upstream = consumption.resolve_scope(db, city, kind, None, resource_code, "district", district)
    downstream = consumption.resolve_scope(
        db, city, kind, None, resource_code, "building", district
    )
    supplied = consumption.read_values(db, city.id, upstream, period)
    consumed = consumption.read_values(db, city.id, downstream, period)
    scope = Scope(
        kind, upstream.district_id, resource_code, "district", upstream.district_id, (), 0
    )
    return _series(scope, resource_code, period, supplied, consumed, 0.0)


def district_losses(
    db: Session,
    city: CityContext,
    resource_code: str,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    language: str = "ru",
) -> list[DistrictLoss]:
    """Every district's losses over the period (districts with district meters)."""
    out = []
    districts = db.scalars(
        select(District).where(District.city_id == city.id).order_by(District.id)
    )
    metered = set(
        db.scalars(
            select(Meter.district_id).where(
                Meter.city_id == city.id, Meter.resource == resource_code, Meter.level == "district"
            )
        )
    )
    for district in districts:
        if district.id not in metered:
            continue  # no district meter: nothing to measure losses against
        series = district_losses_series(db, city, district.slug, resource_code, "day", start, end)
        out.append(
            DistrictLoss(
                district_id=district.id,
                district=district.name(language),
                supplied=series.supplied,
                consumed=series.consumed,
                loss=series.loss,
                loss_percent=series.loss_percent,
            )
        )
    return out
