"""Consumption per meter, building, district and city; hourly, daily, monthly; against the
same period last year and the per-resident norm; top consumers; the city's norms.

A scope's consumption is the sum of the interval ``consumption`` of its meters of one level:
by default a building's or district's is what its common-house (input) meters measured —
what the buildings took — and ``level=apartment`` gives what the apartments' own meters
measured, ``level=district`` what the district meters let in. Everything is read from roll-ups:
settled days of cities and districts from ``utilities_daily``, the rest from the hub."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qala.core.cities import CityContext
from qala.core.db import utcnow
from qala.core.i18n import _
from qala.hub import client as hub
from qala.utilities import daily, service
from qala.utilities.models import Account, Building, DailyConsumption, Meter, Norm
from qala.utilities.periods import HOUR, MAX_HOURS, Period, fold, make_period, minus_year, norm_for
from qala.utilities.resources import BY_CODE, CONSUMPTION, RESOURCES, iri, resource
from qala.utilities.schemas import (
    ConsumptionPoint,
    ConsumptionSeries,
    NormRead,
    NormUpdate,
    TopConsumer,
)


@dataclass(frozen=True)
class Scope:
    """What a consumption question is about: which meters, and how many residents they serve."""

    kind: str  # city | district | building | meter
    id: int | None
    resource: str
    level: str
    district_id: int | None  # the district of a district scope
    entity_ids: tuple[str, ...]
    residents: int


# --- norms --------------------------------------------------------------------------------


def list_norms(db: Session, city: CityContext) -> list[NormRead]:
    """The city's norm of every resource (its own, or the default)."""
    own = {n.resource: n for n in db.scalars(select(Norm).where(Norm.city_id == city.id))}
    out = []
    for spec in RESOURCES:
        row = own.get(spec.code)
        out.append(
            NormRead(
                resource=spec.code,
                unit=spec.unit,
                per_resident_month=row.per_resident_month if row else spec.norm_per_resident,
                note=row.note if row and row.note else str(spec.norm_note),
                default=row is None,
            )
        )
    return out


def norm_value(db: Session, city_id: int, resource_code: str) -> float:
    """The monthly norm per resident of one resource in the city."""
    own = db.scalar(
        select(Norm.per_resident_month).where(
            Norm.city_id == city_id, Norm.resource == resource_code
        )
    )
    return float(own) if own is not None else resource(resource_code).norm_per_resident


def set_norm(db: Session, city: CityContext, data: NormUpdate) -> NormRead:
    """Set the city's norm of one resource."""
    row = db.scalar(select(Norm).where(Norm.city_id == city.id, Norm.resource == data.resource))
    if row is None:
        row = Norm(city_id=city.id, resource=data.resource, per_resident_month=0.0)
        db.add(row)
    row.per_resident_month, row.note, row.updated_at = data.per_resident_month, data.note, utcnow()
    db.flush()
    return next(n for n in list_norms(db, city) if n.resource == data.resource)


# --- scopes -------------------------------------------------------------------------------


def resolve_scope(
    db: Session,
    city: CityContext,
    kind: str,
    scope_id: int | None,
    resource_code: str,
    level: str,
    district: str | None = None,
) -> Scope:
    """The meters and residents of a scope; 404 / 422 when it names nothing of the city."""
    if kind == "meter":
        meter = service.get_meter(db, city, _required(scope_id))
        return Scope(
            kind,
            meter.id,
            meter.resource,
            meter.level,
            meter.district_id,
            (meter.entity_id,),
            _meter_residents(db, meter),
        )
    query = select(Meter.entity_id).where(
        Meter.city_id == city.id, Meter.resource == resource_code, Meter.level == level
    )
    buildings = select(func.coalesce(func.sum(Building.residents), 0)).where(
        Building.city_id == city.id
    )
    district_id = None
    if kind == "building":
        building = service.get_building(db, city, _required(scope_id))
        query = query.where(Meter.building_id == building.id)
        buildings = buildings.where(Building.id == building.id)
    elif kind == "district":
        found = service.district_by_slug(db, city.id, district, "district")
        if found is None:
            raise service.field_error("district", str(_("Say which district.")))
        district_id = found.id
        query = query.where(Meter.district_id == found.id)
        buildings = buildings.where(Building.district_id == found.id)
    if level == "building":  # like with like: the residents of buildings with such a meter
        metered = select(Meter.building_id).where(
            Meter.city_id == city.id, Meter.resource == resource_code, Meter.level == "building"
        )
        buildings = buildings.where(Building.id.in_(metered.scalar_subquery()))
    residents = int(db.scalar(buildings) or 0)
    if level == "apartment":
        residents = _metered_residents(db, city.id, resource_code, kind, scope_id, district_id)
    ids = tuple(db.scalars(query))
    return Scope(kind, scope_id, resource_code, level, district_id, ids, residents)


def _required(scope_id: int | None) -> int:
    if scope_id is None:
        raise service.field_error("id", str(_("Say which one (id).")))
    return scope_id


def _meter_residents(db: Session, meter: Meter) -> int:
    if meter.level == "apartment":
        account = db.get(Account, meter.account_id) if meter.account_id else None
        return account.residents if account else 0
    query = select(func.coalesce(func.sum(Building.residents), 0)).where(
        Building.city_id == meter.city_id
    )
    if meter.level == "building":
        query = query.where(Building.id == meter.building_id)
    elif meter.district_id is not None:
        query = query.where(Building.district_id == meter.district_id)
    return int(db.scalar(query) or 0)


def _metered_residents(
    db: Session,
    city_id: int,
    resource_code: str,
    kind: str,
    scope_id: int | None,
    district_id: int | None,
) -> int:
    """Residents of the accounts that have an apartment meter of the resource in the scope."""
    metered = select(Meter.account_id).where(
        Meter.city_id == city_id, Meter.resource == resource_code, Meter.level == "apartment"
    )
    if kind == "building":
        metered = metered.where(Meter.building_id == scope_id)
    elif kind == "district":
        metered = metered.where(Meter.district_id == district_id)
    query = select(func.coalesce(func.sum(Account.residents), 0)).where(
        Account.id.in_(metered.scalar_subquery())
    )
    return int(db.scalar(query) or 0)


# --- reading ------------------------------------------------------------------------------


def read_values(
    db: Session, city_id: int, scope: Scope, period: Period
) -> dict[dt.datetime, float]:
    """The scope's consumption per bucket of the period (buckets without data are absent):
    cities and districts by day or month from the daily table (kept within a minute by the
    worker, at once by readings recorded through Qala), everything else live from the hub."""
    if period.grain == "hour":
        return _live(db, city_id, scope.entity_ids, "hour", period.start, period.end)
    first, last = period.start.date(), (period.end - dt.timedelta(microseconds=1)).date()
    if scope.kind in ("city", "district") and daily.settled_mark(db, city_id) is not None:
        values = _settled(db, city_id, scope, first, last)
    else:  # a building, a meter, or a city whose daily table was never filled
        values = _live(db, city_id, scope.entity_ids, "day", period.start, period.end)
    return fold(values, "month") if period.grain == "month" else values


def _live(
    db: Session,
    city_id: int,
    ids: tuple[str, ...],
    grain: str,
    start: dt.datetime,
    end: dt.datetime,
) -> dict[dt.datetime, float]:
    if not ids:
        return {}
    buckets = hub.sum_rollups(
        db, city_id, {"scope": ids}, iri(CONSUMPTION), grain, start=start, end=end
    )
    return {bucket.start: bucket.total for bucket in buckets}


def _settled(
    db: Session, city_id: int, scope: Scope, first: dt.date, last: dt.date
) -> dict[dt.datetime, float]:
    query = (
        select(DailyConsumption.day, func.sum(DailyConsumption.total))
        .where(
            DailyConsumption.city_id == city_id,
            DailyConsumption.resource == scope.resource,
            DailyConsumption.level == scope.level,
            DailyConsumption.day >= first,
            DailyConsumption.day <= last,
        )
        .group_by(DailyConsumption.day)
    )
    if scope.kind == "district":
        query = query.where(DailyConsumption.district_id == scope.district_id)
    return {daily.day_start(day): float(total) for day, total in db.execute(query)}


def consumption_series(
    db: Session,
    city: CityContext,
    scope: Scope,
    grain: str,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    *,
    compare: bool = True,
) -> ConsumptionSeries:
    """The scope's consumption per bucket, with last year's and the norm when asked."""
    period = make_period(grain, start, end, utcnow())
    if grain == "hour" and period.end - period.start > dt.timedelta(hours=MAX_HOURS):
        message = _("Hourly series cover at most {days} days.", days=MAX_HOURS // 24)
        raise service.field_error("start", str(message))
    values = read_values(db, city.id, scope, period)
    previous = read_values(db, city.id, scope, period.previous_year()) if compare else {}
    monthly = norm_value(db, city.id, scope.resource) * scope.residents
    points = []
    for bucket in period.buckets():
        last_year = previous.get(minus_year(bucket)) if compare else None
        norm = norm_for(bucket, grain, monthly) if compare and scope.residents else None
        points.append(
            ConsumptionPoint(
                start=bucket, value=values.get(bucket, 0.0), previous_year=last_year, norm=norm
            )
        )
    return ConsumptionSeries(
        scope=scope.kind,
        id=scope.id,
        resource=scope.resource,
        unit=BY_CODE[scope.resource].unit,
        grain=grain,
        start=period.start,
        end=period.end,
        total=sum(values.values()),
        previous_year_total=sum(previous.values()) if previous else None,
        norm_total=sum(p.norm or 0.0 for p in points) if compare and scope.residents else None,
        residents=scope.residents,
        points=points,
    )


# --- top consumers ------------------------------------------------------------------------


def top_consumers(
    db: Session,
    city: CityContext,
    resource_code: str,
    level: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    limit: int = 10,
) -> list[TopConsumer]:
    """The meters of a resource and level that consumed most over the period (whole days)."""
    period = make_period("day", start, end, utcnow())
    meters = {
        m.entity_id: m
        for m in db.scalars(
            select(Meter).where(
                Meter.city_id == city.id, Meter.resource == resource_code, Meter.level == level
            )
        )
    }
    totals = hub.entity_totals(
        db, city.id, list(meters), iri(CONSUMPTION), "day", start=period.start, end=period.end
    )
    ranked = sorted(totals.values(), key=lambda t: t.total, reverse=True)[:limit]
    norm = norm_value(db, city.id, resource_code)
    addresses = _addresses(db, [meters[t.entity_id].building_id for t in ranked])
    out = []
    for total in ranked:
        meter = meters[total.entity_id]
        residents = _meter_residents(db, meter)
        per_resident = total.total / residents if residents else None
        # The norm over the time the meter reported (not the whole window: a new meter).
        months = (total.last_at - total.first_at + HOUR) / dt.timedelta(days=30.4375)
        out.append(
            TopConsumer(
                meter_id=meter.id,
                serial=meter.serial,
                level=meter.level,
                building_id=meter.building_id,
                address=addresses.get(meter.building_id or 0),
                total=total.total,
                per_resident=per_resident,
                norm_ratio=per_resident / (norm * months) if per_resident and months else None,
            )
        )
    return out


def _addresses(db: Session, building_ids: list[int | None]) -> dict[int, str]:
    ids = [i for i in building_ids if i is not None]
    if not ids:
        return {}
    rows = db.execute(select(Building.id, Building.address).where(Building.id.in_(ids)))
    return defaultdict(str, {int(i): a for i, a in rows})
