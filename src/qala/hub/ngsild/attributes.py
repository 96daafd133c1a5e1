"""Pure operations on stored entities: append, update, merge, replace and delete attributes.
Each returns what changed so the caller can record history and notify subscribers."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qala.hub.ngsild.errors import BadRequestData
from qala.hub.ngsild.fragments import ALL_INSTANCES
from qala.hub.ngsild.model import OWN_VALUE, VALUE_MEMBERS

Entity = dict[str, Any]
Instances = list[dict[str, Any]]


@dataclass
class Outcome:
    """What an attribute operation did: names (IRIs) changed and refused, with reasons."""

    updated: list[str] = field(default_factory=list)
    not_updated: list[tuple[str, str]] = field(default_factory=list)
    retyped: bool = False  # entity types were added

    @property
    def changed(self) -> bool:
        """True when anything changed."""
        return bool(self.updated) or self.retyped


def _dataset(instance: Mapping[str, Any]) -> str | None:
    return instance.get("datasetId")


def _put_instance(current: Instances, new: dict[str, Any], stamp: str) -> None:
    """Replace the instance with the same datasetId (keeping its createdAt) or add it."""
    for index, old in enumerate(current):
        if _dataset(old) == _dataset(new):
            new["createdAt"] = old.get("createdAt", stamp)
            current[index] = new
            return
    current.append(new)


def append_attributes(
    entity: Entity, attrs: Mapping[str, Instances], stamp: str, *, overwrite: bool = True
) -> Outcome:
    """POST .../attrs: add attributes; existing ones are replaced unless ``noOverwrite``."""
    outcome = Outcome()
    for iri, instances in attrs.items():
        current = entity["attrs"].setdefault(iri, [])
        for instance in instances:
            exists = any(_dataset(old) == _dataset(instance) for old in current)
            if exists and not overwrite:
                outcome.not_updated.append((iri, "attribute exists and noOverwrite was given"))
                continue
            _put_instance(current, copy.deepcopy(instance), stamp)
            if iri not in outcome.updated:
                outcome.updated.append(iri)
        if not current:
            del entity["attrs"][iri]
    if outcome.changed:
        entity["modifiedAt"] = stamp
    return outcome


def add_types(entity: Entity, types: list[str], stamp: str) -> bool:
    """Add entity types (appending attributes or merging may name new ones); True if any."""
    added = [iri for iri in types if iri not in entity["type"]]
    if added:
        entity["type"] = [*entity["type"], *added]
        entity["modifiedAt"] = stamp
    return bool(added)


def update_attributes(entity: Entity, attrs: Mapping[str, Instances], stamp: str) -> Outcome:
    """PATCH .../attrs: replace only attributes (and datasetIds) the entity already has."""
    outcome = Outcome()
    for iri, instances in attrs.items():
        current = entity["attrs"].get(iri)
        for instance in instances:
            if current is None or not any(_dataset(o) == _dataset(instance) for o in current):
                outcome.not_updated.append((iri, "the entity has no such attribute"))
                continue
            _put_instance(current, copy.deepcopy(instance), stamp)
            if iri not in outcome.updated:
                outcome.updated.append(iri)
    if outcome.changed:
        entity["modifiedAt"] = stamp
    return outcome


def patch_attribute(entity: Entity, iri: str, fragment: dict[str, Any], stamp: str) -> bool:
    """PATCH .../attrs/{attrId}: merge the given members into one existing instance."""
    current = entity["attrs"].get(iri)
    if not current:
        return False
    for old in current:
        if _dataset(old) == _dataset(fragment):
            _check_same_kind(old, fragment)
            for key, value in fragment.items():
                if key in ("createdAt", "type"):
                    continue
                if key == "sub":
                    old.setdefault("sub", {}).update(copy.deepcopy(value))
                else:
                    old[key] = copy.deepcopy(value)
            old["modifiedAt"] = stamp
            entity["modifiedAt"] = stamp
            return True
    return False


def _check_same_kind(old: Mapping[str, Any], fragment: Mapping[str, Any]) -> None:
    """A partial update keeps the attribute's type (§5.6.4): another type is BadRequestData."""
    kind = fragment.get("type", old["type"])
    foreign = (VALUE_MEMBERS - {OWN_VALUE.get(old["type"], "value")}) & fragment.keys()
    if kind != old["type"] or foreign:
        raise BadRequestData(
            f"the attribute is a {old['type']}; a partial update cannot make it a {kind}",
            field="type",
        )


def delete_attribute(
    entity: Entity, iri: str, dataset_id: str | None, *, delete_all: bool, stamp: str
) -> bool:
    """DELETE .../attrs/{attrId}: one instance (default or datasetId), or all of them."""
    current = entity["attrs"].get(iri)
    if not current:
        return False
    if delete_all:
        del entity["attrs"][iri]
    else:
        kept = [instance for instance in current if _dataset(instance) != dataset_id]
        if len(kept) == len(current):
            return False
        if kept:
            entity["attrs"][iri] = kept
        else:
            del entity["attrs"][iri]
    entity["modifiedAt"] = stamp
    return True


def replace_entity(entity: Entity, new: Entity, stamp: str) -> Outcome:
    """PUT /entities/{id}: keep id and createdAt, take everything else from ``new``."""
    outcome = Outcome(updated=sorted(set(entity["attrs"]) | set(new["attrs"])))
    entity["type"] = new["type"]
    entity["attrs"] = copy.deepcopy(new["attrs"])
    if "scope" in new:
        entity["scope"] = new["scope"]
    else:
        entity.pop("scope", None)
    entity["modifiedAt"] = stamp
    return outcome


def merge_entity(
    entity: Entity, patch: Entity, deleted: list[tuple[str, str | None]], stamp: str
) -> Outcome:
    """PATCH /entities/{id} (merge-patch): attributes given are merged; ``deleted`` names
    (attribute IRI, datasetId) instances to remove (datasetId ``ALL_INSTANCES``: all)."""
    outcome = Outcome()
    delete_instances(entity, deleted, outcome, stamp)
    for iri, instances in patch["attrs"].items():
        current = entity["attrs"].setdefault(iri, [])
        for instance in instances:
            merged = False
            for old in current:
                if _dataset(old) == _dataset(instance) and old["type"] == instance["type"]:
                    subs = {**old.get("sub", {}), **instance.get("sub", {})}
                    created = old.get("createdAt", stamp)
                    old.update(copy.deepcopy(instance))
                    old["createdAt"] = created
                    if subs:
                        old["sub"] = copy.deepcopy(subs)
                    merged = True
            if not merged:
                _put_instance(current, copy.deepcopy(instance), stamp)
        outcome.updated.append(iri)
    outcome.retyped = add_types(entity, patch.get("type") or [], stamp)
    if outcome.changed:
        entity["modifiedAt"] = stamp
    return outcome


def delete_instances(
    entity: Entity, deleted: list[tuple[str, str | None]], outcome: Outcome, stamp: str
) -> None:
    """Remove the named instances (NGSI-LD null in a merge or an update); a missing one is
    reported in ``outcome.not_updated``."""
    for iri, dataset in deleted:
        every = dataset == ALL_INSTANCES
        if delete_attribute(entity, iri, dataset, delete_all=every, stamp=stamp):
            outcome.updated.append(iri)
        else:
            outcome.not_updated.append((iri, "the entity has no such attribute instance"))
