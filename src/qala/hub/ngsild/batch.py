"""NGSI-LD batch operations (§5.6.7-5.6.10, §5.6.20) as pure steps: read the items of a request
into entities or per-entity errors, then fold the operations, in order, over the current state
of the entities they name. Writing the outcome is ``qala.hub.bulk``'s job."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from qala.hub.ngsild import attributes as ops
from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.errors import (
    AlreadyExists,
    BadRequestData,
    NgsiLdProblem,
    ResourceNotFound,
)
from qala.hub.ngsild.fragments import parse_merge
from qala.hub.ngsild.model import (
    check_uri,
    parse_attributes,
    parse_entity,
    parse_types,
)

Entity = dict[str, Any]
Operation = Literal["create", "upsert", "update", "delete", "merge"]
OPERATIONS: tuple[Operation, ...] = ("create", "upsert", "update", "delete", "merge")
#: The largest batch accepted in one request.
MAX_BATCH = 10_000
#: Marks a change that is not an attribute (types, scope, a replaced entity).
REPLACED = "@entity"
#: Reads the @context an item is to be understood with (raises an NgsiLdProblem if it cannot).
TermsFor = Callable[[Mapping[str, Any]], TermMap]


@dataclass
class Item:
    """One element of a batch request, read: what to do to which entity, or why it cannot."""

    entity_id: str
    entity: Entity | None = None  # stored form: the entity, or the fragment to apply
    deleted: list[tuple[str, str | None]] = field(default_factory=list)  # merge: nulls
    error: NgsiLdProblem | None = None


@dataclass
class Step:
    """The net effect of a batch on one entity: its state before and after, what changed."""

    before: Entity | None
    after: Entity | None
    changed: set[str] = field(default_factory=set)


@dataclass
class Result:
    """What a batch did: the ids it succeeded on, per-entity errors, ids created, net steps."""

    success: list[str] = field(default_factory=list)
    errors: list[tuple[str, NgsiLdProblem]] = field(default_factory=list)
    steps: dict[str, Step] = field(default_factory=dict)

    @property
    def created(self) -> list[str]:
        """Ids of the entities the batch created."""
        return [i for i, s in self.steps.items() if s.before is None and s.after is not None]

    def fail(self, entity_id: str, problem: NgsiLdProblem) -> None:
        """Record that an entity failed (and drop it from the successes)."""
        self.errors.append((entity_id, problem))
        if entity_id in self.success:
            self.success.remove(entity_id)
        self.steps.pop(entity_id, None)


def check_items(body: Any) -> list[Any]:
    """The items of a batch body: a non-empty array without nulls, not too long."""
    if not isinstance(body, list):
        raise BadRequestData("a batch operation takes a JSON array", field="body")
    if not body:
        raise BadRequestData("the batch is empty", field="body")
    if len(body) > MAX_BATCH:
        raise BadRequestData(
            f"a batch may hold at most {MAX_BATCH} entities, this one has {len(body)}",
            field="body",
        )
    if any(item is None for item in body):
        raise BadRequestData("the batch holds a null item", field="body")
    return body


def read_items(
    operation: Operation, body: Sequence[Any], terms_for: TermsFor, stamp: str
) -> list[Item]:
    """Read every item; an item that is wrong gets its error and the others go on."""
    if operation == "delete":
        return [_read_id(item) for item in body]
    return [_read_item(operation, item, terms_for, stamp) for item in body]


def _read_id(item: Any) -> Item:
    if not isinstance(item, str):
        raise BadRequestData("batch delete takes an array of entity ids", field="body")
    try:
        return Item(check_uri(item, "id"))
    except NgsiLdProblem as problem:
        return Item(item, error=problem)


def _read_item(operation: Operation, item: Any, terms_for: TermsFor, stamp: str) -> Item:
    raw_id = item.get("id") if isinstance(item, Mapping) else None
    entity_id = raw_id if isinstance(raw_id, str) else ""
    try:
        if not isinstance(item, Mapping):
            raise BadRequestData("each batch item must be an entity (a JSON object)", field="body")
        terms = terms_for(item)
        if operation in ("create", "upsert"):
            return Item(entity_id, parse_entity(item, terms, stamp=stamp))
        if raw_id is None:
            raise BadRequestData("the entity has no id", field="id")
        check_uri(raw_id, "id")
        if operation == "merge":
            types, attrs, deleted = parse_merge(item, terms, stamp=stamp)
            return Item(entity_id, {"id": raw_id, "type": types, "attrs": attrs}, deleted)
        types = parse_types(item["type"], terms) if "type" in item else []
        attrs = parse_attributes(item, terms, stamp=stamp)
        return Item(entity_id, {"id": raw_id, "type": types, "attrs": attrs})
    except NgsiLdProblem as problem:
        return Item(entity_id, error=problem)


@dataclass(frozen=True)
class Options:
    """How upsert and update treat existing entities."""

    replace: bool = True  # upsert: replace (True) or update (False) an existing entity
    overwrite: bool = True  # update: False with options=noOverwrite


Outcome = tuple[Entity | None, set[str], NgsiLdProblem | None]


def fold(
    operation: Operation,
    items: Sequence[Item],
    current: Mapping[str, Entity],
    stamp: str,
    options: Options = Options(),
) -> Result:
    """Apply the items in order (a later item sees what an earlier one did to its entity)."""
    result = Result()
    state: dict[str, Entity | None] = dict(current)
    for item in items:
        if item.error is not None:
            result.errors.append((item.entity_id, item.error))
            continue
        try:
            after, changed, problem = APPLY[operation](
                state.get(item.entity_id), item, stamp, options
            )
        except NgsiLdProblem as error:
            result.errors.append((item.entity_id, error))
            continue
        if changed or after is None or item.entity_id not in state:
            state[item.entity_id] = after
            step = result.steps.setdefault(item.entity_id, Step(current.get(item.entity_id), None))
            step.after, step.changed = after, step.changed | changed
        if problem is not None:
            result.errors.append((item.entity_id, problem))
        elif item.entity_id not in result.success:
            result.success.append(item.entity_id)
    return result


def _create(before: Entity | None, item: Item, stamp: str, options: Options) -> Outcome:
    if before is not None:
        raise AlreadyExists(f"entity {item.entity_id} exists already", field="id")
    assert item.entity is not None  # later steps copy a state before they change it
    return item.entity, set(item.entity["attrs"]), None


def _upsert(before: Entity | None, item: Item, stamp: str, options: Options) -> Outcome:
    if before is None:
        return _create(before, item, stamp, options)
    if options.replace:
        assert item.entity is not None
        after = copy.deepcopy(before)
        outcome = ops.replace_entity(after, item.entity, stamp)
        return after, {*outcome.updated, REPLACED}, None
    return _append(before, item, stamp, overwrite=True)


def _update(before: Entity | None, item: Item, stamp: str, options: Options) -> Outcome:
    if before is None:
        raise ResourceNotFound(f"no entity {item.entity_id}", field="id")
    return _append(before, item, stamp, overwrite=options.overwrite)


def _append(before: Entity, item: Item, stamp: str, *, overwrite: bool) -> Outcome:
    assert item.entity is not None
    after = copy.deepcopy(before)
    outcome = ops.append_attributes(after, item.entity["attrs"], stamp, overwrite=overwrite)
    changed = set(outcome.updated)
    if ops.add_types(after, item.entity["type"], stamp):
        changed.add(REPLACED)
    problem = None
    if outcome.not_updated:
        names = ", ".join(sorted({iri for iri, _reason in outcome.not_updated}))
        problem = BadRequestData(f"attributes not overwritten (noOverwrite): {names}")
    return after, changed, problem


def _merge(before: Entity | None, item: Item, stamp: str, options: Options) -> Outcome:
    if before is None:
        raise ResourceNotFound(f"no entity {item.entity_id}", field="id")
    assert item.entity is not None
    after = copy.deepcopy(before)
    outcome = ops.merge_entity(after, item.entity, item.deleted, stamp)
    changed = set(outcome.updated)
    if after["type"] != before["type"]:
        changed.add(REPLACED)
    return after, changed, None


def _delete(before: Entity | None, item: Item, stamp: str, options: Options) -> Outcome:
    if before is None:
        raise ResourceNotFound(f"no entity {item.entity_id}", field="id")
    return None, set(before["attrs"]), None


APPLY: dict[str, Callable[[Entity | None, Item, str, Options], Outcome]] = {
    "create": _create,
    "upsert": _upsert,
    "update": _update,
    "merge": _merge,
    "delete": _delete,
}
