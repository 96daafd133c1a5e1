"""Render stored entities for a client: normalized, concise or keyValues, under its context,
with ``attrs`` projection, ``sysAttrs`` and ``lang``; GeoJSON features."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.model import LOCATION, SHORT_NAME, URI


@dataclass(frozen=True)
class View:
    """How a client wants entities rendered."""

    terms: TermMap
    form: str = "normalized"  # normalized | concise | keyValues
    sys_attrs: bool = False
    attrs: Collection[str] | None = None  # attribute IRIs to keep; None keeps all
    lang: str | None = None
    pick: Collection[str] | None = None  # members to keep (NGSI-LD 1.8 pick)
    omit: Collection[str] | None = None


def render_entity(entity: Mapping[str, Any], view: View) -> dict[str, Any]:
    """One entity as the client asked for it."""
    terms = view.terms
    types = [terms.compact(iri) for iri in entity["type"]]
    out: dict[str, Any] = {"id": entity["id"], "type": types[0] if len(types) == 1 else types}
    if entity.get("scope"):
        scope = entity["scope"]
        out["scope"] = scope[0] if len(scope) == 1 else scope
    if view.sys_attrs:
        out["createdAt"], out["modifiedAt"] = entity["createdAt"], entity["modifiedAt"]
    for iri, instances in entity["attrs"].items():
        if view.attrs is not None and iri not in view.attrs:
            continue
        name = terms.compact(iri)
        if view.pick is not None and name not in view.pick:
            continue
        if view.omit is not None and name in view.omit:
            continue
        rendered = [render_instance(instance, view) for instance in instances]
        out[name] = rendered[0] if len(rendered) == 1 else rendered
    if view.pick is not None:
        out = {k: v for k, v in out.items() if k in view.pick or k in ("@context",)}
    if view.omit is not None:
        out = {k: v for k, v in out.items() if k not in view.omit}
    return out


#: keyValues: the member an attribute type is simplified to (§4.5.4).
SIMPLE_MEMBERS = {
    "Relationship": "object",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
}


def _simple_value(instance: Mapping[str, Any], view: View) -> Any:
    kind = instance["type"]
    if kind in SIMPLE_MEMBERS:
        return instance[SIMPLE_MEMBERS[kind]]
    if kind == "LanguageProperty":
        language_map = instance["languageMap"]
        if view.lang is not None:
            return _pick_language(language_map, view.lang)
        return {"languageMap": language_map}
    if kind == "VocabProperty":
        return {"vocab": _compact_names(instance["vocab"], view)}
    if kind == "JsonProperty":
        return {"json": instance["json"]}
    return instance["value"]


def _compact_names(names: str | list[str], view: View) -> str | list[str]:
    if isinstance(names, list):
        return [view.terms.compact(name) for name in names]
    return view.terms.compact(names)


def _value_members(instance: Mapping[str, Any], view: View) -> dict[str, Any]:
    """The value member of a normalized or concise attribute (names compacted)."""
    out: dict[str, Any] = {}
    for member in ("value", "object", "languageMap", "valueList", "json"):
        if member in instance:
            out[member] = instance[member]
    if "objectList" in instance:
        out["objectList"] = [{"object": target} for target in instance["objectList"]]
    if "vocab" in instance:
        out["vocab"] = _compact_names(instance["vocab"], view)
    if "objectType" in instance:
        out["objectType"] = _compact_names(instance["objectType"], view)
    return out


def _pick_language(language_map: Mapping[str, Any], lang: str) -> Any:
    return _language_of(language_map, lang)[1]


def _language_of(language_map: Mapping[str, Any], lang: str) -> tuple[str, Any]:
    """The language chosen from a languageMap for ``lang`` (a tag list, ``*`` for any) and
    its text: the first wanted tag present, else ``@none``, else the first tag in sorted
    order (§4.15)."""
    first = min(language_map, default="@none")  # key order differs between databases
    for wanted in [part.split(";")[0].strip() for part in lang.split(",")]:
        if wanted == "*" and language_map:
            return first, language_map[first]
        if wanted in language_map:
            return wanted, language_map[wanted]
    if "@none" in language_map:
        return "@none", language_map["@none"]
    return first, language_map.get(first)


def render_instance(instance: Mapping[str, Any], view: View) -> Any:
    """One attribute instance in the client's form."""
    if view.form == "keyValues":
        return _simple_value(instance, view)
    out: dict[str, Any] = {}
    kind = instance["type"]
    if kind == "LanguageProperty" and view.lang is not None:
        language, text = _language_of(instance["languageMap"], view.lang)
        out["type"] = "Property"
        out["value"] = text
        if language != "@none":
            out["lang"] = language
    else:
        out["type"] = kind
        out.update(_value_members(instance, view))
    for member in ("observedAt", "unitCode", "datasetId", "valueType"):
        if member in instance:
            out[member] = instance[member]
    if view.sys_attrs:
        out["createdAt"], out["modifiedAt"] = instance["createdAt"], instance["modifiedAt"]
    for sub_iri, sub in instance.get("sub", {}).items():
        out[view.terms.compact(sub_iri)] = render_instance(sub, view)
    if view.form == "concise":
        out.pop("type", None)
        if set(out) == {"value"} and not isinstance(out["value"], Mapping):
            return out["value"]
    return out


def render_feature(
    entity: Mapping[str, Any], view: View, geometry_iri: str = LOCATION
) -> dict[str, Any]:
    """An entity as a GeoJSON Feature (geometry from ``geometry_iri``, by default location)."""
    body = render_entity(entity, view)
    geometry = None
    for instance in entity["attrs"].get(geometry_iri, []):
        if instance["type"] == "GeoProperty":
            geometry = instance["value"]
            break
    properties = {k: v for k, v in body.items() if k != "id"}
    return {"id": entity["id"], "type": "Feature", "geometry": geometry, "properties": properties}


PROJECTION_TOKEN = re.compile(r"[^,{}\s]+")


def _projection_name(token: str) -> bool:
    return bool(SHORT_NAME.match(token)) or (":" in token and bool(URI.match(token)))


def parse_projection(text: str) -> list[str]:
    """The top-level member names of a ``pick``/``omit`` expression (§4.21): a comma list of
    names, each optionally followed by ``{...}`` naming members of the entities it links to.
    ValueError when the expression is malformed."""
    names: list[str] = []
    position, depth, expect_name = 0, 0, True
    while position < len(text):
        if expect_name:
            match = PROJECTION_TOKEN.match(text, position)
            if match is None or not _projection_name(match.group()):
                raise ValueError(f"a name is expected at position {position}")
            if depth == 0:
                names.append(match.group())
            position, expect_name = match.end(), False
            continue
        char = text[position]
        if char == "{":
            depth, expect_name = depth + 1, True
        elif char == "}" and depth > 0:
            depth -= 1
        elif char == ",":
            expect_name = True
        else:
            raise ValueError(f"unexpected {char!r} at position {position}")
        position += 1
    if expect_name or depth:
        raise ValueError("the expression ends too early")
    return names
