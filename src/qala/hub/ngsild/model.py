"""The NGSI-LD information model: validate a client's entity (normalized or concise), store it
with expanded names, and render it back (normalized, concise, keyValues) under a context.

Stored form of an entity::

    {"id": "urn:...", "type": [type IRIs], "createdAt": iso, "modifiedAt": iso,
     "attrs": {attribute IRI: [instance, ...]}}

An instance is ``{"type": "Property", "value": ..., "observedAt": iso, "unitCode": ...,
"datasetId": ..., "createdAt": iso, "modifiedAt": iso, "sub": {sub-attribute IRI: instance}}``
(``object`` for Relationships, ``languageMap`` for LanguageProperties)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from qala.hub.ngsild.context import NGSI_LD, TermMap
from qala.hub.ngsild.errors import BadRequestData

ATTRIBUTE_TYPES = ("Property", "Relationship", "GeoProperty", "LanguageProperty", "ListProperty")
GEOMETRY_TYPES = (
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
    "GeometryCollection",
)
#: Members of an attribute that are not sub-attributes.
CORE_MEMBERS = frozenset(
    {"type", "value", "object", "languageMap", "valueList", "objectList", "observedAt",
     "unitCode", "datasetId", "createdAt", "modifiedAt", "instanceId", "lang", "objectType"}
)
SYSTEM_MEMBERS = frozenset({"createdAt", "modifiedAt", "deletedAt", "instanceId"})
RESERVED_ENTITY_MEMBERS = frozenset({"id", "type", "@context", "scope", "createdAt", "modifiedAt"})
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
FORBIDDEN_NAME_CHARS = re.compile(r"[<>\"'=;()\s&?/#]")
LOCATION = NGSI_LD + "location"
OBSERVATION_SPACE = NGSI_LD + "observationSpace"
OPERATION_SPACE = NGSI_LD + "operationSpace"


def now_iso() -> str:
    """The current UTC time in the form NGSI-LD system attributes use."""
    return format_time(dt.datetime.now(dt.UTC))


def format_time(moment: dt.datetime) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: Any, field: str) -> dt.datetime:
    """An ISO 8601 date-time (timezone-aware; naive is read as UTC), or BadRequestData."""
    if not isinstance(text, str):
        raise BadRequestData(f"{field} must be a date-time string", field=field)
    try:
        moment = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise BadRequestData(f"{field} is not an ISO 8601 date-time: {text!r}", field=field) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def check_uri(value: Any, field: str) -> str:
    """``value`` if it is an absolute URI, else BadRequestData."""
    if not isinstance(value, str) or not URI.match(value):
        raise BadRequestData(f"{field} must be a URI, got {value!r}", field=field)
    return value


def check_name(name: str) -> str:
    """An attribute or type name a client may use."""
    if not name or FORBIDDEN_NAME_CHARS.search(name):
        raise BadRequestData(f"invalid attribute or type name {name!r}", field=name)
    return name


def check_geometry(value: Any, field: str) -> dict[str, Any]:
    """A valid GeoJSON geometry (RFC 7946), or BadRequestData."""
    from shapely.geometry import shape

    if not isinstance(value, Mapping) or value.get("type") not in GEOMETRY_TYPES:
        raise BadRequestData(f"{field} must be a GeoJSON geometry", field=field)
    try:
        geometry = shape(value)
    except Exception as error:  # noqa: BLE001 - shapely raises many kinds for bad input
        raise BadRequestData(f"{field} is not a valid geometry: {error}", field=field) from None
    if geometry.is_empty:
        raise BadRequestData(f"{field} is an empty geometry", field=field)
    for x, y in _points(value):
        if not (-180 <= x <= 180 and -90 <= y <= 90):
            raise BadRequestData(f"{field} has coordinates out of range: {x}, {y}", field=field)
    return dict(value)


def _points(geometry: Mapping[str, Any]) -> Iterable[tuple[float, float]]:
    if geometry.get("type") == "GeometryCollection":
        for member in geometry.get("geometries", []):
            yield from _points(member)
        return

    def walk(node: Any) -> Iterable[tuple[float, float]]:
        if isinstance(node, list | tuple) and node and isinstance(node[0], int | float):
            yield float(node[0]), float(node[1])
        elif isinstance(node, list | tuple):
            for child in node:
                yield from walk(child)

    yield from walk(geometry.get("coordinates", []))


def _infer_type(name: str, fragment: Any, iri: str) -> str:
    """The attribute type of a concise fragment (no ``type`` member)."""
    if "object" in fragment or "objectList" in fragment:
        return "Relationship"
    if "languageMap" in fragment:
        return "LanguageProperty"
    if "valueList" in fragment:
        return "ListProperty"
    value = fragment.get("value")
    if iri in (LOCATION, OBSERVATION_SPACE, OPERATION_SPACE) or (
        isinstance(value, Mapping) and value.get("type") in GEOMETRY_TYPES
    ):
        return "GeoProperty"
    return "Property"


def parse_instance(name: str, fragment: Any, terms: TermMap, *, stamp: str) -> dict[str, Any]:
    """Validate one attribute instance and return it in stored form."""
    iri = terms.expand(check_name(name))
    if not isinstance(fragment, Mapping) or (
        "type" not in fragment and not ({"value", "object", "languageMap", "valueList",
                                        "objectList"} & fragment.keys())
    ):
        fragment = {"value": fragment}  # concise: a bare value is a Property's value
    kind = fragment.get("type") or _infer_type(name, fragment, iri)
    if kind not in ATTRIBUTE_TYPES:
        raise BadRequestData(f"attribute {name} has unknown type {kind!r}", field=name)
    instance: dict[str, Any] = {"type": kind}
    if kind == "Relationship":
        target = fragment.get("object", fragment.get("objectList"))
        if isinstance(target, list):
            instance["object"] = [check_uri(item, f"{name}.object") for item in target]
        else:
            instance["object"] = check_uri(target, f"{name}.object")
    elif kind == "LanguageProperty":
        language_map = fragment.get("languageMap")
        if not isinstance(language_map, Mapping) or not all(
            isinstance(v, str | list) for v in language_map.values()
        ):
            raise BadRequestData(f"{name}.languageMap must map languages to strings", field=name)
        instance["languageMap"] = dict(language_map)
    elif kind == "ListProperty":
        values = fragment.get("valueList")
        if not isinstance(values, list):
            raise BadRequestData(f"{name}.valueList must be a list", field=name)
        instance["valueList"] = values
    else:
        if "value" not in fragment or fragment["value"] is None:
            raise BadRequestData(f"attribute {name} has no value", field=name)
        value = fragment["value"]
        if kind == "GeoProperty":
            value = check_geometry(value, name)
        instance["value"] = value
    if "observedAt" in fragment:
        instance["observedAt"] = format_time(parse_time(fragment["observedAt"], f"{name}.observedAt"))
    if "unitCode" in fragment:
        if not isinstance(fragment["unitCode"], str):
            raise BadRequestData(f"{name}.unitCode must be a string", field=name)
        instance["unitCode"] = fragment["unitCode"]
    if "datasetId" in fragment:
        instance["datasetId"] = check_uri(fragment["datasetId"], f"{name}.datasetId")
    sub = {
        terms.expand(check_name(key)): parse_instance(key, value, terms, stamp=stamp)
        for key, value in fragment.items()
        if key not in CORE_MEMBERS and not key.startswith("@")
    }
    if sub:
        instance["sub"] = sub
    instance["createdAt"] = instance["modifiedAt"] = stamp
    return instance


def parse_attributes(
    body: Mapping[str, Any], terms: TermMap, *, stamp: str
) -> dict[str, list[dict[str, Any]]]:
    """Every attribute of a fragment, expanded; an array means several instances (datasetId)."""
    attrs: dict[str, list[dict[str, Any]]] = {}
    for name, fragment in body.items():
        if name in RESERVED_ENTITY_MEMBERS or name.startswith("@"):
            continue
        items = fragment if isinstance(fragment, list) and _is_instance_list(fragment) else [fragment]
        instances = [parse_instance(name, item, terms, stamp=stamp) for item in items]
        datasets = [instance.get("datasetId") for instance in instances]
        if len(set(datasets)) != len(datasets):
            raise BadRequestData(f"attribute {name} repeats a datasetId", field=name)
        attrs[terms.expand(name)] = instances
    return attrs


def _is_instance_list(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, Mapping) and (
        "type" in item or {"value", "object", "languageMap"} & item.keys()) for item in items)


def parse_types(value: Any, terms: TermMap) -> list[str]:
    """The expanded entity types of ``type`` (a name or a list of names)."""
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(name, str) and name for name in names):
        raise BadRequestData("type must be a name or a list of names", field="type")
    return [terms.expand(check_name(name)) for name in names]


def parse_entity(body: Any, terms: TermMap, *, stamp: str | None = None) -> dict[str, Any]:
    """A whole entity in stored form, validated."""
    if not isinstance(body, Mapping):
        raise BadRequestData("an entity must be a JSON object", field="body")
    if "id" not in body:
        raise BadRequestData("the entity has no id", field="id")
    if "type" not in body:
        raise BadRequestData("the entity has no type", field="type")
    stamp = stamp or now_iso()
    entity: dict[str, Any] = {
        "id": check_uri(body["id"], "id"),
        "type": parse_types(body["type"], terms),
        "createdAt": stamp,
        "modifiedAt": stamp,
        "attrs": parse_attributes(body, terms, stamp=stamp),
    }
    if "scope" in body:
        scopes = body["scope"] if isinstance(body["scope"], list) else [body["scope"]]
        if not all(isinstance(scope, str) and scope.startswith("/") for scope in scopes):
            raise BadRequestData("scope must be a path like /Kazakhstan/Astana", field="scope")
        entity["scope"] = scopes
    return entity
