"""Utilities API: incidents (list, filter, open by hand, acknowledge, resolve, comment) and
the live map of buildings and incidents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from qala.core.deps import CurrentPrincipal, DbSession, OperatorCity, SpecialistCity
from qala.utilities import incidents, state
from qala.utilities.incidents import Actor
from qala.utilities.models import Incident
from qala.utilities.schemas import (
    CommentCreate,
    IncidentAction,
    IncidentCreate,
    IncidentDetail,
    IncidentEventRead,
    IncidentKind,
    IncidentRead,
    IncidentStatus,
    Page,
    Severity,
)

router = APIRouter()


def actor_of(principal: CurrentPrincipal) -> Actor:
    """The acting user (or device key) as the incident log records it."""
    return Actor(principal.user_id, principal.username)


def incident_read(incident: Incident) -> IncidentRead:
    """An incident with the ids of its meters."""
    read = IncidentRead.model_validate(incident)
    read.meter_ids = [link.meter_id for link in incident.meters]
    return read


def incident_detail(db: DbSession, incident: Incident) -> IncidentDetail:
    """An incident with its evidence and its log."""
    events = [IncidentEventRead.model_validate(e) for e in incidents.events_of(db, incident)]
    return IncidentDetail(
        **incident_read(incident).model_dump(), evidence=incident.evidence, events=events
    )


@router.get("/incidents")
def list_incidents(
    db: DbSession,
    city: SpecialistCity,
    status: Annotated[list[IncidentStatus] | None, Query()] = None,
    kind: IncidentKind | None = None,
    severity: Severity | None = None,
    district: Annotated[str | None, Query(max_length=64)] = None,
    building_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[IncidentRead]:
    """Incidents of the city, active first, by status, kind, severity and place."""
    rows, total = incidents.list_incidents(
        db,
        city,
        status=status or (),
        kind=kind,
        severity=severity,
        district=district,
        building_id=building_id,
        limit=limit,
        offset=offset,
    )
    return Page(items=[incident_read(row) for row in rows], total=total)


@router.post("/incidents", status_code=201)
def post_incident(
    body: IncidentCreate, db: DbSession, city: OperatorCity, principal: CurrentPrincipal
) -> IncidentDetail:
    """Open an incident by hand (a call, a field report)."""
    incident = incidents.create_incident(db, city, body, actor_of(principal))
    return incident_detail(db, incident)


@router.get("/incidents/{incident_id}")
def get_incident(incident_id: int, db: DbSession, city: SpecialistCity) -> IncidentDetail:
    """One incident with its evidence and log."""
    return incident_detail(db, incidents.get_incident(db, city, incident_id))


@router.post("/incidents/{incident_id}/acknowledge")
def acknowledge_incident(
    incident_id: int,
    body: IncidentAction,
    db: DbSession,
    city: OperatorCity,
    principal: CurrentPrincipal,
) -> IncidentDetail:
    """Take the incident (open → acknowledged)."""
    incident = incidents.acknowledge(db, city, incident_id, actor_of(principal), body.note)
    return incident_detail(db, incident)


@router.post("/incidents/{incident_id}/resolve")
def resolve_incident(
    incident_id: int,
    body: IncidentAction,
    db: DbSession,
    city: OperatorCity,
    principal: CurrentPrincipal,
) -> IncidentDetail:
    """Close the incident as dealt with."""
    incident = incidents.resolve(db, city, incident_id, actor_of(principal), body.note)
    return incident_detail(db, incident)


@router.post("/incidents/{incident_id}/comments", status_code=201)
def comment_incident(
    incident_id: int,
    body: CommentCreate,
    db: DbSession,
    city: OperatorCity,
    principal: CurrentPrincipal,
) -> IncidentEventRead:
    """Add a comment to the incident's log."""
    event = incidents.comment(db, city, incident_id, actor_of(principal), body.text)
    return IncidentEventRead.model_validate(event)


@router.get("/map")
def get_map(db: DbSession, city: SpecialistCity) -> dict[str, Any]:
    """Buildings coloured by their meters' state, and active incidents (GeoJSON)."""
    return state.map_features(db, city)
