"""The IoT Agent API mounted at ``/iot``: provisioning of groups (``/iot/services``) and
devices (``/iot/devices``) for operators, and measurements (``POST /iot/json?k=&i=``)
authenticated by the group's apikey alone, as FIWARE's IoT Agent JSON does."""

from __future__ import annotations

import contextlib
import threading
import time
from contextlib import AbstractContextManager
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from qala.core import cities
from qala.core.cities import CityContext
from qala.core.db import Database
from qala.core.deps import CurrentPrincipal, DbSession, get_runtime
from qala.core.errors import Forbidden, Unauthorized
from qala.core.i18n import _
from qala.hub.ingest import provision
from qala.hub.ingest.errors import (
    DeviceNotFound,
    GroupNotFound,
    MissingParameters,
    StoreBusy,
    UnsupportedContentType,
    WrongSyntax,
)
from qala.hub.ingest.models import HubIotDevice, HubIotGroup
from qala.hub.ingest.pipeline import Message, Refusal, prepare
from qala.hub.ingest.registry import UNKNOWN_APIKEY, UNKNOWN_DEVICE, DeviceRegistry
from qala.hub.ingest.writer import write_readings
from qala.hub.runtime import hub_of

router = APIRouter(tags=["IoT Agent"])
SERVICE_HEADER = "fiware-service"
PATH_HEADER = "fiware-servicepath"
WRITE_ATTEMPTS = 6


def registry_of(request: Request) -> DeviceRegistry:
    """The app's device registry, built on first use."""
    registry: DeviceRegistry | None = getattr(request.app.state, "iot_registry", None)
    if registry is None:
        registry = request.app.state.iot_registry = DeviceRegistry()
    return registry


def iot_city(request: Request, db: DbSession, principal: CurrentPrincipal) -> CityContext:
    """The city being provisioned: ``fiware-service`` (a city slug) or the caller's only
    city; the caller must be its operator (or hold a key of it)."""
    slug = (
        (
            request.headers.get(SERVICE_HEADER)
            or request.headers.get("ngsild-tenant")
            or request.headers.get("qala-city")
            or ""
        )
        .strip()
        .lower()
    )
    open_city = get_runtime(request).settings.hub_open_city
    if not principal.authenticated:
        if not open_city:
            raise Unauthorized(str(_("Sign in to continue.")))
        if slug and slug != open_city:
            raise Forbidden(str(_("You have no access to this city.")))
        slug = open_city
    if not slug:
        if len(principal.roles) != 1:
            raise MissingParameters(
                "say which city: the fiware-service header", field=SERVICE_HEADER
            )
        (city_id,) = principal.roles
        return CityContext.of(_city_by_id(db, city_id))
    try:
        city = cities.get_city(db, slug)
    except cities.CityNotFound:
        raise GroupNotFound(f"no service {slug!r}", field=SERVICE_HEADER) from None
    if (
        principal.authenticated
        and not principal.has_role(city.id, "operator")
        and not (open_city and slug == open_city)
    ):
        raise Forbidden(str(_("You have no access to this city.")))
    return CityContext.of(city)


def _city_by_id(db: Session, city_id: int) -> cities.City:
    city = db.get(cities.City, city_id)
    assert city is not None
    return city


def service_path(request: Request) -> str:
    """``fiware-servicepath``: ``/`` when absent (``/*`` lists every path)."""
    path = (request.headers.get(PATH_HEADER) or "/").strip()
    if not path.startswith("/") or len(path) > 256:
        raise WrongSyntax("fiware-servicepath must start with /", field=PATH_HEADER)
    return path


async def json_body(request: Request) -> Any:
    """The body as JSON (None when empty)."""
    raw = await request.body()
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise WrongSyntax(f"the body is not valid JSON: {error}", field="body") from None


async def raw_body(request: Request) -> bytes:
    """The body as bytes."""
    return await request.body()


IotCity = Annotated[CityContext, Depends(iot_city)]
ServicePath = Annotated[str, Depends(service_path)]
JsonBody = Annotated[Any, Depends(json_body)]
RawBody = Annotated[bytes, Depends(raw_body)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]


def _list_of(body: Any, key: str) -> list[Any]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise WrongSyntax(f'the body must be {{"{key}": [...]}} with at least one item', field=key)
    return items


def render_group(row: HubIotGroup, city: CityContext) -> dict[str, Any]:
    """A group as the IoT Agent shows it."""
    return {
        **row.config,
        "apikey": row.apikey,
        "resource": row.resource,
        "entity_type": row.entity_type,
        "service": city.slug,
        "subservice": row.service_path,
    }


def render_device(row: HubIotDevice, city: CityContext) -> dict[str, Any]:
    """A device as the IoT Agent shows it."""
    return {
        **row.config,
        "device_id": row.device_id,
        "apikey": row.apikey,
        "entity_name": row.entity_id,
        "entity_type": row.entity_type,
        "service": city.slug,
        "service_path": row.service_path,
    }


@router.get("/about")
def get_about() -> dict[str, Any]:
    """What this IoT Agent is (FIWARE tools use it as a health check)."""
    return {
        "libVersion": "qala",
        "version": "0.1.0",
        "baseRoot": "/iot",
        "protocol": "IoTA-JSON",
        "transports": ["HTTP", "MQTT"],
    }


@router.post("/services", status_code=201)
def post_services(
    request: Request, body: JsonBody, db: DbSession, city: IotCity, path: ServicePath
) -> Response:
    """Create device groups (``{"services": [...]}``)."""
    expand = registry_of(request).expand
    provision.create_groups(db, city.id, path, _list_of(body, "services"), expand)
    return Response(status_code=201)


@router.get("/services")
def list_services(
    db: DbSession, city: IotCity, request: Request, limit: Limit = 20, offset: Offset = 0
) -> dict[str, Any]:
    """The city's device groups (``fiware-servicepath: /*`` for every path)."""
    path = request.headers.get(PATH_HEADER) or provision.ANY_PATH
    rows, total = provision.list_groups(db, city.id, path, limit, offset)
    return {"count": total, "services": [render_group(row, city) for row in rows]}


@router.put("/services", status_code=204)
def put_service(
    request: Request,
    body: JsonBody,
    db: DbSession,
    city: IotCity,
    path: ServicePath,
    apikey: str = "",
    resource: str = "",
) -> Response:
    """Change a group named by ``apikey`` (and ``resource``)."""
    if not apikey:
        raise MissingParameters("give the apikey of the group", field="apikey")
    expand = registry_of(request).expand
    provision.update_group(db, city.id, path, apikey, resource or None, body, expand)
    return Response(status_code=204)


@router.delete("/services", status_code=204)
def delete_service(
    db: DbSession,
    city: IotCity,
    path: ServicePath,
    apikey: str = "",
    resource: str = "",
    device: bool = False,
) -> Response:
    """Remove a group (``device=true`` removes its devices too)."""
    if not apikey:
        raise MissingParameters("give the apikey of the group", field="apikey")
    provision.delete_group(db, city.id, path, apikey, resource or None, with_devices=device)
    return Response(status_code=204)


@router.post("/devices", status_code=201)
def post_devices(
    request: Request, body: JsonBody, db: DbSession, city: IotCity, path: ServicePath
) -> Response:
    """Provision devices (``{"devices": [...]}``)."""
    expand = registry_of(request).expand
    provision.create_devices(db, city.id, path, _list_of(body, "devices"), expand)
    return Response(status_code=201)


@router.get("/devices")
def list_devices(
    db: DbSession, city: IotCity, request: Request, limit: Limit = 20, offset: Offset = 0
) -> dict[str, Any]:
    """The city's devices (``fiware-servicepath: /*`` for every path)."""
    path = request.headers.get(PATH_HEADER) or provision.ANY_PATH
    rows, total = provision.list_devices(db, city.id, path, limit, offset)
    return {"count": total, "devices": [render_device(row, city) for row in rows]}


@router.get("/devices/{device_id}")
def get_device(
    device_id: str, db: DbSession, city: IotCity, request: Request, apikey: str = ""
) -> dict[str, Any]:
    """One device."""
    path = request.headers.get(PATH_HEADER) or provision.ANY_PATH
    return render_device(provision.get_device(db, city.id, path, device_id, apikey or None), city)


@router.put("/devices/{device_id}", status_code=204)
def put_device(
    device_id: str, request: Request, body: JsonBody, db: DbSession, city: IotCity, apikey: str = ""
) -> Response:
    """Change a device's attribute mappings."""
    path = request.headers.get(PATH_HEADER) or provision.ANY_PATH
    provision.update_device(
        db, city.id, path, device_id, apikey or None, body, registry_of(request).expand
    )
    return Response(status_code=204)


@router.delete("/devices/{device_id}", status_code=204)
def delete_device(
    device_id: str, db: DbSession, city: IotCity, request: Request, apikey: str = ""
) -> Response:
    """Remove a device (its entity stays)."""
    path = request.headers.get(PATH_HEADER) or provision.ANY_PATH
    provision.delete_device(db, city.id, path, device_id, apikey or None)
    return Response(status_code=204)


@router.post("/json")
def post_measures(
    request: Request, body: RawBody, k: str = "", i: str = "", t: str = ""
) -> Response:
    """Measurements of device ``i`` of the group with apikey ``k`` (a JSON object, or an
    array of them); ``t`` is their time when they carry no ``TimeInstant``."""
    media = (request.headers.get("content-type") or "application/json").split(";")[0].strip()
    if media not in ("application/json", "text/plain", "application/ld+json"):
        raise UnsupportedContentType(
            f"send measurements as application/json, not {media}", field="content-type"
        )
    return _measure(request, Message(k, i, body, timestamp=t or None))


@router.post("/json/attrs/{attribute}")
def post_attribute(
    attribute: str,
    request: Request,
    body: RawBody,
    k: str = "",
    i: str = "",
    t: str = "",
) -> Response:
    """One attribute's value (any content type; binary is stored as hex)."""
    media = (request.headers.get("content-type") or "").split(";")[0].strip()
    payload = body.hex().encode() if media == "application/octet-stream" else body
    return _measure(request, Message(k, i, payload, attribute=attribute, timestamp=t or None))


def _measure(request: Request, message: Message) -> Response:
    """Map and write one message in a transaction of its own, retried (after a rollback)
    when a concurrent writer holds the database or created the same entity first."""
    started = time.perf_counter()
    for name, value in (("k", message.apikey), ("i", message.device_id)):
        if not value:
            raise MissingParameters(f"the {name} parameter is missing", field=name)
    registry, hub = registry_of(request), hub_of(request)
    database = get_runtime(request).database
    for attempt in range(WRITE_ATTEMPTS):
        try:
            with _writer_turn(request, database), database.session() as db:
                (outcome,) = prepare(db, registry, [message])
                if isinstance(outcome, Refusal):
                    raise _problem(outcome)
                _check_service(request, db, outcome[0].profile.city_id if outcome else None)
                write_readings(hub, db, outcome)
                db.commit()
            break
        except DBAPIError as error:
            if attempt == WRITE_ATTEMPTS - 1:
                raise StoreBusy("the hub is busy; send the measurement again") from error
            time.sleep(0.05 * 2**attempt)
    elapsed = f"{(time.perf_counter() - started) * 1000:.0f}"
    return JSONResponse({}, headers={"X-Processing-Time": elapsed})


def _writer_turn(request: Request, database: Database) -> AbstractContextManager[Any]:
    """SQLite takes one writer at a time: this process's measurement writers queue on a lock
    instead of failing on "database is locked" (other processes are retried)."""
    if database.engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    lock: threading.Lock | None = getattr(request.app.state, "iot_write_lock", None)
    if lock is None:
        lock = request.app.state.iot_write_lock = threading.Lock()
    return lock


def _check_service(request: Request, db: Session, city_id: int | None) -> None:
    """A ``fiware-service`` header must name the group's own city."""
    slug = (request.headers.get(SERVICE_HEADER) or "").strip().lower()
    if slug and city_id is not None and _city_by_id(db, city_id).slug != slug:
        raise GroupNotFound("no device group with this apikey in this service", field="k")


def _problem(refusal: Refusal) -> Exception:
    if refusal.reason == UNKNOWN_APIKEY:
        return GroupNotFound(refusal.detail, field="k")
    if refusal.reason == UNKNOWN_DEVICE:
        return DeviceNotFound(refusal.detail, field="i")
    return WrongSyntax(refusal.detail, field=refusal.field)
