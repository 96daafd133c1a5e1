"""Render stored entities for a client: normalized, concise or keyValues, under its context,
with ``attrs`` projection, ``sysAttrs`` and ``lang``; GeoJSON features."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.model import LOCATION


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


def _simple_value(instance: Mapping[str, Any], lang: str | None) -> Any:
    kind = instance["type"]
    if kind == "Relationship":
        return instance["object"]
    if kind == "LanguageProperty":
        language_map = instance["languageMap"]
        if lang is not None:
            return _pick_language(language_map, lang)
        return {"languageMap": language_map}
    if kind == "ListProperty":
        return instance["valueList"]
    return instance["value"]


def _pick_language(language_map: Mapping[str, Any], lang: str) -> Any:
    for wanted in [part.split(";")[0].strip() for part in lang.split(",")]:
        if wanted == "*" and language_map:
            return next(iter(language_map.values()))
        if wanted in language_map:
            return language_map[wanted]
    return language_map.get("@none", next(iter(language_map.values()), None))


def render_instance(instance: Mapping[str, Any], view: View) -> Any:
    """One attribute instance in the client's form."""
    if view.form == "keyValues":
        return _simple_value(instance, view.lang)
    out: dict[str, Any] = {}
    kind = instance["type"]
    if kind == "LanguageProperty" and view.lang is not None:
        out["type"] = "Property"
        out["value"] = _pick_language(instance["languageMap"], view.lang)
        out["lang"] = view.lang.split(",")[0].split(";")[0].strip()
    else:
        out["type"] = kind
        for member in ("value", "object", "languageMap", "valueList"):
            if member in instance:
                out[member] = instance[member]
    for member in ("observedAt", "unitCode", "datasetId"):
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
