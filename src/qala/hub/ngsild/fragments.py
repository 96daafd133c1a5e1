"""What an update or merge fragment asks for: the attributes to write and, where a fragment
holds NGSI-LD null (``urn:ngsi-ld:null``, §4.5.8), the attribute instances to delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.model import (
    RESERVED_ENTITY_MEMBERS,
    VALUE_MEMBERS,
    check_name,
    check_uri,
    is_instance_list,
    keyword_aliases,
    parse_attributes,
    parse_types,
)

#: The value that deletes an attribute in a merge or an update (§4.5.8 "urn:ngsi-ld:null").
NULL = "urn:ngsi-ld:null"
#: The datasetId of a deletion that removes every instance of an attribute.
ALL_INSTANCES = "*"


def is_null(fragment: Any) -> bool:
    """True when a fragment deletes its attribute (JSON null or ``urn:ngsi-ld:null``)."""
    if fragment is None or fragment == NULL:
        return True
    if not isinstance(fragment, Mapping):
        return False
    if any(fragment.get(member) == NULL for member in VALUE_MEMBERS - {"languageMap"}):
        return True
    language_map = fragment.get("languageMap")
    return language_map == NULL or (
        isinstance(language_map, Mapping) and language_map.get("@none") == NULL
    )


def split_nulls(
    fragment: Mapping[str, Any], terms: TermMap
) -> tuple[dict[str, Any], list[tuple[str, str | None]]]:
    """The attributes of a fragment that are not NGSI-LD null, and the deletions the null ones
    ask for: (attribute IRI, datasetId) — a bare null deletes every instance, a null
    attribute object the instance with its datasetId (the default instance without one)."""
    kept: dict[str, Any] = {}
    deletions: list[tuple[str, str | None]] = []
    for name, value in fragment.items():
        if name in RESERVED_ENTITY_MEMBERS or name.startswith("@"):
            kept[name] = value
            continue
        several = isinstance(value, list) and is_instance_list(value)
        live = []
        for item in value if several else [value]:
            if not is_null(item):
                live.append(item)
            elif isinstance(item, Mapping):
                dataset = item.get("datasetId")
                dataset = check_uri(dataset, f"{name}.datasetId") if dataset is not None else None
                deletions.append((terms.expand(check_name(name)), dataset))
            else:
                deletions.append((terms.expand(check_name(name)), ALL_INSTANCES))
        if live:
            kept[name] = live if several else live[0]
    return kept, deletions


def parse_merge(
    fragment: Mapping[str, Any], terms: TermMap, *, stamp: str
) -> tuple[list[str], dict[str, list[dict[str, Any]]], list[tuple[str, str | None]]]:
    """A merge fragment (PATCH /entities/{id}, batch merge): the types to add, the attributes
    to merge and the instances to delete (see ``split_nulls``)."""
    fragment = keyword_aliases(fragment)
    kept, deletions = split_nulls(fragment, terms)
    types = parse_types(fragment["type"], terms) if "type" in fragment else []
    return types, parse_attributes(kept, terms, stamp=stamp), deletions
