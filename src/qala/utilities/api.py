"""Utilities API (mounted under /api/utilities): assets, import and readings. Reads need a
specialist, writes an operator, norms and settings a city admin. Thin: parse, call, return."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from qala.core.deps import DbSession, OperatorCity, SpecialistCity
from qala.utilities import importing, readings, service
from qala.utilities.api_consumption import router as consumption_router
from qala.utilities.api_incidents import router as incidents_router
from qala.utilities.models import Building
from qala.utilities.schemas import (
    AccountCreate,
    AccountRead,
    AccountUpdate,
    BuildingCreate,
    BuildingRead,
    BuildingUpdate,
    ImportReport,
    ImportRequest,
    Level,
    MeterCreate,
    MeterRead,
    MeterStatus,
    MeterUpdate,
    Page,
    ReadingReport,
    ReadingsIn,
    ResourceCode,
)

router = APIRouter(tags=["utilities"])
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]
Text = Annotated[str | None, Query(max_length=200)]
DistrictSlug = Annotated[str | None, Query(max_length=64)]


def _building_read(
    db: DbSession,
    building: Building,
    count: int | None = None,
    slugs: dict[int, str] | None = None,
) -> BuildingRead:
    slugs = service.district_slugs(db, building.city_id) if slugs is None else slugs
    read = BuildingRead.model_validate(building)
    read.district = slugs.get(building.district_id or 0)
    if count is None:
        count = service.meter_counts(db, [building.id]).get(building.id, 0)
    read.meters = count
    return read


# --- buildings ----------------------------------------------------------------------------


@router.get("/buildings")
def list_buildings(
    db: DbSession,
    city: SpecialistCity,
    district: DistrictSlug = None,
    q: Text = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[BuildingRead]:
    """Buildings of the city, by district and address or code."""
    rows, total = service.list_buildings(
        db, city, district=district, text=q, limit=limit, offset=offset
    )
    counts = service.meter_counts(db, [b.id for b in rows])
    slugs = service.district_slugs(db, city.id)
    items = [_building_read(db, b, counts.get(b.id, 0), slugs) for b in rows]
    return Page(items=items, total=total)


@router.post("/buildings", status_code=201)
def post_building(body: BuildingCreate, db: DbSession, city: OperatorCity) -> BuildingRead:
    """Register a building."""
    return _building_read(db, service.create_building(db, city, body), 0)


@router.get("/buildings/{building_id}")
def get_building(building_id: int, db: DbSession, city: SpecialistCity) -> BuildingRead:
    """One building."""
    return _building_read(db, service.get_building(db, city, building_id))


@router.patch("/buildings/{building_id}")
def patch_building(
    building_id: int, body: BuildingUpdate, db: DbSession, city: OperatorCity
) -> BuildingRead:
    """Change a building."""
    return _building_read(db, service.update_building(db, city, building_id, body))


@router.delete("/buildings/{building_id}", status_code=204)
def delete_building(building_id: int, db: DbSession, city: OperatorCity) -> Response:
    """Remove a building with its accounts and meters."""
    service.delete_building(db, city, building_id)
    return Response(status_code=204)


# --- accounts -----------------------------------------------------------------------------


@router.get("/buildings/{building_id}/accounts")
def list_accounts(building_id: int, db: DbSession, city: SpecialistCity) -> list[AccountRead]:
    """Personal accounts of a building."""
    rows = service.list_accounts(db, city, building_id)
    return [AccountRead.model_validate(row) for row in rows]


@router.post("/buildings/{building_id}/accounts", status_code=201)
def post_account(
    building_id: int, body: AccountCreate, db: DbSession, city: OperatorCity
) -> AccountRead:
    """Open a personal account for an apartment of the building."""
    return AccountRead.model_validate(service.create_account(db, city, building_id, body))


@router.patch("/accounts/{account_id}")
def patch_account(
    account_id: int, body: AccountUpdate, db: DbSession, city: OperatorCity
) -> AccountRead:
    """Change an account."""
    return AccountRead.model_validate(service.update_account(db, city, account_id, body))


@router.delete("/accounts/{account_id}", status_code=204)
def delete_account(account_id: int, db: DbSession, city: OperatorCity) -> Response:
    """Close an account."""
    service.delete_account(db, city, account_id)
    return Response(status_code=204)


# --- meters -------------------------------------------------------------------------------


@router.get("/meters")
def list_meters(
    db: DbSession,
    city: SpecialistCity,
    resource: ResourceCode | None = None,
    level: Level | None = None,
    status: MeterStatus | None = None,
    building_id: int | None = None,
    district: DistrictSlug = None,
    q: Text = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[MeterRead]:
    """Meters of the city by resource, level, status, building, district and serial."""
    rows, total = service.list_meters(
        db,
        city,
        resource_code=resource,
        level=level,
        status=status,
        building_id=building_id,
        district=district,
        text=q,
        limit=limit,
        offset=offset,
    )
    return Page(items=[MeterRead.model_validate(row) for row in rows], total=total)


@router.post("/meters", status_code=201)
def post_meter(body: MeterCreate, db: DbSession, city: OperatorCity) -> MeterRead:
    """Register a meter (its hub entity is written too)."""
    return MeterRead.model_validate(service.create_meter(db, city, body))


@router.get("/meters/{meter_id}")
def get_meter(meter_id: int, db: DbSession, city: SpecialistCity) -> MeterRead:
    """One meter."""
    return MeterRead.model_validate(service.get_meter(db, city, meter_id))


@router.patch("/meters/{meter_id}")
def patch_meter(meter_id: int, body: MeterUpdate, db: DbSession, city: OperatorCity) -> MeterRead:
    """Change a meter's status, parent, account or place."""
    return MeterRead.model_validate(service.update_meter(db, city, meter_id, body))


@router.delete("/meters/{meter_id}", status_code=204)
def delete_meter(meter_id: int, db: DbSession, city: OperatorCity) -> Response:
    """Remove a meter and its hub entity."""
    service.delete_meter(db, city, meter_id)
    return Response(status_code=204)


# --- import and readings ------------------------------------------------------------------


@router.post("/import/buildings")
def import_buildings(body: ImportRequest, db: DbSession, city: OperatorCity) -> ImportReport:
    """Import buildings from CSV or GeoJSON; good rows go in, bad rows are reported."""
    return importing.import_buildings(db, city, body.format, body.content, dry_run=body.dry_run)


@router.post("/import/meters")
def import_meters(body: ImportRequest, db: DbSession, city: OperatorCity) -> ImportReport:
    """Import meters (and the accounts they name) from CSV or GeoJSON."""
    return importing.import_meters(db, city, body.format, body.content, dry_run=body.dry_run)


@router.post("/readings")
def post_readings(body: ReadingsIn, db: DbSession, city: OperatorCity) -> ReadingReport:
    """Record cumulative index readings; consumption is derived, bad readings reported."""
    return readings.record_readings(db, city, body.readings)


router.include_router(consumption_router)
router.include_router(incidents_router)
