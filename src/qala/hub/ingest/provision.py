"""Provisioning of device groups and devices of a city (FIWARE IoT Agent model): create,
list, read, update, delete; every change bumps the group's revision so that measurement
paths reload it. No HTTP, no commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from qala.core.db import utcnow
from qala.hub.ingest.convert import MeasureError
from qala.hub.ingest.errors import (
    DeviceNotFound,
    DuplicateDevice,
    DuplicateGroup,
    GroupNotFound,
    WrongSyntax,
)
from qala.hub.ingest.models import HubIotDevice, HubIotGroup
from qala.hub.ingest.profiles import compile_rules, compile_static, default_entity_id
from qala.hub.ingest.schemas import FIXED_DEVICE_FIELDS, DeviceIn, GroupIn, Mappings
from qala.hub.ngsild.model import FORBIDDEN_NAME_CHARS, URI

ANY_PATH = "/*"
Model = TypeVar("Model", bound=BaseModel)
GROUP_COLUMNS = ("apikey", "resource", "entity_type")
DEVICE_COLUMNS = ("device_id", "apikey", "entity_name", "entity_type")


def validated(parse: Callable[[dict[str, Any]], Model], body: Any, where: str) -> Model:
    """``body`` parsed by ``parse``, or WrongSyntax naming the first bad field."""
    if not isinstance(body, dict):
        raise WrongSyntax(f"{where} must be a JSON object", field=where)
    try:
        return parse(body)
    except ValidationError as error:
        first = error.errors()[0]
        path = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise WrongSyntax(f"{path}: {first['msg']}", field=path) from None


def check_mappings(mappings: Mappings, where: str, expand: Callable[[str], str]) -> None:
    """Refuse attribute names and static values the hub could not store."""
    try:
        compile_rules([a.model_dump() for a in mappings.attributes], expand, f"{where}.attributes")
        compile_static([a.model_dump() for a in mappings.static_attributes], expand)
    except MeasureError as error:
        field = error.field if error.field.startswith(where) else f"{where}.{error.field}"
        raise WrongSyntax(error.reason, field=field) from None


def _check_type(name: str, field: str) -> str:
    if FORBIDDEN_NAME_CHARS.search(name):
        raise WrongSyntax(f"{name!r} cannot be an entity type", field=field)
    return name


def _bump(db: Session, city_id: int, apikey: str) -> None:
    db.execute(
        update(HubIotGroup)
        .where(HubIotGroup.city_id == city_id, HubIotGroup.apikey == apikey)
        .values(revision=HubIotGroup.revision + 1, modified_at=utcnow())
    )


def create_groups(
    db: Session,
    city_id: int,
    service_path: str,
    bodies: Sequence[Any],
    expand: Callable[[str], str],
) -> list[HubIotGroup]:
    """Create device groups; DuplicateGroup when an apikey is taken (in any city)."""
    rows: list[HubIotGroup] = []
    for index, body in enumerate(bodies):
        where = f"services[{index}]"
        group = validated(GroupIn.from_fiware, body, where)
        _check_type(group.entity_type, f"{where}.entity_type")
        check_mappings(group, where, expand)
        taken = db.scalar(select(HubIotGroup.id).where(HubIotGroup.apikey == group.apikey))
        if taken is not None or any(row.apikey == group.apikey for row in rows):
            raise DuplicateGroup(
                f"a group with apikey {group.apikey!r} exists", field=f"{where}.apikey"
            )
        config = group.model_dump(exclude=set(GROUP_COLUMNS) | {"type"}, exclude_none=True)
        rows.append(
            HubIotGroup(
                city_id=city_id,
                apikey=group.apikey,
                resource=group.resource,
                service_path=service_path,
                entity_type=group.entity_type,
                config=config,
            )
        )
    db.add_all(rows)
    db.flush()
    return rows


def _path_filter(model: Any, city_id: int, service_path: str) -> list[Any]:
    conditions = [model.city_id == city_id]
    if service_path != ANY_PATH:
        conditions.append(model.service_path == service_path)
    return conditions


def list_groups(
    db: Session, city_id: int, service_path: str, limit: int, offset: int
) -> tuple[list[HubIotGroup], int]:
    """Groups of the city (one service path, or all with ``/*``), and how many there are."""
    where = _path_filter(HubIotGroup, city_id, service_path)
    total = db.scalar(select(func.count(HubIotGroup.id)).where(*where)) or 0
    rows = db.scalars(
        select(HubIotGroup).where(*where).order_by(HubIotGroup.id).limit(limit).offset(offset)
    )
    return list(rows), int(total)


def get_group(
    db: Session, city_id: int, service_path: str, apikey: str, resource: str | None = None
) -> HubIotGroup:
    """A group of the city by apikey (and resource, when given)."""
    query = select(HubIotGroup).where(
        *_path_filter(HubIotGroup, city_id, service_path), HubIotGroup.apikey == apikey
    )
    if resource:
        query = query.where(HubIotGroup.resource == resource)
    row = db.scalar(query)
    if row is None:
        raise GroupNotFound(f"no device group with apikey {apikey!r} here", field="apikey")
    return row


def update_group(
    db: Session,
    city_id: int,
    service_path: str,
    apikey: str,
    resource: str | None,
    changes: Any,
    expand: Callable[[str], str],
) -> HubIotGroup:
    """Change the fields a PUT gives (the apikey itself stays)."""
    row = get_group(db, city_id, service_path, apikey, resource)
    if not isinstance(changes, dict):
        raise WrongSyntax("the body must be a JSON object", field="body")
    if changes.get("apikey", apikey) != apikey:
        raise WrongSyntax("the apikey of a group cannot change", field="apikey")
    merged = {
        **row.config,
        "apikey": row.apikey,
        "resource": row.resource,
        "entity_type": row.entity_type,
        **changes,
    }
    group = validated(GroupIn.from_fiware, merged, "body")
    _check_type(group.entity_type, "entity_type")
    check_mappings(group, "body", expand)
    row.resource, row.entity_type = group.resource, group.entity_type
    row.config = group.model_dump(exclude=set(GROUP_COLUMNS) | {"type"}, exclude_none=True)
    row.revision += 1
    row.modified_at = utcnow()
    return row


def delete_group(
    db: Session,
    city_id: int,
    service_path: str,
    apikey: str,
    resource: str | None,
    *,
    with_devices: bool,
) -> None:
    """Remove a group (and its devices when asked)."""
    row = get_group(db, city_id, service_path, apikey, resource)
    if with_devices:
        db.execute(
            delete(HubIotDevice).where(
                HubIotDevice.city_id == city_id, HubIotDevice.apikey == apikey
            )
        )
    db.delete(row)


def _group_for_device(
    db: Session, city_id: int, service_path: str, device: DeviceIn, where: str
) -> HubIotGroup:
    """The device's group: its apikey's (in this city), else the only one of its type."""
    if device.apikey is not None:
        row = db.scalar(
            select(HubIotGroup).where(
                HubIotGroup.city_id == city_id, HubIotGroup.apikey == device.apikey
            )
        )
        if row is None:
            raise GroupNotFound(
                f"no device group with apikey {device.apikey!r} here", field=f"{where}.apikey"
            )
        return row
    query = select(HubIotGroup).where(
        HubIotGroup.city_id == city_id, HubIotGroup.service_path == service_path
    )
    if device.entity_type is not None:
        query = query.where(HubIotGroup.entity_type == device.entity_type)
    candidates = list(db.scalars(query.limit(2)))
    if len(candidates) != 1:
        raise WrongSyntax("give the apikey of the device's group", field=f"{where}.apikey")
    return candidates[0]


def create_devices(
    db: Session,
    city_id: int,
    service_path: str,
    bodies: Sequence[Any],
    expand: Callable[[str], str],
) -> list[HubIotDevice]:
    """Provision devices; an autoprovisioned device of the same id is taken over."""
    rows: list[HubIotDevice] = []
    for index, body in enumerate(bodies):
        where = f"devices[{index}]"
        device = validated(DeviceIn.model_validate, body, where)
        group = _group_for_device(db, city_id, service_path, device, where)
        rows.append(_provision(db, city_id, service_path, group, device, where, expand))
    db.flush()
    return rows


def _provision(
    db: Session,
    city_id: int,
    service_path: str,
    group: HubIotGroup,
    device: DeviceIn,
    where: str,
    expand: Callable[[str], str],
) -> HubIotDevice:
    check_mappings(device, where, expand)
    entity_type = _check_type(device.entity_type or group.entity_type, f"{where}.entity_type")
    entity_id = device.entity_name or default_entity_id(entity_type, device.device_id)
    if not URI.match(entity_id):
        raise WrongSyntax(
            f"entity_name must be a URI, got {entity_id!r}", field=f"{where}.entity_name"
        )
    existing = db.scalar(
        select(HubIotDevice).where(
            HubIotDevice.apikey == group.apikey, HubIotDevice.device_id == device.device_id
        )
    )
    if existing is not None and not existing.autoprovisioned:
        raise DuplicateDevice(
            f"device {device.device_id!r} exists in this group", field=f"{where}.device_id"
        )
    if existing is not None:
        db.delete(existing)
        db.flush()
    row = HubIotDevice(
        city_id=city_id,
        device_id=device.device_id,
        apikey=group.apikey,
        service_path=service_path,
        entity_id=entity_id,
        entity_type=entity_type,
        config=device.model_dump(exclude=set(DEVICE_COLUMNS), exclude_none=True),
    )
    db.add(row)
    _bump(db, city_id, group.apikey)
    return row


def list_devices(
    db: Session, city_id: int, service_path: str, limit: int, offset: int
) -> tuple[list[HubIotDevice], int]:
    """Devices of the city (one service path, or all with ``/*``), and how many there are."""
    where = _path_filter(HubIotDevice, city_id, service_path)
    total = db.scalar(select(func.count(HubIotDevice.id)).where(*where)) or 0
    rows = db.scalars(
        select(HubIotDevice).where(*where).order_by(HubIotDevice.id).limit(limit).offset(offset)
    )
    return list(rows), int(total)


def get_device(
    db: Session, city_id: int, service_path: str, device_id: str, apikey: str | None = None
) -> HubIotDevice:
    """A device of the city by id (and apikey, when several groups use the id)."""
    query = select(HubIotDevice).where(
        *_path_filter(HubIotDevice, city_id, service_path), HubIotDevice.device_id == device_id
    )
    if apikey:
        query = query.where(HubIotDevice.apikey == apikey)
    rows = list(db.scalars(query.limit(2)))
    if not rows:
        raise DeviceNotFound(f"no device {device_id!r} here", field="deviceId")
    if len(rows) > 1:
        raise WrongSyntax(
            f"several groups have a device {device_id!r}: give ?apikey=", field="apikey"
        )
    return rows[0]


def update_device(
    db: Session,
    city_id: int,
    service_path: str,
    device_id: str,
    apikey: str | None,
    changes: Any,
    expand: Callable[[str], str],
) -> HubIotDevice:
    """Change a device's mappings; its id, entity and group stay."""
    row = get_device(db, city_id, service_path, device_id, apikey)
    if not isinstance(changes, dict):
        raise WrongSyntax("the body must be a JSON object", field="body")
    current = {
        "device_id": row.device_id,
        "apikey": row.apikey,
        "entity_name": row.entity_id,
        "entity_type": row.entity_type,
    }
    for name in FIXED_DEVICE_FIELDS:
        if name in changes and changes[name] != current[name]:
            raise WrongSyntax(f"{name} of a device cannot change", field=name)
    device = validated(DeviceIn.model_validate, {**row.config, **changes, **current}, "body")
    check_mappings(device, "body", expand)
    row.config = device.model_dump(exclude=set(DEVICE_COLUMNS), exclude_none=True)
    row.autoprovisioned = False
    row.modified_at = utcnow()
    _bump(db, city_id, row.apikey)
    return row


def delete_device(
    db: Session, city_id: int, service_path: str, device_id: str, apikey: str | None
) -> None:
    """Remove a device (its entity and history stay in the hub)."""
    row = get_device(db, city_id, service_path, device_id, apikey)
    _bump(db, city_id, row.apikey)
    db.delete(row)
