"""The hub's entity operations: create, read, change, delete and query NGSI-LD entities of a
city. No HTTP, no commit; every change is passed on (history, subscriptions) in the same
transaction."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from qala.core.db import utcnow
from qala.hub.models import HubEntity, HubEntityType
from qala.hub.ngsild import attributes as ops
from qala.hub.ngsild.errors import AlreadyExists, BadRequestData, ResourceNotFound
from qala.hub.ngsild.model import LOCATION

Entity = dict[str, Any]
EntityPredicate = Callable[[Entity], bool]


@dataclass(frozen=True)
class Change:
    """One entity changed: its state before and after (None when created or deleted)."""

    city_id: int
    entity_id: str
    before: Entity | None
    after: Entity | None
    attributes: tuple[str, ...] = ()  # IRIs of the attributes that changed


#: Called with every change, inside the writer's transaction (temporal history, subscriptions).
ChangeListener = Callable[[Session, Change], None]
#: The batch form of a listener: the same work for many changes at once (bulk writes).
BatchListener = Callable[[Session, Sequence[Change]], None]


@dataclass
class Hub:
    """The entity store of one deployment, with the listeners that follow its changes."""

    listeners: list[ChangeListener] = field(default_factory=list)
    batched: dict[ChangeListener, BatchListener] = field(default_factory=dict)

    def changed(self, db: Session, change: Change) -> None:
        """Pass a change to every listener."""
        for listener in self.listeners:
            listener(db, change)

    def changed_many(self, db: Session, changes: Sequence[Change]) -> None:
        """Pass many changes to every listener, through its batch form when it has one."""
        for listener in self.listeners:
            batch = self.batched.get(listener)
            if batch is not None:
                batch(db, changes)
            else:
                for change in changes:
                    listener(db, change)


def location_bbox(entity: Entity) -> tuple[float, float, float, float] | None:
    """The box (lon/lat) around every ``location`` instance: the geo-query pre-filter."""
    boxes = []
    for instance in entity["attrs"].get(LOCATION, []):
        if instance.get("type") != "GeoProperty":
            continue
        value = instance["value"]
        if value.get("type") == "Point":
            lon, lat = (float(c) for c in value["coordinates"][:2])
            boxes.append((lon, lat, lon, lat))
        else:
            from shapely.geometry import shape

            boxes.append(tuple(shape(value).bounds))
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _apply_row(row: HubEntity, entity: Entity) -> None:
    row.data = entity
    row.modified_at = utcnow()
    box = location_bbox(entity)
    row.min_lon, row.min_lat, row.max_lon, row.max_lat = box if box else (None,) * 4


def new_entity_row(city_id: int, entity: Entity) -> HubEntity:
    """A row holding a new entity (the caller adds it to the session and sets its types)."""
    row = HubEntity(city_id=city_id, entity_id=entity["id"])
    _apply_row(row, entity)
    return row


def store_entity(row: HubEntity, entity: Entity) -> None:
    """Put the new state of an entity into its row (data, modification time, bounding box)."""
    _apply_row(row, entity)


def _row(db: Session, city_id: int, entity_id: str, *, lock: bool = False) -> HubEntity:
    query = select(HubEntity).where(HubEntity.city_id == city_id, HubEntity.entity_id == entity_id)
    if lock:
        query = query.with_for_update()
    row = db.scalar(query)
    if row is None:
        raise ResourceNotFound(f"no entity {entity_id}", field="id")
    return row


def _set_types(db: Session, row: HubEntity, types: Sequence[str]) -> None:
    db.execute(delete(HubEntityType).where(HubEntityType.entity_pk == row.id))
    db.add_all(HubEntityType(city_id=row.city_id, entity_pk=row.id, type=t) for t in types)


def create_entity(hub: Hub, db: Session, city_id: int, entity: Entity) -> None:
    """Create an entity; AlreadyExists when the id is taken in this city."""
    exists = db.scalar(
        select(HubEntity.id).where(
            HubEntity.city_id == city_id, HubEntity.entity_id == entity["id"]
        )
    )
    if exists is not None:
        raise AlreadyExists(f"entity {entity['id']} exists already", field="id")
    row = HubEntity(city_id=city_id, entity_id=entity["id"])
    _apply_row(row, entity)
    db.add(row)
    db.flush()
    _set_types(db, row, entity["type"])
    hub.changed(db, Change(city_id, entity["id"], None, entity, tuple(entity["attrs"])))


def get_entity(db: Session, city_id: int, entity_id: str) -> Entity:
    """The stored entity, or ResourceNotFound."""
    data: Entity = _row(db, city_id, entity_id).data
    return data


def delete_entity(hub: Hub, db: Session, city_id: int, entity_id: str) -> None:
    """Delete an entity and its types (its history stays in the temporal store)."""
    row = _row(db, city_id, entity_id)
    before = row.data
    db.delete(row)
    hub.changed(db, Change(city_id, entity_id, before, None, tuple(before["attrs"])))


def modify_entity(
    hub: Hub,
    db: Session,
    city_id: int,
    entity_id: str,
    operation: Callable[[Entity], ops.Outcome | bool],
) -> ops.Outcome | bool:
    """Apply ``operation`` to a copy of the entity, save it and report the change."""
    row = _row(db, city_id, entity_id, lock=True)
    before = row.data
    after = copy.deepcopy(before)
    outcome = operation(after)
    changed = outcome.updated if isinstance(outcome, ops.Outcome) else None
    if outcome if isinstance(outcome, bool) else outcome.changed:
        _apply_row(row, after)
        if after["type"] != before["type"]:
            _set_types(db, row, after["type"])
        names = tuple(changed) if changed is not None else _diff(before, after)
        hub.changed(db, Change(city_id, entity_id, before, after, names))
    return outcome


def _diff(before: Entity, after: Entity) -> tuple[str, ...]:
    names = set(before["attrs"]) | set(after["attrs"])
    return tuple(n for n in names if before["attrs"].get(n) != after["attrs"].get(n))


@dataclass(frozen=True)
class EntityQuery:
    """What to look for: ids, id pattern, types, attributes present, q and geo filters."""

    ids: tuple[str, ...] = ()
    id_pattern: str | None = None
    types: EntityPredicate | None = None  # over the expanded type list
    type_candidates: tuple[str, ...] | None = None  # IRIs, for the SQL pre-filter
    attrs: tuple[str, ...] = ()  # IRIs; the entity must have at least one
    q: EntityPredicate | None = None
    geo: EntityPredicate | None = None
    bbox: tuple[float, float, float, float] | None = None  # geo pre-filter (lon/lat)
    scope: EntityPredicate | None = None
    limit: int = 20
    offset: int = 0
    where: tuple[Any, ...] = ()  # SQL pre-filters (necessary conditions, e.g. from q)
    count: bool = True  # False: the total may stop at offset + limit (no full scan for it)


def query_entities(db: Session, city_id: int, spec: EntityQuery) -> tuple[list[Entity], int]:
    """Entities matching ``spec`` (ordered by id), and how many match in all (without
    ``spec.count``, at least how many were skipped and returned: the scan stops at the page)."""
    query = select(HubEntity.data).where(HubEntity.city_id == city_id)
    if spec.ids:
        query = query.where(HubEntity.entity_id.in_(spec.ids))
    if spec.type_candidates is not None:
        typed = select(HubEntityType.entity_pk).where(
            HubEntityType.city_id == city_id, HubEntityType.type.in_(spec.type_candidates)
        )
        query = query.where(HubEntity.id.in_(typed))
    if spec.bbox is not None:
        west, south, east, north = spec.bbox
        query = query.where(
            and_(
                HubEntity.min_lon.is_not(None),
                HubEntity.max_lon >= west,
                HubEntity.min_lon <= east,
                HubEntity.max_lat >= south,
                HubEntity.min_lat <= north,
            )
        )
    for condition in spec.where:
        query = query.where(condition)
    query = query.order_by(HubEntity.entity_id)
    filters = _python_filters(spec)
    if not filters:
        page = [dict(item) for item in db.scalars(query.offset(spec.offset).limit(spec.limit))]
        if not spec.count:
            return page, spec.offset + len(page)
        total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
        return page, int(total)
    matched: list[Entity] = []
    total = 0
    end = spec.offset + spec.limit
    for data in db.scalars(query.execution_options(yield_per=min(500, max(end, 50)))):
        if all(check(data) for check in filters):
            if spec.offset <= total < end:
                matched.append(data)
            total += 1
            if total >= end and not spec.count:
                break
    return matched, total


def _python_filters(spec: EntityQuery) -> list[EntityPredicate]:
    filters: list[EntityPredicate] = []
    if spec.id_pattern is not None:
        try:
            pattern = re.compile(spec.id_pattern)
        except re.error as error:
            raise BadRequestData(
                f"idPattern is not a valid regex: {error}", field="idPattern"
            ) from None
        filters.append(lambda entity: pattern.search(entity["id"]) is not None)
    if spec.types is not None:
        types = spec.types
        filters.append(types)
    if spec.attrs:
        wanted = set(spec.attrs)
        filters.append(lambda entity: bool(wanted & entity["attrs"].keys()))
    for predicate in (spec.q, spec.geo, spec.scope):
        if predicate is not None:
            filters.append(predicate)
    return filters


def entity_types(db: Session, city_id: int) -> list[tuple[str, int]]:
    """Every entity type of a city with how many entities have it."""
    rows = db.execute(
        select(HubEntityType.type, func.count(HubEntityType.id))
        .where(HubEntityType.city_id == city_id)
        .group_by(HubEntityType.type)
        .order_by(HubEntityType.type)
    )
    return [(str(t), int(n)) for t, n in rows]


def iter_entities(
    db: Session, city_id: int, types: Iterable[str] | None = None
) -> Iterable[Entity]:
    """Every entity of a city (optionally of some types), streamed."""
    query = select(HubEntity.data).where(HubEntity.city_id == city_id)
    if types is not None:
        typed = select(HubEntityType.entity_pk).where(
            HubEntityType.city_id == city_id, HubEntityType.type.in_(list(types))
        )
        query = query.where(HubEntity.id.in_(typed))
    yield from db.scalars(query.execution_options(yield_per=500))


def existing_ids(db: Session, city_id: int, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` exist in the city."""
    wanted = list(ids)
    if not wanted:
        return set()
    rows = db.scalars(
        select(HubEntity.entity_id).where(
            HubEntity.city_id == city_id, or_(HubEntity.entity_id.in_(wanted))
        )
    )
    return set(rows)


def count_entities(db: Session, city_id: int) -> int:
    """How many entities the city has."""
    return int(db.scalar(select(func.count(HubEntity.id)).where(HubEntity.city_id == city_id)) or 0)


def as_mapping(entity: Mapping[str, Any]) -> Entity:
    """A deep copy of a stored entity, safe to change."""
    return copy.deepcopy(dict(entity))
