"""Kernel API routes: cities, sign-in tokens, the caller, users and roles, API keys, alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from qala.core import alerts, cities
from qala.core.deps import (
    AdminCity,
    CurrentCity,
    CurrentUser,
    DbSession,
    OperatorCity,
    PublicCity,
    get_runtime,
)
from qala.core.errors import Conflict, NotFound
from qala.core.i18n import _
from qala.core.schemas import (
    AlertRead,
    CityRead,
    DepartmentRead,
    ModuleRead,
    ModuleSwitch,
)

router = APIRouter(prefix="/api")


def _city_read(city: cities.City) -> CityRead:
    return CityRead.model_validate(
        {
            **{key: getattr(city, key) for key in CityRead.model_fields if key != "centre"},
            "centre": (city.centre_lat, city.centre_lon),
        }
    )


@router.get("/cities", tags=["cities"])
def list_cities(db: DbSession) -> list[CityRead]:
    """Every city served by this deployment (public)."""
    return [_city_read(city) for city in cities.list_cities(db)]


@router.get("/cities/{city}", tags=["cities"])
def get_city(city: str, db: DbSession) -> CityRead:
    """One city (public)."""
    return _city_read(cities.get_city(db, city))


@router.get("/cities/{city}/districts", tags=["cities"])
def get_districts(
    city: str, request: Request, db: DbSession, lang: str | None = None
) -> dict[str, Any]:
    """The city's districts as a GeoJSON FeatureCollection (public), named in ``lang`` or else
    the request's language (cookie, Accept-Language), as Content-Language says."""
    del lang  # applied by the language middleware; declared here for the API docs
    return cities.districts_geojson(cities.get_city(db, city), request.state.language)


@router.get("/modules", tags=["cities"])
def list_modules(request: Request, db: DbSession, city: PublicCity) -> list[ModuleRead]:
    """The modules mounted here and whether the city has them switched on."""
    row = db.get(cities.City, city.id)
    assert row is not None
    return [
        ModuleRead(
            name=module.name, title=str(module.title), enabled=row.module_enabled(module.name)
        )
        for module in get_runtime(request).modules
    ]


@router.put("/modules/{name}", tags=["cities"])
def put_module(
    name: str, body: ModuleSwitch, request: Request, db: DbSession, city: AdminCity
) -> ModuleRead:
    """Switch a module on or off for the caller's city (city administrators)."""
    runtime = get_runtime(request)
    module = next((m for m in runtime.modules if m.name == name), None)
    if module is None:
        raise NotFound(str(_("There is no module '{name}'.", name=name)))
    if not module.city_switchable:
        raise Conflict(str(_("The module '{name}' cannot be switched off.", name=name)))
    row = db.get(cities.City, city.id)
    assert row is not None
    row.set_module(name, body.enabled, [m.name for m in runtime.modules])
    runtime.cities.clear()
    return ModuleRead(name=name, title=str(module.title), enabled=body.enabled)


@router.get("/departments", tags=["cities"])
def list_departments(db: DbSession, city: CurrentCity) -> list[DepartmentRead]:
    """The departments of the caller's city."""
    return [DepartmentRead.model_validate(d) for d in cities.list_departments(db, city.id)]


def _alert_read(alert: alerts.Alert) -> AlertRead:
    return AlertRead(
        id=alert.id,
        severity=alert.severity,
        text=alert.text(),
        link=alert.link,
        created_at=alert.created_at,
        acknowledged_at=alert.acknowledged_at,
    )


@router.get("/alerts", tags=["alerts"])
def list_alerts(
    db: DbSession,
    city: OperatorCity,
    after_id: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=500),
) -> list[AlertRead]:
    """The city's alerts feed, newest first; poll with ``after_id``."""
    return [_alert_read(alert) for alert in alerts.list_alerts(db, city.id, after_id, limit)]


@router.post("/alerts/{alert_id}/ack", tags=["alerts"])
def ack_alert(alert_id: int, db: DbSession, city: OperatorCity, actor: CurrentUser) -> AlertRead:
    """Acknowledge an alert."""
    return _alert_read(alerts.acknowledge_alert(db, city.id, alert_id, actor.user_id))
