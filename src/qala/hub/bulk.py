"""Many entity writes in one go (NGSI-LD batch operations): load the current state of a set of
entities with a few queries, then insert, update and delete their rows in bulk inside one
savepoint; only when that fails is each entity retried in its own savepoint, so one bad entity
cannot block the others. Every change goes to the hub's listeners. No HTTP, no commit."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from qala.hub import service
from qala.hub.models import HubEntity, HubEntityType
from qala.hub.service import Change, Hub

log = logging.getLogger(__name__)
Entity = dict[str, Any]
#: Ids per ``IN (...)`` query (well under SQLite's and PostgreSQL's parameter limits).
CHUNK = 500


@dataclass(frozen=True)
class Write:
    """The net change of one entity: its state before and after (None: absent)."""

    entity_id: str
    before: Entity | None
    after: Entity | None
    attributes: tuple[str, ...] = ()  # IRIs of the attributes that changed


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def load_rows(
    db: Session, city_id: int, entity_ids: Iterable[str], *, lock: bool
) -> dict[str, HubEntity]:
    """The rows of those entities that exist in the city (locked for update when asked)."""
    wanted = sorted(set(entity_ids))
    rows: dict[str, HubEntity] = {}
    for chunk in _chunks(wanted):
        query = select(HubEntity).where(
            HubEntity.city_id == city_id, HubEntity.entity_id.in_(chunk)
        )
        if lock:  # in id order, so two batches touching the same entities cannot deadlock
            query = query.order_by(HubEntity.entity_id).with_for_update()
        rows.update((row.entity_id, row) for row in db.scalars(query))
    return rows


def write_entities(
    hub: Hub, db: Session, city_id: int, rows: dict[str, HubEntity], writes: Sequence[Write]
) -> dict[str, Exception]:
    """Apply the writes; the ones that failed, by entity id (the others are done)."""
    if not writes:
        return {}
    try:
        with db.begin_nested():
            _write(hub, db, city_id, rows, writes)
        return {}
    except Exception as error:  # noqa: BLE001 - isolate the failure, entity by entity
        log.info("bulk write of %d entities failed (%s); retrying one by one", len(writes), error)
    failed: dict[str, Exception] = {}
    for write in writes:
        try:
            with db.begin_nested():
                _write(hub, db, city_id, rows, [write])
        except Exception as error:  # noqa: BLE001 - reported for this entity alone
            failed[write.entity_id] = error
    return failed


def _write(
    hub: Hub, db: Session, city_id: int, rows: dict[str, HubEntity], writes: Sequence[Write]
) -> None:
    created: list[tuple[HubEntity, list[str]]] = []
    retyped: list[tuple[HubEntity, list[str]]] = []
    for write in writes:
        if write.after is None:
            db.delete(rows[write.entity_id])
        elif write.before is None:
            row = service.new_entity_row(city_id, write.after)
            db.add(row)
            created.append((row, write.after["type"]))
        else:
            row = rows[write.entity_id]
            service.store_entity(row, write.after)
            if write.after["type"] != write.before["type"]:
                retyped.append((row, write.after["type"]))
    db.flush()
    if retyped:
        pks = [row.id for row, _types in retyped]
        db.execute(delete(HubEntityType).where(HubEntityType.entity_pk.in_(pks)))
    db.add_all(
        HubEntityType(city_id=city_id, entity_pk=row.id, type=iri)
        for row, types in (*created, *retyped)
        for iri in types
    )
    db.flush()
    hub.changed_many(
        db, [Change(city_id, w.entity_id, w.before, w.after, w.attributes) for w in writes]
    )
