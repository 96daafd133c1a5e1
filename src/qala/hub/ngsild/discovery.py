"""NGSI-LD discovery (§5.7.5-5.7.10): what entity types and attributes a city's entities have,
folded from the entities themselves and shown under a client's @context. Pure functions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from qala.hub.ngsild.context import TermMap


@dataclass
class TypeInfo:
    """One entity type: how many entities have it and, per attribute IRI, its attribute types."""

    entities: int = 0
    attributes: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class AttributeInfo:
    """One attribute: how many instances there are, of which attribute types, on which types."""

    instances: int = 0
    kinds: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)


@dataclass
class Catalog:
    """Every entity type and attribute of a set of entities (all names are IRIs)."""

    types: dict[str, TypeInfo] = field(default_factory=dict)
    attributes: dict[str, AttributeInfo] = field(default_factory=dict)


def catalog(entities: Iterable[Mapping[str, Any]]) -> Catalog:
    """Fold stored entities into the types and attributes they use."""
    found = Catalog()
    for entity in entities:
        kinds_by_attribute = {
            iri: {instance["type"] for instance in instances}
            for iri, instances in entity["attrs"].items()
        }
        for type_iri in entity["type"]:
            info = found.types.setdefault(type_iri, TypeInfo())
            info.entities += 1
            for iri, kinds in kinds_by_attribute.items():
                info.attributes.setdefault(iri, set()).update(kinds)
        for iri, instances in entity["attrs"].items():
            attribute = found.attributes.setdefault(iri, AttributeInfo())
            attribute.instances += len(instances)
            attribute.kinds.update(kinds_by_attribute[iri])
            attribute.types.update(entity["type"])
    return found


def _names(iris: Iterable[str], terms: TermMap) -> list[str]:
    return sorted(terms.compact(iri) for iri in iris)


def entity_type_list(type_iris: Iterable[str], terms: TermMap) -> dict[str, Any]:
    """EntityTypeList: the compacted names of the types."""
    return {
        "id": f"urn:ngsi-ld:EntityTypeList:{uuid.uuid4()}",
        "type": "EntityTypeList",
        "typeList": _names(type_iris, terms),
    }


def entity_types(found: Catalog, terms: TermMap) -> list[dict[str, Any]]:
    """EntityType objects (``details=true``): each type with its attribute names."""
    return [
        {
            "id": iri,
            "type": "EntityType",
            "typeName": terms.compact(iri),
            "attributeNames": _names(info.attributes, terms),
        }
        for iri, info in sorted(found.types.items())
    ]


def entity_type_info(iri: str, info: TypeInfo, terms: TermMap) -> dict[str, Any]:
    """EntityTypeInfo: one type, how many entities have it, and its attributes' details."""
    return {
        "id": iri,
        "type": "EntityTypeInfo",
        "typeName": terms.compact(iri),
        "entityCount": info.entities,
        "attributeDetails": [
            {
                "id": attribute,
                "type": "Attribute",
                "attributeName": terms.compact(attribute),
                "attributeTypes": sorted(kinds),
            }
            for attribute, kinds in sorted(info.attributes.items())
        ],
    }


def attribute_list(found: Catalog, terms: TermMap) -> dict[str, Any]:
    """AttributeList: the compacted names of the attributes."""
    return {
        "id": f"urn:ngsi-ld:AttributeList:{uuid.uuid4()}",
        "type": "AttributeList",
        "attributeList": _names(found.attributes, terms),
    }


def attributes(found: Catalog, terms: TermMap) -> list[dict[str, Any]]:
    """Attribute objects (``details=true``): each attribute with the types that have it."""
    return [
        {
            "id": iri,
            "type": "Attribute",
            "attributeName": terms.compact(iri),
            "typeNames": _names(info.types, terms),
        }
        for iri, info in sorted(found.attributes.items())
    ]


def attribute_info(iri: str, info: AttributeInfo, terms: TermMap) -> dict[str, Any]:
    """Attribute (one of them): instance count, attribute types and entity types."""
    return {
        "id": iri,
        "type": "Attribute",
        "attributeName": terms.compact(iri),
        "attributeCount": info.instances,
        "attributeTypes": sorted(info.kinds),
        "typeNames": _names(info.types, terms),
    }
