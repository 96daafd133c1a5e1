"""The live state of a city's utilities: which meters are silent, faulty or in an incident,
the map of buildings and incidents, and the figures of the situational-centre tiles."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qala.core.cities import CityContext
from qala.core.db import utcnow
from qala.hub import client as hub
from qala.utilities import balance, daily
from qala.utilities.models import Building, Incident, IncidentMeter, Meter, UtilitySettings
from qala.utilities.resources import CONSUMPTION, iri
from qala.utilities.schemas import SettingsUpdate

STATE_RANK = {"ok": 0, "silent": 1, "faulty": 2, "incident": 3}


def update_settings(db: Session, city: CityContext, data: SettingsUpdate) -> UtilitySettings:
    """Change the city's module settings."""
    settings = daily.city_settings(db, city.id)
    for name, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(settings, name, value)
    db.flush()
    return settings


def last_reports(
    db: Session, city_id: int, entity_ids: list[str], days: int
) -> dict[str, dt.datetime]:
    """When each meter last reported consumption, looking back ``days`` days."""
    start = daily.day_start(daily.today() - dt.timedelta(days=days))
    totals = hub.entity_totals(db, city_id, entity_ids, iri(CONSUMPTION), "day", start=start)
    return {entity_id: total.last_at for entity_id, total in totals.items()}


def _active_meters(db: Session, city_id: int) -> list[Any]:
    return list(
        db.execute(
            select(Meter.id, Meter.entity_id, Meter.status).where(
                Meter.city_id == city_id, Meter.status.in_(("active", "faulty"))
            )
        )
    )


def silent_meters(db: Session, city_id: int, meters: list[Any] | None = None) -> set[int]:
    """Active meters with no report within the city's threshold (``silent_after_hours``)."""
    settings = daily.city_settings(db, city_id)
    meters = _active_meters(db, city_id) if meters is None else meters
    lookback = settings.silent_after_hours // 24 + 2
    seen = last_reports(db, city_id, [entity_id for _i, entity_id, _s in meters], lookback)
    silent_before = utcnow() - dt.timedelta(hours=settings.silent_after_hours)
    return {
        meter_id
        for meter_id, entity_id, status in meters
        if status == "active" and (seen.get(entity_id) is None or seen[entity_id] < silent_before)
    }


def meter_states(db: Session, city_id: int) -> dict[int, str]:
    """Each active meter's state: ok, silent (no report within the city's threshold), faulty,
    or incident (involved in an open or acknowledged incident)."""
    meters = _active_meters(db, city_id)
    silent = silent_meters(db, city_id, meters)
    in_incident = set(
        db.scalars(
            select(IncidentMeter.meter_id)
            .join(Incident, Incident.id == IncidentMeter.incident_id)
            .where(Incident.city_id == city_id, Incident.status.in_(("open", "acknowledged")))
        )
    )
    states = {}
    for meter_id, _entity_id, status in meters:
        state = "faulty" if status == "faulty" else ("silent" if meter_id in silent else "ok")
        states[meter_id] = "incident" if meter_id in in_incident else state
    return states


def silent_count(db: Session, city_id: int) -> tuple[int, int]:
    """How many active meters are silent (in an incident or not), of how many."""
    meters = _active_meters(db, city_id)
    return len(silent_meters(db, city_id, meters)), len(meters)


def map_features(db: Session, city: CityContext) -> dict[str, Any]:
    """Buildings (coloured by their meters' worst state) and active incidents as GeoJSON."""
    states = meter_states(db, city.id)
    per_building: dict[int, list[str]] = defaultdict(list)
    for meter_id, building_id in db.execute(
        select(Meter.id, Meter.building_id).where(Meter.city_id == city.id)
    ):
        if building_id is not None and meter_id in states:
            per_building[building_id].append(states[meter_id])
    features = []
    for building in db.scalars(select(Building).where(Building.city_id == city.id)):
        if building.lat is None or building.lon is None:
            continue
        found = per_building.get(building.id, [])
        worst = max(found, key=STATE_RANK.__getitem__, default="none")
        features.append(
            _point(
                building.lon,
                building.lat,
                {
                    "kind": "building",
                    "id": building.id,
                    "address": building.address,
                    "state": worst,
                    "meters": len(found),
                    "silent": found.count("silent"),
                },
            )
        )
    incidents = db.scalars(
        select(Incident).where(
            Incident.city_id == city.id, Incident.status.in_(("open", "acknowledged"))
        )
    )
    for incident in incidents:
        if incident.lat is not None and incident.lon is not None:
            features.append(
                _point(
                    incident.lon,
                    incident.lat,
                    {
                        "kind": "incident",
                        "id": incident.id,
                        "type": incident.kind,
                        "severity": incident.severity,
                        "status": incident.status,
                        "title": incident.title,
                    },
                )
            )
    return {"type": "FeatureCollection", "features": features}


def _point(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": properties,
    }


def open_incident_counts(db: Session, city_id: int) -> dict[str, int]:
    """Active incidents per severity."""
    rows = db.execute(
        select(Incident.severity, func.count())
        .where(Incident.city_id == city_id, Incident.status.in_(("open", "acknowledged")))
        .group_by(Incident.severity)
    )
    return {severity: int(count) for severity, count in rows}


def losses_today(db: Session, city: CityContext, resource_code: str = "cold_water") -> float | None:
    """Today's city-wide loss percentage of a resource (None when nothing is metered)."""
    start = daily.day_start(daily.today())
    series = balance.district_losses_series(
        db, city, None, resource_code, "day", start, start + dt.timedelta(days=1)
    )
    return series.loss_percent
