"""Incidents: opened or updated by detection findings, merged on their key, acknowledged and
resolved by operators, closed automatically when the signal clears (a per-city switch); every
step is logged with who did it, and opening raises an alert on the dashboard feed.

Detection plugs in with two calls and no import of ``detect.py`` (any object with the fields
of ``FindingLike`` will do)::

    incidents.apply_finding(db, city_id, finding)        # opens, or merges into the open one
    incidents.apply_cleared(db, city_id, cleared.key, cleared.at)
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from qala.core import events as bus
from qala.core.cities import City, CityContext, District
from qala.core.db import utcnow
from qala.core.errors import Conflict, NotFound
from qala.core.i18n import _
from qala.utilities import daily, service
from qala.utilities.events import (
    INCIDENT_KINDS,
    SEVERITY_RANK,
    IncidentEscalated,
    IncidentOpened,
    IncidentResolved,
)
from qala.utilities.models import Building, Incident, IncidentEvent, IncidentMeter, Meter
from qala.utilities.schemas import IncidentCreate

DETECTION = "detection"
EVIDENCE_KEPT = 50  # latest evidence entries kept on an incident
REOPEN_WINDOW = dt.timedelta(hours=6)  # an auto-closed incident flaring up again is reopened
ACTIVE = ("open", "acknowledged")


class FindingLike(Protocol):
    """What detection reports (``detect.Finding`` has these fields)."""

    @property
    def kind(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def meter_ids(self) -> Sequence[str]: ...
    @property
    def group(self) -> str | None: ...
    @property
    def start(self) -> dt.datetime: ...
    @property
    def detected_at(self) -> dt.datetime: ...
    @property
    def severity(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def evidence(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Actor:
    """Who acts on an incident: a user (id and name), a device key, or detection."""

    user_id: int | None
    name: str


class IncidentNotFound(NotFound):
    """No incident with that id in the caller's city."""


# --- detection --------------------------------------------------------------------------


def apply_finding(db: Session, city_id: int, finding: FindingLike) -> Incident:
    """Open an incident for a finding, or merge it into the open one with the same key: more
    meters, the higher severity, the new evidence. Raises events for the alerts feed."""
    meters = _meters(db, city_id, finding.meter_ids)
    incident = _active(db, city_id, finding.key) or _recently_closed(db, city_id, finding.key)
    if incident is None:
        incident = Incident(
            city_id=city_id,
            key=finding.key[:300],
            kind=finding.kind if finding.kind in INCIDENT_KINDS else "other",
            severity=_severity(finding.severity),
            status="open",
            group_key=finding.group,
            score=float(finding.score),
            evidence=[],
            started_at=finding.start,
            detected_at=finding.detected_at,
        )
        _place(db, city_id, incident, meters)
        db.add(incident)
        db.flush()
        _merge(db, incident, finding, meters)
        log(db, incident, "opened", Actor(None, DETECTION), data={"score": finding.score})
        _announce(db, incident, IncidentOpened)
        return incident
    if incident.status == "resolved":
        incident.status, incident.resolved_at = "open", None
        log(db, incident, "reopened", Actor(None, DETECTION))
        _announce(db, incident, IncidentOpened)
    before = incident.severity
    added = _merge(db, incident, finding, meters)
    log(
        db,
        incident,
        "updated",
        Actor(None, DETECTION),
        data={"severity": incident.severity, "added_meters": added, "score": finding.score},
    )
    if SEVERITY_RANK[incident.severity] > SEVERITY_RANK[before]:
        _announce(db, incident, IncidentEscalated)
    return incident


def apply_cleared(db: Session, city_id: int, key: str, at: dt.datetime) -> Incident | None:
    """The signal behind ``key`` is back to normal: close its incident when the city closes
    automatically, else only log it. None when no incident with that key is active."""
    incident = _active(db, city_id, key)
    if incident is None:
        return None
    if not daily.city_settings(db, city_id).auto_close:
        log(db, incident, "cleared", Actor(None, DETECTION))
        return incident
    incident.status, incident.resolved_at, incident.updated_at = "resolved", at, utcnow()
    log(db, incident, "auto_closed", Actor(None, DETECTION))
    bus.emit(db, IncidentResolved(city_id, incident_id=incident.id, automatically=True))
    return incident


def _severity(value: str) -> str:
    return value if value in SEVERITY_RANK else "medium"


def _active(db: Session, city_id: int, key: str) -> Incident | None:
    return db.scalar(
        select(Incident)
        .where(Incident.city_id == city_id, Incident.key == key, Incident.status.in_(ACTIVE))
        .order_by(Incident.id.desc())
        .limit(1)
    )


def _recently_closed(db: Session, city_id: int, key: str) -> Incident | None:
    """An incident with that key closed automatically a short while ago (a flapping signal)."""
    incident = db.scalar(
        select(Incident)
        .where(Incident.city_id == city_id, Incident.key == key, Incident.status == "resolved")
        .order_by(Incident.id.desc())
        .limit(1)
    )
    if incident is None or incident.resolved_at is None:
        return None
    closed_by_detection = db.scalar(
        select(IncidentEvent.id).where(
            IncidentEvent.incident_id == incident.id, IncidentEvent.action == "auto_closed"
        )
    )
    if closed_by_detection is None or utcnow() - incident.resolved_at > REOPEN_WINDOW:
        return None
    return incident


def _meters(db: Session, city_id: int, names: Sequence[str]) -> list[Meter]:
    """The city's meters named by entity id, serial or numeric id."""
    names = [str(name) for name in names]
    if not names:
        return []
    numbers = [int(name) for name in names if name.isdigit()]
    query = select(Meter).where(
        Meter.city_id == city_id,
        or_(Meter.entity_id.in_(names), Meter.serial.in_(names), Meter.id.in_(numbers)),
    )
    return list(db.scalars(query))


def _merge(db: Session, incident: Incident, finding: FindingLike, meters: list[Meter]) -> int:
    """Fold a finding into an incident; returns how many meters it added."""
    known = {link.meter_id for link in incident.meters}
    added = [m for m in meters if m.id not in known]
    incident.meters.extend(IncidentMeter(city_id=incident.city_id, meter_id=m.id) for m in added)
    if SEVERITY_RANK[_severity(finding.severity)] > SEVERITY_RANK[incident.severity]:
        incident.severity = _severity(finding.severity)
    incident.score = max(incident.score, float(finding.score))
    incident.started_at = min(incident.started_at, finding.start)
    entry = {"at": finding.detected_at.isoformat(), "kind": finding.kind, **dict(finding.evidence)}
    incident.evidence = [*incident.evidence, _jsonable(entry)][-EVIDENCE_KEPT:]
    incident.updated_at = utcnow()
    db.flush()
    return len(added)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):  # NaN is not JSON
        return None
    return value


def _place(db: Session, city_id: int, incident: Incident, meters: list[Meter]) -> None:
    """Where the incident is: the meters' building and district, or the group's district."""
    buildings = {m.building_id for m in meters if m.building_id}
    districts = {m.district_id for m in meters if m.district_id}
    if len(buildings) == 1:
        incident.building_id = buildings.pop()
    if len(districts) == 1:
        incident.district_id = districts.pop()
    elif incident.group_key:
        incident.district_id = db.scalar(
            select(District.id).where(
                District.city_id == city_id, District.slug == incident.group_key
            )
        )
    located = [m for m in meters if m.lat is not None and m.lon is not None]
    if located:
        incident.lat = sum(m.lat or 0.0 for m in located) / len(located)
        incident.lon = sum(m.lon or 0.0 for m in located) / len(located)
    incident.title = _place_text(db, incident, meters)


def _place_text(db: Session, incident: Incident, meters: list[Meter]) -> str:
    if incident.building_id is not None:
        building = db.get(Building, incident.building_id)
        if building is not None:
            return building.address[:300]
    if incident.district_id is not None:
        district = db.get(District, incident.district_id)
        if district is not None:
            return district.name_ru
    if incident.group_key:
        return incident.group_key
    return ", ".join(m.serial for m in meters[:5]) or incident.key[:300]


def _announce(db: Session, incident: Incident, event: type[IncidentOpened]) -> None:
    slug = db.scalar(select(City.slug).where(City.id == incident.city_id))
    bus.emit(
        db,
        event(
            incident.city_id,
            incident_id=incident.id,
            city_slug=slug or "",
            kind=incident.kind,
            severity=incident.severity,
            place=incident.title,
        ),
    )


# --- operators ----------------------------------------------------------------------------


def log(
    db: Session,
    incident: Incident,
    action: str,
    actor: Actor,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> IncidentEvent:
    """Add a line to the incident's log."""
    entry = IncidentEvent(
        city_id=incident.city_id,
        incident_id=incident.id,
        at=utcnow(),
        action=action,
        actor_id=actor.user_id,
        actor=actor.name[:150],
        note=note,
        data=_jsonable(data or {}),
    )
    db.add(entry)
    db.flush()
    return entry


def get_incident(db: Session, city: CityContext, incident_id: int) -> Incident:
    """An incident of the caller's city, or 404."""
    incident = db.scalar(
        select(Incident).where(Incident.id == incident_id, Incident.city_id == city.id)
    )
    if incident is None:
        message = _("There is no incident number {number}.", number=incident_id)
        raise IncidentNotFound(str(message))
    return incident


def create_incident(db: Session, city: CityContext, data: IncidentCreate, actor: Actor) -> Incident:
    """An incident an operator opens by hand (a call, a field report)."""
    building = service.get_building(db, city, data.building_id) if data.building_id else None
    district = service.district_by_slug(db, city.id, data.district, "district")
    meters = [service.get_meter(db, city, meter_id) for meter_id in data.meter_ids]
    now = utcnow()
    incident = Incident(
        city_id=city.id,
        key=f"manual:{uuid.uuid4().hex}",
        kind=data.kind,
        severity=data.severity,
        status="open",
        title=data.title,
        building_id=building.id if building else None,
        district_id=district.id if district else (building.district_id if building else None),
        lat=data.lat if data.lat is not None else (building.lat if building else None),
        lon=data.lon if data.lon is not None else (building.lon if building else None),
        evidence=[],
        started_at=now,
        detected_at=now,
    )
    incident.meters = [IncidentMeter(city_id=city.id, meter_id=m.id) for m in meters]
    db.add(incident)
    db.flush()
    log(db, incident, "opened", actor, note=data.note)
    _announce(db, incident, IncidentOpened)
    return incident


def acknowledge(
    db: Session, city: CityContext, incident_id: int, actor: Actor, note: str = ""
) -> Incident:
    """An operator has seen the incident and takes it (open → acknowledged)."""
    incident = get_incident(db, city, incident_id)
    if incident.status == "resolved":
        raise Conflict(str(_("The incident is already resolved.")), errors=[{"field": "status"}])
    if incident.status == "open":
        incident.status, incident.acknowledged_at = "acknowledged", utcnow()
        incident.updated_at = incident.acknowledged_at
        log(db, incident, "acknowledged", actor, note)
    return incident


def resolve(
    db: Session, city: CityContext, incident_id: int, actor: Actor, note: str = ""
) -> Incident:
    """The incident is dealt with (open or acknowledged → resolved)."""
    incident = get_incident(db, city, incident_id)
    if incident.status == "resolved":
        raise Conflict(str(_("The incident is already resolved.")), errors=[{"field": "status"}])
    incident.status, incident.resolved_at = "resolved", utcnow()
    incident.updated_at = incident.resolved_at
    log(db, incident, "resolved", actor, note)
    bus.emit(db, IncidentResolved(city.id, incident_id=incident.id))
    return incident


def comment(
    db: Session, city: CityContext, incident_id: int, actor: Actor, text: str
) -> IncidentEvent:
    """A comment in the incident's log."""
    return log(db, get_incident(db, city, incident_id), "commented", actor, text)


def list_incidents(
    db: Session,
    city: CityContext,
    *,
    status: Sequence[str] = (),
    kind: str | None = None,
    severity: str | None = None,
    district: str | None = None,
    building_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Incident], int]:
    """Incidents of the city, most severe and newest first, with the total count."""
    query = select(Incident).where(Incident.city_id == city.id)
    if status:
        query = query.where(Incident.status.in_(list(status)))
    if kind:
        query = query.where(Incident.kind == kind)
    if severity:
        query = query.where(Incident.severity == severity)
    if district:
        found = service.district_by_slug(db, city.id, district, "district")
        query = query.where(Incident.district_id == (found.id if found else None))
    if building_id is not None:
        query = query.where(Incident.building_id == building_id)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = (Incident.status == "resolved", Incident.detected_at.desc(), Incident.id.desc())
    return list(db.scalars(query.order_by(*order).limit(limit).offset(offset))), total


def events_of(db: Session, incident: Incident) -> list[IncidentEvent]:
    """The incident's log, oldest first."""
    query = select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
    return list(db.scalars(query.order_by(IncidentEvent.at, IncidentEvent.id)))
