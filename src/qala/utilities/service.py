"""Assets of the utilities module: buildings, personal accounts and meters of one city. Every
meter is also a hub entity, written in the same transaction. No HTTP, no commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from qala.core.cities import CityContext, District
from qala.core.db import utcnow
from qala.core.errors import Conflict, InvalidField, NotFound
from qala.core.i18n import _
from qala.hub import client as hub
from qala.utilities.entities import entity_id_for, meter_entity
from qala.utilities.models import Account, Building, Meter
from qala.utilities.resources import PARENT_LEVEL, resource
from qala.utilities.schemas import (
    AccountCreate,
    AccountUpdate,
    BuildingCreate,
    BuildingUpdate,
    MeterCreate,
    MeterUpdate,
)

LEVEL_RANK = {"apartment": 0, "building": 1, "district": 2}


class BuildingNotFound(NotFound):
    """No building with that id in the caller's city."""


class AccountNotFound(NotFound):
    """No personal account with that id in the caller's city."""


class MeterNotFound(NotFound):
    """No meter with that id in the caller's city."""


def field_error(field: str, message: str) -> InvalidField:
    """A 422 problem naming one field."""
    return InvalidField(message, errors=[{"field": field, "message": message}])


# --- districts ----------------------------------------------------------------------------


def district_by_slug(db: Session, city_id: int, slug: str | None, field: str) -> District | None:
    """The city's district ``slug`` (None for none), or a 422 naming ``field``."""
    if not slug:
        return None
    district = db.scalar(select(District).where(District.city_id == city_id, District.slug == slug))
    if district is None:
        raise field_error(field, str(_("There is no district '{slug}'.", slug=slug)))
    return district


def district_slugs(db: Session, city_id: int) -> dict[int, str]:
    """District id → slug of a city."""
    rows = db.execute(select(District.id, District.slug).where(District.city_id == city_id))
    return {int(district_id): str(slug) for district_id, slug in rows}


# --- buildings ----------------------------------------------------------------------------


def get_building(db: Session, city: CityContext, building_id: int) -> Building:
    """A building of the caller's city, or 404."""
    building = db.scalar(
        select(Building).where(Building.id == building_id, Building.city_id == city.id)
    )
    if building is None:
        raise BuildingNotFound(str(_("There is no building number {number}.", number=building_id)))
    return building


def list_buildings(
    db: Session,
    city: CityContext,
    *,
    district: str | None = None,
    text: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Building], int]:
    """Buildings of the city by district and address / code text, with the total count."""
    query = select(Building).where(Building.city_id == city.id)
    if district:
        found = district_by_slug(db, city.id, district, "district")
        query = query.where(Building.district_id == (found.id if found else None))
    if text:
        pattern = f"%{text.lower()}%"
        query = query.where(
            or_(func.lower(Building.address).like(pattern), func.lower(Building.code).like(pattern))
        )
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(Building.address, Building.id).limit(limit).offset(offset))
    return list(rows), total


def meter_counts(db: Session, building_ids: Sequence[int]) -> dict[int, int]:
    """How many meters each building has."""
    if not building_ids:
        return {}
    rows = db.execute(
        select(Meter.building_id, func.count())
        .where(Meter.building_id.in_(list(building_ids)))
        .group_by(Meter.building_id)
    )
    return {int(building_id or 0): int(count) for building_id, count in rows}


def create_building(db: Session, city: CityContext, data: BuildingCreate) -> Building:
    """Register a building; its code is unique in the city."""
    if db.scalar(
        select(Building.id).where(Building.city_id == city.id, Building.code == data.code)
    ):
        raise Conflict(
            str(_("A building with code {code} already exists.", code=data.code)),
            errors=[{"field": "code"}],
        )
    district = district_by_slug(db, city.id, data.district, "district")
    fields = data.model_dump(exclude={"district"})
    building = Building(city_id=city.id, district_id=district.id if district else None, **fields)
    db.add(building)
    db.flush()
    return building


def update_building(
    db: Session, city: CityContext, building_id: int, data: BuildingUpdate
) -> Building:
    """Change a building; its meters' hub entities follow its address and place."""
    building = get_building(db, city, building_id)
    changes = data.model_dump(exclude_unset=True)
    if "district" in changes:
        district = district_by_slug(db, city.id, changes.pop("district"), "district")
        building.district_id = district.id if district else None
    for name, value in changes.items():
        if value is None and name in {"address", "floors", "apartments", "residents"}:
            raise field_error(name, str(_("This field cannot be empty.")))
        setattr(building, name, value)
    building.updated_at = utcnow()
    for meter in db.scalars(select(Meter).where(Meter.building_id == building.id)):
        if meter.level != "district":
            meter.district_id = building.district_id
        if "lat" in changes or "lon" in changes:
            meter.lat, meter.lon = building.lat, building.lon
        sync_meter(db, meter)
    db.flush()
    return building


def delete_building(db: Session, city: CityContext, building_id: int) -> None:
    """Remove a building with its accounts and meters (their hub entities too)."""
    building = get_building(db, city, building_id)
    for meter in db.scalars(select(Meter).where(Meter.building_id == building.id)):
        _forget_entity(db, meter)
    db.delete(building)
    db.flush()


# --- accounts -----------------------------------------------------------------------------


def get_account(db: Session, city: CityContext, account_id: int) -> Account:
    """A personal account of the caller's city, or 404."""
    account = db.scalar(select(Account).where(Account.id == account_id, Account.city_id == city.id))
    if account is None:
        raise AccountNotFound(str(_("There is no account number {number}.", number=account_id)))
    return account


def list_accounts(
    db: Session, city: CityContext, building_id: int | None = None, limit: int = 500
) -> list[Account]:
    """Personal accounts of the city (of one building)."""
    query = select(Account).where(Account.city_id == city.id)
    if building_id is not None:
        query = query.where(Account.building_id == get_building(db, city, building_id).id)
    return list(db.scalars(query.order_by(Account.building_id, Account.id).limit(limit)))


def create_account(
    db: Session, city: CityContext, building_id: int, data: AccountCreate
) -> Account:
    """Open a personal account for an apartment of a building; its number is unique in the
    city."""
    building = get_building(db, city, building_id)
    if db.scalar(
        select(Account.id).where(Account.city_id == city.id, Account.number == data.number)
    ):
        raise Conflict(
            str(_("An account number {number} already exists.", number=data.number)),
            errors=[{"field": "number"}],
        )
    account = Account(
        city_id=city.id,
        building_id=building.id,
        number=data.number,
        apartment=data.apartment,
        residents=data.residents,
    )
    db.add(account)
    db.flush()
    return account


def update_account(db: Session, city: CityContext, account_id: int, data: AccountUpdate) -> Account:
    """Change an account's apartment or residents."""
    account = get_account(db, city, account_id)
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is None:
            raise field_error(name, str(_("This field cannot be empty.")))
        setattr(account, name, value)
    db.flush()
    return account


def delete_account(db: Session, city: CityContext, account_id: int) -> None:
    """Close an account (its meters stay, unassigned)."""
    db.delete(get_account(db, city, account_id))
    db.flush()


def _building_field(db: Session, city: CityContext, building_id: int, field: str) -> Building:
    building = db.scalar(
        select(Building).where(Building.id == building_id, Building.city_id == city.id)
    )
    if building is None:
        raise field_error(
            field, str(_("There is no building number {number}.", number=building_id))
        )
    return building


# --- meters -------------------------------------------------------------------------------


def get_meter(db: Session, city: CityContext, meter_id: int) -> Meter:
    """A meter of the caller's city, or 404."""
    meter = db.scalar(select(Meter).where(Meter.id == meter_id, Meter.city_id == city.id))
    if meter is None:
        raise MeterNotFound(str(_("There is no meter number {number}.", number=meter_id)))
    return meter


def list_meters(
    db: Session,
    city: CityContext,
    *,
    resource_code: str | None = None,
    level: str | None = None,
    status: str | None = None,
    building_id: int | None = None,
    district: str | None = None,
    text: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Meter], int]:
    """Meters of the city by resource, level, status, building, district and serial text."""
    query = select(Meter).where(Meter.city_id == city.id)
    filters: dict[str, Any] = {"resource": resource_code, "level": level, "status": status}
    for name, value in filters.items():
        if value:
            query = query.where(getattr(Meter, name) == value)
    if building_id is not None:
        query = query.where(Meter.building_id == building_id)
    if district:
        found = district_by_slug(db, city.id, district, "district")
        query = query.where(Meter.district_id == (found.id if found else None))
    if text:
        query = query.where(func.lower(Meter.serial).like(f"%{text.lower()}%"))
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(Meter.serial).limit(limit).offset(offset))
    return list(rows), total


def create_meter(db: Session, city: CityContext, data: MeterCreate) -> Meter:
    """Register a meter, place it in the hierarchy and write its hub entity."""
    if db.scalar(select(Meter.id).where(Meter.city_id == city.id, Meter.serial == data.serial)):
        raise Conflict(
            str(_("A meter with serial {serial} already exists.", serial=data.serial)),
            errors=[{"field": "serial"}],
        )
    account = _account_field(db, city, data.account_id) if data.account_id else None
    building_id = data.building_id or (account.building_id if account else None)
    building = _building_field(db, city, building_id, "building_id") if building_id else None
    if data.level == "apartment" and building is None:
        raise field_error("building_id", str(_("An apartment meter needs its building.")))
    if data.level == "building" and building is None:
        raise field_error("building_id", str(_("A common-house meter needs its building.")))
    if account is not None and building is not None and account.building_id != building.id:
        raise field_error("account_id", str(_("The account is in another building.")))
    district = district_by_slug(db, city.id, data.district, "district")
    entity_id = data.entity_id or entity_id_for(data.resource, data.serial)
    if db.scalar(select(Meter.id).where(Meter.city_id == city.id, Meter.entity_id == entity_id)):
        raise Conflict(
            str(_("Another meter already uses the hub entity {id}.", id=entity_id)),
            errors=[{"field": "entity_id"}],
        )
    meter = Meter(
        city_id=city.id,
        serial=data.serial,
        entity_id=entity_id,
        resource=data.resource,
        level=data.level,
        status=data.status,
        unit=resource(data.resource).unit,
        building_id=building.id if building else None,
        account_id=account.id if account else None,
        district_id=district.id if district else (building.district_id if building else None),
        lat=data.lat if data.lat is not None else (building.lat if building else None),
        lon=data.lon if data.lon is not None else (building.lon if building else None),
        installed_on=data.installed_on,
    )
    meter.parent_id = _parent_of(db, city, meter, data.parent_id)
    db.add(meter)
    db.flush()
    sync_meter(db, meter, building)
    _adopt_children(db, meter)
    return meter


def update_meter(db: Session, city: CityContext, meter_id: int, data: MeterUpdate) -> Meter:
    """Change a meter's status, parent, account, place or installation date."""
    meter = get_meter(db, city, meter_id)
    changes = data.model_dump(exclude_unset=True)
    if "status" in changes and changes["status"] is None:
        raise field_error("status", str(_("This field cannot be empty.")))
    if "parent_id" in changes:
        meter.parent_id = _parent_of(db, city, meter, changes.pop("parent_id"), automatic=False)
    if changes.get("account_id") is not None:
        account = _account_field(db, city, changes["account_id"])
        if account.building_id != meter.building_id:
            raise field_error("account_id", str(_("The account is in another building.")))
    for name, value in changes.items():
        setattr(meter, name, value)
    db.flush()
    sync_meter(db, meter)
    return meter


def delete_meter(db: Session, city: CityContext, meter_id: int) -> None:
    """Remove a meter and its hub entity (its children lose their parent)."""
    meter = get_meter(db, city, meter_id)
    _forget_entity(db, meter)
    db.delete(meter)
    db.flush()


def sync_meter(db: Session, meter: Meter, building: Building | None = None) -> None:
    """Write the meter's hub entity (created or updated) in the caller's transaction."""
    if building is None and meter.building_id is not None:
        building = db.get(Building, meter.building_id)
    parent = db.get(Meter, meter.parent_id) if meter.parent_id else None
    hub.upsert_entity(db, meter.city_id, meter_entity(meter, building, parent))


def _forget_entity(db: Session, meter: Meter) -> None:
    if hub.entity_ids(db, meter.city_id, [meter.entity_id]):
        hub.delete_entity(db, meter.city_id, meter.entity_id)


def _account_field(db: Session, city: CityContext, account_id: int) -> Account:
    account = db.scalar(select(Account).where(Account.id == account_id, Account.city_id == city.id))
    if account is None:
        raise field_error(
            "account_id", str(_("There is no account number {number}.", number=account_id))
        )
    return account


def _parent_of(
    db: Session, city: CityContext, meter: Meter, parent_id: int | None, *, automatic: bool = True
) -> int | None:
    """The given parent (checked: same city and resource, upstream level), or the natural one:
    the building's input meter for an apartment meter, the district meter for a building's."""
    if parent_id is not None:
        parent = db.scalar(select(Meter).where(Meter.id == parent_id, Meter.city_id == city.id))
        if parent is None or parent.id == meter.id:
            raise field_error(
                "parent_id", str(_("There is no meter number {number}.", number=parent_id))
            )
        if parent.resource != meter.resource or LEVEL_RANK[parent.level] <= LEVEL_RANK[meter.level]:
            message = _("The parent must be an upstream meter of the same resource.")
            raise field_error("parent_id", str(message))
        return parent.id
    if not automatic or meter.level not in PARENT_LEVEL:
        return None
    query = select(Meter.id).where(
        Meter.city_id == city.id,
        Meter.resource == meter.resource,
        Meter.level == PARENT_LEVEL[meter.level],
        Meter.status != "removed",
    )
    if meter.level == "apartment":
        query = query.where(Meter.building_id == meter.building_id)
    else:
        query = query.where(Meter.district_id == meter.district_id)
    return db.scalar(query.order_by(Meter.id).limit(1))


def _adopt_children(db: Session, meter: Meter) -> None:
    """A new input or district meter becomes the parent of the orphans it feeds."""
    child_level = {"building": "apartment", "district": "building"}.get(meter.level)
    if child_level is None:
        return
    query = select(Meter).where(
        Meter.city_id == meter.city_id,
        Meter.resource == meter.resource,
        Meter.level == child_level,
        Meter.parent_id.is_(None),
    )
    if meter.level == "building":
        query = query.where(Meter.building_id == meter.building_id)
    else:
        query = query.where(Meter.district_id == meter.district_id)
    for child in db.scalars(query):
        child.parent_id = meter.id
        sync_meter(db, child)
