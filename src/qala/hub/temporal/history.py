"""History recording: every change of an entity (through the entity API, batch operations or
the in-process client) becomes temporal rows, one bulk insert per change; and temporal
entity bodies (attribute → array of instances) become points to keep."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.errors import BadRequestData
from qala.hub.ngsild.model import (
    RESERVED_ENTITY_MEMBERS,
    check_uri,
    parse_instance,
    parse_time,
    parse_types,
)
from qala.hub.service import Change
from qala.hub.temporal import store
from qala.hub.temporal.models import KIND_DELETED, KIND_MODIFIED, KIND_OBSERVED
from qala.hub.temporal.writing import Point, append_points

NULL = "urn:ngsi-ld:null"
Instance = dict[str, Any]


def _moment(text: Any, field: str) -> dt.datetime:
    """``parse_time``, remembered: a batch repeats the same few stamps thousands of times."""
    return _parsed(text, field) if isinstance(text, str) else parse_time(text, field)


@functools.lru_cache(maxsize=4096)
def _parsed(text: str, field: str) -> dt.datetime:
    return parse_time(text, field)


def instance_point(entity_id: str, iri: str, instance: Mapping[str, Any]) -> Point:
    """The point of a stored-form instance: at its observedAt, else when it was written."""
    written = _moment(instance.get("modifiedAt") or instance["createdAt"], "modifiedAt")
    observed = instance.get("observedAt")
    return Point(
        entity_id,
        iri,
        _moment(observed, "observedAt") if observed else written,
        dataset_id=instance.get("datasetId") or "",
        instance=instance,
        kind=KIND_OBSERVED if observed else KIND_MODIFIED,
        recorded_at=written,
    )


def deletion_point(entity_id: str, iri: str, instance: Mapping[str, Any], at: dt.datetime) -> Point:
    """A marker saying the attribute instance was deleted at ``at`` (§4.5.7)."""
    kind = instance.get("type", "Property")
    marker: Instance = {"type": kind}
    if kind == "Relationship":
        marker["object"] = NULL
    elif kind == "LanguageProperty":
        marker["languageMap"] = {"@none": NULL}
    else:
        marker["value"] = NULL
    return Point(
        entity_id,
        iri,
        at,
        dataset_id=instance.get("datasetId") or "",
        instance=marker,
        kind=KIND_DELETED,
        recorded_at=at,
    )


def change_points(change: Change) -> list[Point]:
    """The instances a change wrote, and markers for the ones it deleted."""
    before = change.before["attrs"] if change.before else {}
    after = change.after["attrs"] if change.after else {}
    names = change.attributes or tuple(set(before) | set(after))
    stamp = (change.after or {}).get("modifiedAt")
    deleted_at = parse_time(stamp, "modifiedAt") if stamp else dt.datetime.now(dt.UTC)
    points = []
    for iri in names:
        old = {instance.get("datasetId"): instance for instance in before.get(iri, [])}
        kept = set()
        for instance in after.get(iri, []):
            kept.add(instance.get("datasetId"))
            if old.get(instance.get("datasetId")) != instance:
                points.append(instance_point(change.entity_id, iri, instance))
        points.extend(
            deletion_point(change.entity_id, iri, instance, deleted_at)
            for dataset, instance in old.items()
            if dataset not in kept
        )
    return points


def _record_types(db: Session, change: Change) -> None:
    after = change.after
    if after is not None and (change.before is None or change.before["type"] != after["type"]):
        store.upsert_entity(db, change.city_id, change.entity_id, after["type"], after.get("scope"))


def record_change(db: Session, change: Change) -> None:
    """Listener of the hub: keep the history of every change (one bulk insert)."""
    _record_types(db, change)
    points = change_points(change)
    if points:
        append_points(db, change.city_id, points)


def record_changes(db: Session, changes: Sequence[Change]) -> None:
    """``record_change`` for a batch of changes: one bulk insert per city."""
    by_city: dict[int, list[Point]] = {}
    for change in changes:
        _record_types(db, change)
        by_city.setdefault(change.city_id, []).extend(change_points(change))
    for city_id, points in by_city.items():
        if points:
            append_points(db, city_id, points)


@dataclass(frozen=True)
class TemporalBody:
    """A temporal entity sent by a client: id, types, scope and its instances."""

    entity_id: str
    types: list[str]
    scope: list[str] | None
    instances: dict[str, list[Instance]]  # attribute IRI → stored-form instances

    def points(self) -> list[Point]:
        """Every instance as a point to keep."""
        return [
            instance_point(self.entity_id, iri, instance)
            for iri, instances in self.instances.items()
            for instance in instances
        ]

    def latest(self) -> dict[str, list[Instance]]:
        """The newest instance of each attribute and datasetId (the entity's current state)."""
        current: dict[str, list[Instance]] = {}
        for iri, instances in self.instances.items():
            newest: dict[Any, Instance] = {}
            for instance in instances:
                dataset = instance.get("datasetId")
                held = newest.get(dataset)
                if held is None or instance.get("observedAt", "") >= held.get("observedAt", ""):
                    newest[dataset] = instance
            current[iri] = list(newest.values())
        return current


def parse_attribute_instances(
    body: Mapping[str, Any], terms: TermMap, stamp: str
) -> dict[str, list[Instance]]:
    """Attribute → array of instances (a single object is one instance), validated."""
    parsed: dict[str, list[Instance]] = {}
    for name, fragment in body.items():
        if name in RESERVED_ENTITY_MEMBERS or name.startswith("@"):
            continue
        if fragment == NULL or fragment is None:
            raise BadRequestData(f"{name} cannot be null in a temporal entity", field=name)
        items: Iterable[Any] = fragment if isinstance(fragment, list) else [fragment]
        instances = [parse_instance(name, item, terms, stamp=stamp) for item in items]
        if not instances:
            raise BadRequestData(f"attribute {name} has no instances", field=name)
        parsed.setdefault(terms.expand(name), []).extend(instances)
    return parsed


def parse_temporal_entity(body: Any, terms: TermMap, stamp: str) -> TemporalBody:
    """Validate a temporal entity (§5.6.11) and return it in stored form."""
    if not isinstance(body, Mapping):
        raise BadRequestData("a temporal entity must be a JSON object", field="body")
    if "id" not in body:
        raise BadRequestData("the entity has no id", field="id")
    if "type" not in body:
        raise BadRequestData("the entity has no type", field="type")
    entity_id = check_uri(body["id"], "id")
    types = parse_types(body["type"], terms)
    scope = None
    if "scope" in body:
        scope = body["scope"] if isinstance(body["scope"], list) else [body["scope"]]
        if not all(isinstance(item, str) and item.startswith("/") for item in scope):
            raise BadRequestData("scope must be a path like /Kazakhstan/Astana", field="scope")
    return TemporalBody(entity_id, types, scope, parse_attribute_instances(body, terms, stamp))
