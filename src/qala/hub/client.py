"""The in-process hub API other modules use (``qala.hub.client``): upsert entities, append
measurements, query, read history. Plain data in and out, no HTTP; the caller owns the
transaction. Names are NGSI-LD short names under the core context unless given as IRIs."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from qala.hub import service
from qala.hub.ngsild import attributes as ops
from qala.hub.ngsild.context import ContextCache, TermMap
from qala.hub.ngsild.errors import ResourceNotFound
from qala.hub.ngsild.model import now_iso, parse_attributes, parse_entity
from qala.hub.ngsild.query import parse_q, parse_type_selection
from qala.hub.ngsild.render import View, render_entity
from qala.hub.runtime import default_hub
from qala.hub.temporal.grouped import EntityTotal, GroupBucket, entity_totals, sum_rollups
from qala.hub.temporal.store import (
    Bucket,
    Point,
    append_measurements,
    read_rollup,
    read_series,
)

__all__ = [
    "Bucket",
    "EntityTotal",
    "GroupBucket",
    "Point",
    "append_measurements",
    "delete_entity",
    "entity_ids",
    "entity_totals",
    "get_entity",
    "query",
    "read_rollup",
    "read_series",
    "sum_rollups",
    "update_attributes",
    "upsert_entity",
]

Entity = dict[str, Any]


@functools.cache
def _core_terms() -> TermMap:
    return ContextCache().term_map(None)


def upsert_entity(db: Session, city_id: int, entity: Mapping[str, Any]) -> bool:
    """Create the entity, or replace the attributes it gives; True when it was created."""
    terms = _core_terms()
    parsed = parse_entity(dict(entity), terms)
    hub = default_hub()
    try:
        service.get_entity(db, city_id, parsed["id"])
    except ResourceNotFound:
        service.create_entity(hub, db, city_id, parsed)
        return True
    service.modify_entity(
        hub,
        db,
        city_id,
        parsed["id"],
        lambda current: ops.append_attributes(current, parsed["attrs"], parsed["modifiedAt"]),
    )
    return False


def update_attributes(db: Session, city_id: int, entity_id: str, values: Mapping[str, Any]) -> None:
    """Set attributes of an existing entity (normalized or concise fragments)."""
    stamp = now_iso()
    attrs = parse_attributes(dict(values), _core_terms(), stamp=stamp)
    service.modify_entity(
        default_hub(),
        db,
        city_id,
        entity_id,
        lambda current: ops.append_attributes(current, attrs, stamp),
    )


def get_entity(db: Session, city_id: int, entity_id: str, *, key_values: bool = True) -> Entity:
    """An entity rendered under the core context (keyValues by default)."""
    view = View(_core_terms(), form="keyValues" if key_values else "normalized")
    return render_entity(service.get_entity(db, city_id, entity_id), view)


def query(
    db: Session,
    city_id: int,
    *,
    type: str | None = None,
    q: str | None = None,
    limit: int = 1000,
    offset: int = 0,
    key_values: bool = True,
) -> tuple[list[Entity], int]:
    """Entities of a city by type and ``q``, rendered, with the total count."""
    terms = _core_terms()
    types, candidates = parse_type_selection(type, terms) if type else (None, None)
    spec = service.EntityQuery(
        types=types,
        type_candidates=candidates,
        q=parse_q(q, terms) if q else None,
        limit=limit,
        offset=offset,
    )
    entities, total = service.query_entities(db, city_id, spec)
    view = View(terms, form="keyValues" if key_values else "normalized")
    return [render_entity(entity, view) for entity in entities], total


def delete_entity(db: Session, city_id: int, entity_id: str) -> None:
    """Delete an entity."""
    service.delete_entity(default_hub(), db, city_id, entity_id)


def entity_ids(db: Session, city_id: int, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` exist in the city's hub."""
    return service.existing_ids(db, city_id, ids)
