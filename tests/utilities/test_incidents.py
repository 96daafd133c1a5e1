"""Incidents: detection findings open or merge, severity only rises, operators acknowledge and
resolve with a log of who did what, the cleared signal closes automatically (configurable),
and events reach the dashboard alerts feed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from qala.core.alerts import Alert, record_alert
from qala.core.cities import CityContext
from qala.core.errors import Conflict, NotFound
from qala.core.events import OutboxEvent, load_event
from qala.utilities import daily, incidents
from qala.utilities.incidents import Actor
from qala.utilities.schemas import IncidentCreate

from .conftest import START, House

OPERATOR = Actor(None, "operator")


@dataclass(frozen=True)
class Finding:
    """Shaped like detect.Finding (the incident service only reads its fields)."""

    kind: str = "leak"
    key: str = "leak:B1-F1"
    meter_ids: tuple[str, ...] = ()
    group: str | None = None
    start: dt.datetime = START
    detected_at: dt.datetime = START + dt.timedelta(hours=3)
    severity: str = "medium"
    score: float = 4.0
    evidence: dict[str, Any] = field(default_factory=lambda: {"night_min": [0.2, 0.3]})


def alerts_of(db: Session, ctx: CityContext) -> list[Alert]:
    """Deliver the outbox to the alerts handler as the bus would, and read the feed."""
    for row in db.scalars(select(OutboxEvent).where(OutboxEvent.delivered_at.is_(None))):
        record_alert(db, load_event(row))
        row.delivered_at = START
    db.flush()
    return list(db.scalars(select(Alert).where(Alert.city_id == ctx.id).order_by(Alert.id)))


def test_a_finding_opens_an_incident_placed_at_its_meters(
    db: Session, ctx: CityContext, house: House
) -> None:
    incident = incidents.apply_finding(db, ctx.id, Finding(meter_ids=(house.flats[0].entity_id,)))
    assert (incident.kind, incident.status, incident.severity) == ("leak", "open", "medium")
    assert incident.building_id == house.building.id and incident.title == "Abay avenue B1"
    assert (incident.lat, incident.lon) == (51.15, 71.45)
    assert [link.meter_id for link in incident.meters] == [house.flats[0].id]
    assert incident.evidence[0]["night_min"] == [0.2, 0.3]
    (alert,) = alerts_of(db, ctx)
    assert (alert.severity, alert.message) == ("warning", "Leak suspected: {place}")
    assert alert.params == {"place": "Abay avenue B1"}
    assert alert.link == f"/c/{ctx.slug}/utilities?incident={incident.id}"


def test_the_same_key_merges_instead_of_duplicating(
    db: Session, ctx: CityContext, house: House
) -> None:
    first = incidents.apply_finding(db, ctx.id, Finding(meter_ids=(house.flats[0].serial,)))
    alerts_of(db, ctx)
    worse = Finding(
        meter_ids=(house.flats[1].serial, house.flats[0].serial), severity="critical", score=9.0
    )
    merged = incidents.apply_finding(db, ctx.id, worse)
    calmer = incidents.apply_finding(db, ctx.id, Finding(severity="low", score=1.0))
    assert first.id == merged.id == calmer.id
    assert calmer.severity == "critical" and calmer.score == 9.0  # never lowered
    assert sorted(link.meter_id for link in calmer.meters) == sorted(f.id for f in house.flats)
    assert len(calmer.evidence) == 3
    assert [e.action for e in incidents.events_of(db, calmer)] == ["opened", "updated", "updated"]
    escalated = alerts_of(db, ctx)  # one alert for the escalation, none for the calmer finding
    assert [a.severity for a in escalated] == ["warning", "critical"]


def test_operators_acknowledge_resolve_and_comment(db: Session, ctx: CityContext) -> None:
    incident = incidents.apply_finding(db, ctx.id, Finding(group="centre", meter_ids=("unknown",)))
    assert incident.district_id is not None and incident.title == "Центр"
    incidents.acknowledge(db, ctx, incident.id, OPERATOR, "crew sent")
    incidents.comment(db, ctx, incident.id, OPERATOR, "valve closed at 14:10")
    incidents.resolve(db, ctx, incident.id, OPERATOR, "pipe replaced")
    assert incident.status == "resolved" and incident.acknowledged_at and incident.resolved_at
    log = [(e.action, e.actor, e.note) for e in incidents.events_of(db, incident)]
    assert log == [
        ("opened", "detection", ""),
        ("acknowledged", "operator", "crew sent"),
        ("commented", "operator", "valve closed at 14:10"),
        ("resolved", "operator", "pipe replaced"),
    ]
    with pytest.raises(Conflict):
        incidents.acknowledge(db, ctx, incident.id, OPERATOR)
    # a finding after an operator resolved it opens a new incident
    again = incidents.apply_finding(db, ctx.id, Finding(group="centre"))
    assert again.id != incident.id


def test_cleared_signal_closes_automatically_or_only_logs(
    db: Session, ctx: CityContext, house: House
) -> None:
    incident = incidents.apply_finding(db, ctx.id, Finding())
    now = dt.datetime.now(dt.UTC)
    assert incidents.apply_cleared(db, ctx.id, "leak:B1-F1", now) is incident
    assert incident.status == "resolved" and incident.resolved_at == now
    assert incidents.apply_cleared(db, ctx.id, "leak:B1-F1", now) is None
    reopened = incidents.apply_finding(db, ctx.id, Finding())  # flapping: the same incident
    assert reopened.id == incident.id and reopened.status == "open"
    daily.city_settings(db, ctx.id).auto_close = False
    incidents.apply_cleared(db, ctx.id, "leak:B1-F1", now)
    assert reopened.status == "open"
    actions = [e.action for e in incidents.events_of(db, reopened)]
    assert actions == ["opened", "auto_closed", "reopened", "updated", "cleared"]


def test_manual_incidents_and_filters(db: Session, ctx: CityContext, house: House) -> None:
    manual = incidents.create_incident(
        db,
        ctx,
        IncidentCreate(
            kind="burst",
            title="Water on Abay avenue",
            severity="high",
            building_id=house.building.id,
        ),
        OPERATOR,
    )
    incidents.apply_finding(db, ctx.id, Finding(kind="stuck", key="stuck:B1-F2"))
    rows, total = incidents.list_incidents(db, ctx, kind="burst")
    assert total == 1 and rows[0].id == manual.id and rows[0].lat == 51.15
    assert incidents.list_incidents(db, ctx, status=["open"])[1] == 2
    assert incidents.list_incidents(db, ctx, severity="high")[1] == 1
    (alert,) = [a for a in alerts_of(db, ctx) if a.message.startswith("Pipe burst")]
    assert alert.severity == "critical"


def test_another_city_cannot_touch_incidents(
    db: Session, ctx: CityContext, other_ctx: CityContext
) -> None:
    incident = incidents.apply_finding(db, ctx.id, Finding())
    with pytest.raises(NotFound):
        incidents.resolve(db, other_ctx, incident.id, OPERATOR)
    assert incidents.list_incidents(db, other_ctx) == ([], 0)
    assert incidents.apply_cleared(db, other_ctx.id, "leak:B1-F1", START) is None
    assert incident.status == "open"
