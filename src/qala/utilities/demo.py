"""Demo data of the utilities module for one city: buildings on the city's real streets in its
districts, meters at every level, three days of plausible hourly consumption (a leak, a silent
meter and a district outage among them) and the incidents they raise. Idempotent: a city that
already has buildings is left alone. Deterministic: the same city always gets the same data."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from qala.core.cities import City, CityContext, District
from qala.core.db import utcnow
from qala.hub import client as hub
from qala.utilities import daily, incidents, service
from qala.utilities.demo_data import (
    BUILDINGS,
    DEFAULT_BUILDINGS,
    DEFAULT_STREETS,
    HISTORY_HOURS,
    INDUSTRIAL_ADDRESS,
    MICRODISTRICT_ADDRESS,
    NETWORK_LOSS,
    PER_RESIDENT_DAY,
    POWER_DAY,
    STREETS,
    WATER_DAY,
)
from qala.utilities.models import Building, Meter, Norm
from qala.utilities.resources import CONSUMPTION, RESOURCES, iri, resource
from qala.utilities.schemas import AccountCreate, BuildingCreate, MeterCreate

SERIAL_SUFFIX = {"cold_water": "CW", "heat": "HT", "electricity": "EL"}
UNMETERED = (3, 7, 9)  # buildings (by last digit of their number) without common-house meters


@dataclass
class Plan:
    """What the demo builds in one city, with the consumption it gives each meter."""

    city: City
    ctx: CityContext
    rng: random.Random
    hours: list[dt.datetime]
    local_hours: list[int]
    use: dict[int, list[float | None]] = field(default_factory=dict)  # meter id → per hour
    meters: dict[int, Meter] = field(default_factory=dict)


def seed(db: Session, city: City) -> None:
    """Give a demo city its buildings, meters, history and incidents (once)."""
    if db.scalar(select(Building.id).where(Building.city_id == city.id).limit(1)) is not None:
        return
    plan = _plan(city)
    _seed_norms(db, city.id)
    buildings = _seed_buildings(db, plan)
    _seed_meters(db, plan, buildings)
    findings = _inject_faults(plan)
    _write_history(db, plan)
    for finding in findings:
        incidents.apply_finding(db, city.id, finding)
    daily.settle(db, city.id, since=plan.hours[0].date())


def _plan(city: City) -> Plan:
    end = utcnow().replace(minute=0, second=0, microsecond=0)
    hours = [end - dt.timedelta(hours=h) for h in range(HISTORY_HOURS, 0, -1)]
    zone = ZoneInfo(city.timezone)
    local = [moment.astimezone(zone).hour for moment in hours]
    rng = random.Random(f"qala-utilities-{city.slug}")  # noqa: S311 - demo data, not secrets
    return Plan(city, CityContext.of(city), rng, hours, local)


def _seed_norms(db: Session, city_id: int) -> None:
    """The default norms as the city's own rows, so its admin sees and edits them as data."""
    for spec in RESOURCES:  # an empty note shows the default's note in the reader's language
        db.add(Norm(city_id=city_id, resource=spec.code, per_resident_month=spec.norm_per_resident))


# --- buildings ----------------------------------------------------------------------------


def _point_in(polygon: list[list[float]], rng: random.Random) -> tuple[float, float]:
    """A random (lon, lat) inside a polygon ring (rejection sampling on its box)."""
    lons = [p[0] for p in polygon]
    lats = [p[1] for p in polygon]
    for _try in range(200):
        lon = rng.uniform(min(lons), max(lons))
        lat = rng.uniform(min(lats), max(lats))
        if _inside(lon, lat, polygon):
            return lon, lat
    return sum(lons) / len(lons), sum(lats) / len(lats)


def _inside(lon: float, lat: float, ring: list[list[float]]) -> bool:
    """Ray casting: is (lon, lat) inside the ring?"""
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > lat) != (y2 > lat) and lon < (x2 - x1) * (lat - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def _address(city: City, district: District, index: int, rng: random.Random) -> str:
    if city.slug == "stepnogorsk":
        if district.slug.startswith("microdistrict-"):
            return MICRODISTRICT_ADDRESS.format(n=district.slug.rsplit("-", 1)[1], k=index + 1)
        return INDUSTRIAL_ADDRESS.format(k=index + 1)
    street = rng.choice(STREETS.get(city.slug, DEFAULT_STREETS))
    return f"{street}, {2 * index + rng.randint(1, 9)}"


def _seed_buildings(db: Session, plan: Plan) -> list[Building]:
    districts = list(plan.city.districts)
    count = BUILDINGS.get(plan.city.slug, DEFAULT_BUILDINGS)
    buildings = []
    for n in range(count):
        district = districts[n % len(districts)]
        lon, lat = _point_in(district.geometry["coordinates"][0], plan.rng)
        floors = plan.rng.choice((5, 5, 5, 9, 9, 12))
        apartments = floors * plan.rng.choice((3, 4, 6)) * 4
        data = BuildingCreate(
            code=f"{plan.city.slug[:3].upper()}-{n + 1:04d}",
            address=_address(plan.city, district, n // len(districts), plan.rng),
            district=district.slug,
            lat=round(lat, 6),
            lon=round(lon, 6),
            floors=floors,
            apartments=apartments,
            residents=int(apartments * plan.rng.uniform(2.3, 2.9)),
            year_built=plan.rng.choice((1965, 1972, 1978, 1984, 1989, 2008, 2015, 2021)),
        )
        buildings.append(service.create_building(db, plan.ctx, data))
    return buildings


# --- meters and their consumption ---------------------------------------------------------


def _profile(plan: Plan, code: str, daily_use: float, noise: float = 0.08) -> list[float | None]:
    """Hourly use from a day's use and the resource's shape, with some noise."""
    shape = POWER_DAY if code == "electricity" else WATER_DAY
    flat = code == "heat"
    return [
        round(
            daily_use
            * (1 / 24 if flat else shape[hour])
            * (1 + (0.15 if flat and hour < 7 else 0.0))
            * max(plan.rng.gauss(1.0, noise), 0.2),
            4,
        )
        for hour in plan.local_hours
    ]


def _meter(plan: Plan, db: Session, use: list[float | None], **fields: Any) -> Meter:
    meter = service.create_meter(db, plan.ctx, MeterCreate(**fields))
    plan.meters[meter.id] = meter
    plan.use[meter.id] = use
    return meter


def _seed_meters(db: Session, plan: Plan, buildings: list[Building]) -> None:
    """District meters first, then buildings', then apartments' — each finds its parent as it
    is created (no re-parenting of children, each of which would rewrite a hub entity)."""
    metered = [b for n, b in enumerate(buildings) if n % 10 not in UNMETERED]
    water = {
        b.id: _profile(plan, "cold_water", b.residents * PER_RESIDENT_DAY["cold_water"])
        for b in metered
    }
    prefix = plan.city.slug[:3].upper()
    for district in plan.city.districts:
        inputs = [water[b.id] for b in metered if b.district_id == district.id]
        if not inputs:
            continue
        total = [sum(use[h] or 0.0 for use in inputs) for h in range(len(plan.hours))]
        supplied: list[float | None] = [
            round(v * (1 + NETWORK_LOSS) * plan.rng.uniform(0.98, 1.02), 4) for v in total
        ]
        lon, lat = _point_in(district.geometry["coordinates"][0], plan.rng)
        fields = {"lat": round(lat, 6), "lon": round(lon, 6), "district": district.slug}
        serial = f"{prefix}-{district.slug}-CW"
        _meter(plan, db, supplied, serial=serial, resource="cold_water", level="district", **fields)
    for n, building in enumerate(metered):
        uses = {"cold_water": water[building.id]}
        if n % 4 == 0:
            uses["heat"] = _profile(
                plan, "heat", building.residents * PER_RESIDENT_DAY["heat"], 0.03
            )
        if plan.city.slug == "stepnogorsk" and n % 5 == 1:
            uses["electricity"] = _profile(
                plan, "electricity", building.residents * PER_RESIDENT_DAY["electricity"]
            )
        for code, use in uses.items():
            serial = f"{building.code}-{SERIAL_SUFFIX[code]}"
            _meter(
                plan,
                db,
                use,
                serial=serial,
                resource=code,
                level="building",
                building_id=building.id,
            )
        if n % 10 == 0:
            _seed_apartments(db, plan, building)


def _seed_apartments(db: Session, plan: Plan, building: Building) -> None:
    """Four apartments with their own cold-water meters (one of them, somewhere, leaks)."""
    for flat in range(1, 5):
        residents = plan.rng.randint(1, 4)
        account = service.create_account(
            db,
            plan.ctx,
            building.id,
            AccountCreate(
                number=f"{building.code}-{flat:03d}", apartment=str(flat * 7), residents=residents
            ),
        )
        use = _profile(plan, "cold_water", residents * PER_RESIDENT_DAY["cold_water"], 0.2)
        _meter(
            plan,
            db,
            use,
            serial=f"{building.code}-A{flat}",
            resource="cold_water",
            level="apartment",
            account_id=account.id,
        )


def _write_history(db: Session, plan: Plan) -> None:
    """Hourly consumption and the index it adds up to, as meters would have sent them."""
    points: list[hub.Point] = []
    for meter_id, use in plan.use.items():
        meter = plan.meters[meter_id]
        index = round(plan.rng.uniform(100.0, 5000.0), 3)
        attribute = iri(resource(meter.resource).index_attribute)
        points.append(
            hub.Point(
                meter.entity_id, attribute, plan.hours[0] - dt.timedelta(hours=1), value=index
            )
        )
        last = plan.hours[0]
        for moment, value in zip(plan.hours, use, strict=True):
            if value is None:
                continue
            index, last = round(index + value, 4), moment
            points.append(hub.Point(meter.entity_id, iri(CONSUMPTION), moment, value=value))
        points.append(hub.Point(meter.entity_id, attribute, last, value=index))
    hub.append_measurements(db, plan.city.id, points)


# --- faults and incidents -----------------------------------------------------------------


@dataclass(frozen=True)
class DemoFinding:
    """A finding shaped like detect.Finding, for the demo's incidents."""

    kind: str
    key: str
    meter_ids: tuple[str, ...]
    group: str | None
    start: dt.datetime
    detected_at: dt.datetime
    severity: str
    score: float
    evidence: dict[str, Any]


def _inject_faults(plan: Plan) -> list[DemoFinding]:
    """A leak in an apartment (it never stops at night), a building meter silent for 30 hours,
    a supply outage in the last district (its meters at zero for two hours); the findings
    detection would report for them."""
    meters = list(plan.meters.values())
    apartments = [m for m in meters if m.level == "apartment"]
    inputs = [m for m in meters if m.level == "building" and m.resource == "cold_water"]
    now, findings = plan.hours[-1], []
    if apartments:
        leaking = apartments[len(apartments) // 2]
        plan.use[leaking.id] = [round((v or 0.0) + 0.03, 4) for v in plan.use[leaking.id]]
        night = min(v or 0.0 for v in plan.use[leaking.id][-24:])
        findings.append(
            DemoFinding("leak", f"leak:{leaking.entity_id}", (leaking.entity_id,), None,
                        now - dt.timedelta(hours=30), now - dt.timedelta(hours=6), "high", 6.5,
                        {"night_min_m3_per_h": night, "never_zero_hours": 24})
        )  # fmt: skip
    if len(inputs) > 5:
        silent = inputs[5]
        plan.use[silent.id] = [*plan.use[silent.id][:-30], *([None] * 30)]
        findings.append(
            DemoFinding("silent", f"silent:{silent.entity_id}", (silent.entity_id,), None,
                        now - dt.timedelta(hours=30), now - dt.timedelta(hours=2), "low", 1.0,
                        {"last_report_hours_ago": 30})
        )  # fmt: skip
    district = plan.city.districts[-1] if plan.city.districts else None
    if district is not None:
        group = [m for m in meters if m.district_id == district.id and m.resource == "cold_water"]
        for meter in group:
            plan.use[meter.id] = [*plan.use[meter.id][:-2], 0.0, 0.0]
        findings.append(
            DemoFinding("outage", f"outage:{district.slug}:cold_water",
                        tuple(m.entity_id for m in group if m.level != "apartment"), district.slug,
                        now - dt.timedelta(hours=2), now - dt.timedelta(minutes=50), "critical",
                        9.0, {"meters_at_zero": len(group), "district": district.slug})
        )  # fmt: skip
    return findings
