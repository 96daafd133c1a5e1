"""Temporal entity operations behind the NGSI-LD temporal API: create or extend a temporal
entity, query temporal entities (with the entity query's id/type/q/geo filters) and build
their temporal representations. No HTTP, no commit."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qala.hub import service as entities
from qala.hub.models import HubEntity
from qala.hub.ngsild.errors import BadRequestData, ResourceNotFound
from qala.hub.ngsild.render import View
from qala.hub.service import EntityQuery, Hub
from qala.hub.temporal import reading, representation, store
from qala.hub.temporal.history import TemporalBody
from qala.hub.temporal.query import Representation, TemporalQuery
from qala.hub.temporal.writing import append_points

Entity = dict[str, Any]


def create_or_append(hub: Hub, db: Session, city_id: int, body: TemporalBody, stamp: str) -> bool:
    """Keep a temporal entity's instances; True when the temporal entity is new. A new one
    that is not a current entity yet becomes one, holding the newest instances."""
    created = store.upsert_entity(db, city_id, body.entity_id, body.types, body.scope)
    if created and not entities.existing_ids(db, city_id, [body.entity_id]):
        current: Entity = {
            "id": body.entity_id,
            "type": body.types,
            "createdAt": stamp,
            "modifiedAt": stamp,
            "attrs": body.latest(),
        }
        if body.scope:
            current["scope"] = body.scope
        entities.create_entity(hub, db, city_id, current)
    append_points(db, city_id, body.points())
    return created


def append_instances(db: Session, city_id: int, body: TemporalBody) -> None:
    """Add instances to an existing temporal entity (ResourceNotFound otherwise)."""
    if store.get_entity(db, city_id, body.entity_id) is None:
        raise ResourceNotFound(f"no temporal entity {body.entity_id}", field="entityId")
    append_points(db, city_id, body.points())


def require_entity(db: Session, city_id: int, entity_id: str) -> store.TemporalEntity:
    """The temporal entity, or ResourceNotFound."""
    found = store.get_entity(db, city_id, entity_id)
    if found is None:
        raise ResourceNotFound(f"no temporal entity {entity_id}", field="entityId")
    return found


def require_attributes(
    db: Session, city_id: int, entity: store.TemporalEntity, attrs: Collection[str] | None
) -> None:
    """ResourceNotFound when ``attrs`` are asked for and the entity never had any of them."""
    if attrs and not reading.entities_having(
        db, city_id, [entity.entity_id], attrs, reading.Window()
    ):
        raise ResourceNotFound(
            f"entity {entity.entity_id} has no history of the attributes asked for", field="attrs"
        )


@dataclass(frozen=True)
class TemporalRequest:
    """What a client asked for: which instances, which attributes, in which form."""

    query: TemporalQuery
    representation: Representation
    view: View
    attrs: frozenset[str] | None = None  # attribute IRIs
    datasets: frozenset[str] | None = None  # '' = the default instance


def render_entities(
    db: Session, city_id: int, found: Sequence[store.TemporalEntity], request: TemporalRequest
) -> list[Entity]:
    """The temporal representations of ``found``, in the form asked for."""
    ids = [entity.entity_id for entity in found]
    query, view, form = request.query, request.view, request.representation
    if form.form == "aggregatedValues":
        series = reading.aggregate_history(
            db, city_id, ids, request.attrs, query.window, form.duration, form.methods
        )
        by_entity = representation.group_series(series)
        return [
            representation.render_aggregated(e, by_entity.get(e.entity_id, []), view, query.last_n)
            for e in found
        ]
    system_times = view.sys_attrs or query.timeproperty in ("createdAt", "modifiedAt")
    rows = reading.read_instances(
        db,
        city_id,
        ids,
        request.attrs,
        query.window,
        last_n=query.last_n,
        datasets=request.datasets,
        system_times=system_times,
    )
    by_entity_rows = representation.group_rows(rows)
    render = (
        representation.render_simplified
        if form.form == "temporalValues"
        else representation.render_normalized
    )
    return [render(e, by_entity_rows.get(e.entity_id, []), view, query.timeproperty) for e in found]


def query_entities(
    db: Session, city_id: int, spec: EntityQuery, request: TemporalRequest
) -> tuple[list[store.TemporalEntity], int]:
    """Temporal entities matching an entity query (ordered by id), and how many match."""
    found = store.find_entities(db, city_id, spec.ids, spec.type_candidates)
    if spec.id_pattern is not None:
        try:
            pattern = re.compile(spec.id_pattern)
        except re.error as error:
            raise BadRequestData(
                f"idPattern is not a valid regex: {error}", field="idPattern"
            ) from None
        found = [e for e in found if pattern.search(e.entity_id)]
    if spec.types is not None:
        types = spec.types
        found = [e for e in found if types({"id": e.entity_id, "type": e.types, "attrs": {}})]
    if spec.attrs:
        having = reading.entities_having(
            db, city_id, [e.entity_id for e in found], spec.attrs, request.query.window
        )
        found = [e for e in found if e.entity_id in having]
    predicates = [p for p in (spec.q, spec.geo, spec.scope) if p is not None]
    if predicates and found:
        states = current_states(db, city_id, found)
        found = [e for e in found if all(check(states[e.entity_id]) for check in predicates)]
    return found[spec.offset : spec.offset + spec.limit], len(found)


def current_states(
    db: Session, city_id: int, found: Collection[store.TemporalEntity]
) -> dict[str, Entity]:
    """Each entity's current state (what q and geo-queries look at): the entity itself when
    it exists, else the newest instance of each attribute in its history."""
    ids = [entity.entity_id for entity in found]
    rows = db.execute(
        select(HubEntity.entity_id, HubEntity.data).where(
            HubEntity.city_id == city_id, HubEntity.entity_id.in_(ids)
        )
    )
    states: dict[str, Entity] = {str(entity_id): data for entity_id, data in rows}
    missing = [e for e in found if e.entity_id not in states]
    latest = representation.group_rows(
        reading.read_instances(
            db, city_id, [e.entity_id for e in missing], None, reading.Window(), last_n=1
        )
    )
    for entity in missing:
        attrs: dict[str, list[dict[str, Any]]] = {}
        for row in latest.get(entity.entity_id, []):
            attrs.setdefault(row.attribute, []).append(row.instance())
        state: Entity = {"id": entity.entity_id, "type": entity.types, "attrs": attrs}
        if entity.scope:
            state["scope"] = entity.scope
        states[entity.entity_id] = state
    return states
