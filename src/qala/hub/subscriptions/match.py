"""Which subscriptions an entity change fires: triggers, entity selectors, watched attributes,
q, geoQ and scopeQ, compiled once per subscription. Pure functions over plain data."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.geo import parse_geo_query
from qala.hub.ngsild.query import parse_q, parse_type_selection
from qala.hub.ngsild.scope import parse_scope_q

Entity = dict[str, Any]
EntityPredicate = Callable[[Entity], bool]
#: Entity-level triggers of a change, and the trigger of each changed attribute (IRI).
Triggers = tuple[frozenset[str], dict[str, str]]


def terms_to_json(terms: TermMap) -> dict[str, Any]:
    """A term map as JSON, stored with a subscription so matching never fetches a context."""
    return {
        "key": terms.key,
        "to_iri": terms.to_iri,
        "to_term": terms.to_term,
        "vocab": terms.vocab,
        "prefixes": terms.prefixes,
        "links": list(terms.links),
    }


def terms_from_json(data: Mapping[str, Any]) -> TermMap:
    """The term map stored by ``terms_to_json``."""
    return TermMap(
        key=data["key"],
        to_iri=dict(data["to_iri"]),
        to_term=dict(data["to_term"]),
        vocab=data["vocab"],
        prefixes=dict(data["prefixes"]),
        links=tuple(data["links"]),
    )


@dataclass(frozen=True)
class Selector:
    """One ``entities`` item, compiled."""

    entity_id: str | None
    pattern: re.Pattern[str] | None
    type_check: EntityPredicate
    type_iris: tuple[str, ...]

    def accepts(self, entity: Entity) -> bool:
        """True when the entity is one this item selects."""
        if self.entity_id is not None and entity["id"] != self.entity_id:
            return False
        if self.pattern is not None and self.pattern.search(entity["id"]) is None:
            return False
        return self.type_check(entity)


@dataclass(frozen=True)
class Matcher:
    """A subscription's conditions, compiled: what must happen to which entities."""

    selectors: tuple[Selector, ...]
    watched: frozenset[str] | None
    triggers: frozenset[str]
    q: EntityPredicate | None = None
    geo: EntityPredicate | None = None
    scope: EntityPredicate | None = None

    @property
    def type_iris(self) -> frozenset[str] | None:
        """The entity types this subscription can fire for (None: any type)."""
        if not self.selectors:
            return None
        iris: set[str] = set()
        for selector in self.selectors:
            if not selector.type_iris:
                return None
            iris.update(selector.type_iris)
        return frozenset(iris)

    def selects(self, entity: Entity) -> bool:
        """True when the entity is selected and meets q, geoQ and scopeQ (not the triggers)."""
        if self.selectors and not any(selector.accepts(entity) for selector in self.selectors):
            return False
        return all(check is None or check(entity) for check in (self.q, self.geo, self.scope))

    def fires(self, entity: Entity, triggers: Triggers) -> bool:
        """True when a change with ``triggers`` to ``entity`` must be notified."""
        entity_level, per_attribute = triggers
        fired = bool(self.triggers & entity_level) or any(
            trigger in self.triggers and (self.watched is None or iri in self.watched)
            for iri, trigger in per_attribute.items()
        )
        return fired and self.selects(entity)


def compile_subscription(document: Mapping[str, Any], terms: TermMap) -> Matcher:
    """Compile a stored subscription's conditions (BadRequestData for a bad q, geoQ, scopeQ)."""
    selectors = tuple(_selector(item, terms) for item in document.get("entities", ()))
    watched = document.get("watchedAttributes")
    geo = None
    if "geoQ" in document:
        geo_q = document["geoQ"]
        coordinates = geo_q["coordinates"]
        geo, _bbox = parse_geo_query(
            geo_q["georel"],
            geo_q["geometry"],
            coordinates if isinstance(coordinates, str) else json.dumps(coordinates),
            geo_q.get("geoproperty"),
            terms,
        )
    return Matcher(
        selectors=selectors,
        watched=frozenset(watched) if watched is not None else None,
        triggers=frozenset(document.get("notificationTrigger", ())),
        q=parse_q(document["q"], terms) if "q" in document else None,
        geo=geo,
        scope=parse_scope_q(document.get("scopeQ")),
    )


def _selector(item: Mapping[str, str], terms: TermMap) -> Selector:
    type_check, iris = parse_type_selection(item["type"], terms, "entities.type")
    pattern = re.compile(item["idPattern"]) if "idPattern" in item else None
    return Selector(item.get("id"), pattern, type_check, tuple(iris or ()))


def change_triggers(
    before: Entity | None, after: Entity | None, attributes: Iterable[str]
) -> Triggers:
    """What a change is, in trigger words: for the entity, and for each attribute it touched."""
    if before is None:
        created = dict.fromkeys((after or {}).get("attrs", {}), "attributeCreated")
        return frozenset({"entityCreated"}), created
    if after is None:
        return frozenset({"entityDeleted"}), {}
    per_attribute: dict[str, str] = {}
    for iri in attributes:
        if iri not in before["attrs"]:
            per_attribute[iri] = "attributeCreated"
        elif iri not in after["attrs"]:
            per_attribute[iri] = "attributeDeleted"
        else:
            per_attribute[iri] = "attributeUpdated"
    return frozenset({"entityUpdated"}), per_attribute


def is_live(is_active: bool, expires_at: dt.datetime | None, now: dt.datetime) -> bool:
    """True when a subscription is active and has not expired."""
    return is_active and (expires_at is None or expires_at > now)
