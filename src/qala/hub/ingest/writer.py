"""A batch of readings written into the hub in the caller's transaction: grouped by entity,
one read of every entity in the batch, all updates applied in memory, each changed entity
written back once, and every reading passed to the hub's listeners as a ``Change``.

An attribute keeps its newest observation: a reading older than the stored one (a late or
redelivered message) is passed to the listeners (history) but does not roll the entity back;
a reading equal to the stored one (same observedAt, same value) changes nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from qala.core.db import utcnow
from qala.hub.ingest.measure import Reading
from qala.hub.models import HubEntity, HubEntityType
from qala.hub.ngsild.model import LOCATION, now_iso
from qala.hub.service import Change, Hub, location_bbox

Entity = dict[str, Any]
Instance = dict[str, Any]
IN_CHUNK = 500
SYSTEM = frozenset({"createdAt", "modifiedAt"})


@dataclass(frozen=True)
class WriteResult:
    """What a batch did."""

    readings: int
    points: int
    created: int
    updated: int
    changes: int


@dataclass
class _Target:
    """One entity of the batch: its row (None when new), stored form and pending changes."""

    pk: int | None
    entity: Entity | None
    touched: bool = False
    location_moved: bool = False


def write_readings(hub: Hub, db: Session, readings: Sequence[Reading]) -> WriteResult:
    """Apply ``readings`` (in order) to their entities; the caller commits."""
    stamp = now_iso()
    by_city: dict[int, dict[str, list[Reading]]] = {}
    for reading in readings:
        by_city.setdefault(reading.profile.city_id, {}).setdefault(
            reading.profile.entity_id, []
        ).append(reading)
    changes: list[Change] = []
    created = updated = 0
    for city_id in sorted(by_city):
        batch = by_city[city_id]
        targets = _load(db, city_id, sorted(batch))
        for entity_id in sorted(batch):
            target = targets.setdefault(entity_id, _Target(None, None))
            changes.extend(_apply(city_id, target, batch[entity_id], stamp))
        created += _insert_new(db, city_id, targets)
        updated += _update_changed(db, targets)
    notify(hub, db, changes)
    points = sum(len(reading.attrs) for reading in readings)
    return WriteResult(len(readings), points, created, updated, len(changes))


def notify(hub: Hub, db: Session, changes: Sequence[Change]) -> None:
    """Pass the changes to the hub's listeners (in bulk where a listener can)."""
    if changes:
        hub.changed_many(db, changes)


def _load(db: Session, city_id: int, entity_ids: list[str]) -> dict[str, _Target]:
    """Every stored entity of the batch, locked (PostgreSQL) in id order against deadlocks."""
    targets: dict[str, _Target] = {}
    for start in range(0, len(entity_ids), IN_CHUNK):
        chunk = entity_ids[start : start + IN_CHUNK]
        query = (
            select(HubEntity.id, HubEntity.entity_id, HubEntity.data)
            .where(HubEntity.city_id == city_id, HubEntity.entity_id.in_(chunk))
            .order_by(HubEntity.entity_id)
            .with_for_update()
        )
        for pk, entity_id, data in db.execute(query):
            targets[entity_id] = _Target(pk, data)
    return targets


def _apply(city_id: int, target: _Target, readings: list[Reading], stamp: str) -> list[Change]:
    """Apply one entity's readings in memory; the changes they make, in order."""
    changes: list[Change] = []
    profile = readings[0].profile
    creating = target.entity is None
    if target.entity is None:
        attrs = {
            iri: [_stamped(instance, stamp, stamp) for instance in instances]
            for iri, instances in profile.static.items()
        }
        target.entity = {
            "id": profile.entity_id,
            "type": list(profile.entity_types),
            "createdAt": stamp,
            "modifiedAt": stamp,
            "attrs": attrs,
        }
    static = _missing_static(target.entity, profile.static, stamp)
    for index, reading in enumerate(readings):
        current = target.entity
        fresh, late = _split(current["attrs"], reading.attrs, stamp)
        if index == 0:
            fresh = {**static, **fresh}
        if index == 0 and creating:
            after = {**current, "attrs": {**current["attrs"], **fresh}}
            changes.append(Change(city_id, profile.entity_id, None, after, tuple(after["attrs"])))
            target.entity, target.touched = after, True
            target.location_moved = LOCATION in after["attrs"]
            continue
        if fresh:
            after = {**current, "modifiedAt": stamp, "attrs": {**current["attrs"], **fresh}}
            changes.append(Change(city_id, profile.entity_id, current, after, tuple(fresh)))
            target.entity, target.touched = after, True
            target.location_moved = target.location_moved or LOCATION in fresh
        if late:
            seen = {**current, "attrs": {**current["attrs"], **late}}
            changes.append(Change(city_id, profile.entity_id, current, seen, tuple(late)))
    return changes


def _split(
    stored: dict[str, list[Instance]], attrs: dict[str, Instance], stamp: str
) -> tuple[dict[str, list[Instance]], dict[str, list[Instance]]]:
    """New instance lists of the attributes a reading moves forward, and of late ones.
    The reading's instances are its own: they are stamped in place."""
    fresh: dict[str, list[Instance]] = {}
    late: dict[str, list[Instance]] = {}
    for iri, instance in attrs.items():
        old_list = stored.get(iri)
        if old_list is not None and len(old_list) == 1 and "datasetId" not in old_list[0]:
            old: Instance | None = old_list[0]
        else:
            old = _default_instance(old_list)
        instance["modifiedAt"] = stamp
        if old is None:
            instance["createdAt"] = stamp
            fresh[iri] = [*(old_list or ()), instance]
            continue
        old_time, new_time = old.get("observedAt") or "", instance["observedAt"]
        if new_time < old_time:
            instance["createdAt"] = stamp
            late[iri] = _replaced(old_list, old, instance)
        elif new_time > old_time or not _same(old, instance):
            instance["createdAt"] = old.get("createdAt", stamp)
            fresh[iri] = _replaced(old_list, old, instance)
    return fresh, late


def _default_instance(instances: list[Instance] | None) -> Instance | None:
    for instance in instances or ():
        if instance.get("datasetId") is None:
            return instance
    return None


def _replaced(instances: Any, old: Instance, new: Instance) -> list[Instance]:
    if len(instances) == 1:
        return [new]
    return [new if item is old else item for item in instances]


def _same(old: Instance, new: Instance) -> bool:
    keys = (old.keys() | new.keys()) - SYSTEM
    return all(old.get(key) == new.get(key) for key in keys)


def _stamped(instance: Instance, created: str, modified: str) -> Instance:
    return {**instance, "createdAt": created, "modifiedAt": modified}


def _missing_static(
    entity: Entity, static: Mapping[str, list[Instance]], stamp: str
) -> dict[str, list[Instance]]:
    """Static attributes the entity lacks or holds with another value."""
    missing: dict[str, list[Instance]] = {}
    for iri, instances in static.items():
        old = _default_instance(entity["attrs"].get(iri))
        if old is None or not _same(old, instances[0]):
            missing[iri] = [_stamped(instance, stamp, stamp) for instance in instances]
    return missing


def _row_values(target: _Target) -> dict[str, Any]:
    entity = target.entity
    assert entity is not None
    values: dict[str, Any] = {"data": entity, "modified_at": utcnow()}
    if target.location_moved:
        box = location_bbox(entity)
        values.update(
            zip(("min_lon", "min_lat", "max_lon", "max_lat"), box or (None,) * 4, strict=True)
        )
    return values


def _insert_new(db: Session, city_id: int, targets: dict[str, _Target]) -> int:
    new = [(entity_id, t) for entity_id, t in targets.items() if t.pk is None and t.touched]
    if not new:
        return 0
    now = utcnow()
    rows = [
        {"city_id": city_id, "entity_id": entity_id, "created_at": now, **_row_values(t)}
        for entity_id, t in new
    ]
    for row in rows:
        row.setdefault("min_lon", None)
        row.setdefault("min_lat", None)
        row.setdefault("max_lon", None)
        row.setdefault("max_lat", None)
    statement = insert(HubEntity).returning(
        HubEntity.id, HubEntity.entity_id, sort_by_parameter_order=True
    )
    ids = {entity_id: pk for pk, entity_id in db.execute(statement, rows)}
    types = [
        {"city_id": city_id, "entity_pk": ids[entity_id], "type": type_iri}
        for entity_id, t in new
        for type_iri in (t.entity or {}).get("type", ())
    ]
    if types:
        db.execute(insert(HubEntityType), types)
    return len(new)


def _update_changed(db: Session, targets: dict[str, _Target]) -> int:
    rows = [
        {"pk": t.pk, **_row_values(t)} for t in targets.values() if t.pk is not None and t.touched
    ]
    table = cast(Table, HubEntity.__table__)
    plain = [row for row in rows if "min_lon" not in row]
    moved = [row for row in rows if "min_lon" in row]
    for group in (plain, moved):
        if group:
            columns: dict[str, Any] = {key: bindparam(key) for key in group[0] if key != "pk"}
            statement = update(table).where(table.c.id == bindparam("pk")).values(columns)
            db.execute(statement, group)
    return len(rows)
