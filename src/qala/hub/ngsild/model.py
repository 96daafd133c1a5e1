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

ATTRIBUTE_TYPES = (
    "Property",
    "Relationship",
    "GeoProperty",
    "LanguageProperty",
    "ListProperty",
    "VocabProperty",
    "JsonProperty",
    "ListRelationship",
)
#: The member that carries an attribute's value, by attribute type.
VALUE_MEMBERS = frozenset(
    {"value", "object", "languageMap", "valueList", "objectList", "vocab", "json"}
)
GEOMETRY_TYPES = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
)
#: Members of an attribute that are not sub-attributes.
CORE_MEMBERS = frozenset(
    {
        "type",
        "value",
        "object",
        "languageMap",
        "valueList",
        "objectList",
        "observedAt",
        "unitCode",
        "datasetId",
        "createdAt",
        "modifiedAt",
        "instanceId",
        "lang",
        "objectType",
        "vocab",
        "json",
        "deletedAt",
        "valueType",
    }
)
#: Each attribute type's own value member; the others' are forbidden on it (§4.5.2.2 ff.).
OWN_VALUE = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "ListRelationship": "objectList",
    "LanguageProperty": "languageMap",
    "ListProperty": "valueList",
    "VocabProperty": "vocab",
    "JsonProperty": "json",
}
#: Members only a broker writes (notifications, inline joins, proofs): never accepted as input.
OUTPUT_ONLY = frozenset(
    {
        "previousValue",
        "previousObject",
        "previousLanguageMap",
        "previousVocab",
        "previousJson",
        "previousValueList",
        "previousObjectList",
        "entity",
        "entityList",
        "entityIdSealed",
        "entityTypeSealed",
    }
)
#: JSON-LD keyword aliases of the core @context: never names of types or attributes.
KEYWORD_ALIASES = frozenset({"id", "type"})
SYSTEM_MEMBERS = frozenset({"createdAt", "modifiedAt", "deletedAt", "instanceId"})
RESERVED_ENTITY_MEMBERS = frozenset({"id", "type", "@context", "scope", "createdAt", "modifiedAt"})
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
LANGUAGE_TAG = re.compile(r"^(@none|[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*)$")
FORBIDDEN_NAME_CHARS = re.compile(r"[<>\"'=;()\s&?/#]")
FORBIDDEN_IRI_CHARS = re.compile(r"[<>\"'=;()\s]")
#: §4.6.2: name = unicodeLetter *(unicodeLetter / unicodeNumber / "_"), maybe "prefix:name".
SHORT_NAME = re.compile(r"^([^\W\d_]\w*:)?[^\W\d_]\w*$")
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
        raise BadRequestData(
            f"{field} is not an ISO 8601 date-time: {text!r}", field=field
        ) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def check_uri(value: Any, field: str) -> str:
    """``value`` if it is an absolute URI, else BadRequestData."""
    if not isinstance(value, str) or not URI.match(value):
        raise BadRequestData(f"{field} must be a URI, got {value!r}", field=field)
    return value


def check_name(name: str) -> str:
    """An attribute or type name a client may use: a short name without the characters NGSI-LD
    forbids (§4.6.2), or an IRI (expanded ``https://...`` or compact ``prefix:suffix``)."""
    if not isinstance(name, str) or not name or len(name) > 512:
        raise BadRequestData(f"invalid attribute or type name {name!r}", field=str(name)[:100])
    if SHORT_NAME.match(name):
        return name
    if ":" in name and URI.match(name) and not FORBIDDEN_IRI_CHARS.search(name):
        return name
    raise BadRequestData(
        f"invalid attribute or type name {name!r}: a name starts with a letter and has only "
        "letters, digits and _ (or it is an IRI)",
        field=name[:100],
    )


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
    for member, kind in (
        ("object", "Relationship"),
        ("objectList", "ListRelationship"),
        ("languageMap", "LanguageProperty"),
        ("valueList", "ListProperty"),
        ("vocab", "VocabProperty"),
        ("json", "JsonProperty"),
    ):
        if member in fragment:
            return kind
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
        "type" not in fragment and not (VALUE_MEMBERS & fragment.keys())
    ):
        fragment = {"value": fragment}  # concise: a bare value is a Property's value
    kind = fragment.get("type") or _infer_type(name, fragment, iri)
    if kind not in ATTRIBUTE_TYPES:
        raise BadRequestData(f"attribute {name} has unknown type {kind!r}", field=name)
    _check_members(kind, name, fragment)
    instance: dict[str, Any] = {"type": kind, **_parse_value(kind, name, fragment, terms)}
    if "observedAt" in fragment:
        observed = parse_time(fragment["observedAt"], f"{name}.observedAt")
        instance["observedAt"] = format_time(observed)
    if "unitCode" in fragment:
        if not isinstance(fragment["unitCode"], str):
            raise BadRequestData(f"{name}.unitCode must be a string", field=name)
        instance["unitCode"] = fragment["unitCode"]
    if "datasetId" in fragment:
        instance["datasetId"] = check_uri(fragment["datasetId"], f"{name}.datasetId")
    if "valueType" in fragment:
        if not isinstance(fragment["valueType"], str):
            raise BadRequestData(f"{name}.valueType must be a string", field=name)
        instance["valueType"] = fragment["valueType"]
    sub = {
        terms.expand(check_name(key)): parse_instance(key, value, terms, stamp=stamp)
        for key, value in fragment.items()
        if key not in CORE_MEMBERS and not key.startswith("@")
    }
    if sub:
        instance["sub"] = sub
    instance["createdAt"] = instance["modifiedAt"] = stamp
    return instance


def _check_members(kind: str, name: str, fragment: Mapping[str, Any]) -> None:
    """BadRequestData for members an attribute of type ``kind`` shall never include."""
    wrong = (VALUE_MEMBERS - {OWN_VALUE[kind]}) & fragment.keys()
    wrong |= OUTPUT_ONLY & fragment.keys()
    if kind in ("Relationship", "ListRelationship"):
        wrong |= {"unitCode", "valueType"} & fragment.keys()
    if wrong:
        raise BadRequestData(
            f"a {kind} cannot have {', '.join(sorted(wrong))} (attribute {name})", field=name
        )


def _parse_value(
    kind: str, name: str, fragment: Mapping[str, Any], terms: TermMap
) -> dict[str, Any]:
    """The value member(s) of an attribute of type ``kind``, in stored form."""
    if kind in ("Relationship", "ListRelationship"):
        return _parse_relationship(kind, name, fragment, terms)
    if kind == "LanguageProperty":
        return {"languageMap": _language_map(fragment.get("languageMap"), name)}
    if kind == "ListProperty":
        if not isinstance(fragment.get("valueList"), list):
            raise BadRequestData(f"{name}.valueList must be a list", field=name)
        return {"valueList": fragment["valueList"]}
    if kind == "VocabProperty":
        vocab = fragment.get("vocab")
        names: list[Any] = vocab if isinstance(vocab, list) else [vocab]
        if not names or not all(isinstance(item, str) and item for item in names):
            raise BadRequestData(f"{name}.vocab must be a name or a list of names", field=name)
        expanded = [terms.expand(check_name(str(item))) for item in names]
        return {"vocab": expanded if isinstance(vocab, list) else expanded[0]}
    if kind == "JsonProperty":
        if "json" not in fragment or fragment["json"] is None:
            raise BadRequestData(f"attribute {name} has no json member", field=name)
        return {"json": fragment["json"]}
    if "value" not in fragment or fragment["value"] is None:
        raise BadRequestData(f"attribute {name} has no value", field=name)
    value = fragment["value"]
    return {"value": check_geometry(value, name) if kind == "GeoProperty" else value}


def _parse_relationship(
    kind: str, name: str, fragment: Mapping[str, Any], terms: TermMap
) -> dict[str, Any]:
    if kind == "Relationship":
        return {"object": _objects(fragment.get("object"), name), **_object_type(fragment, terms)}
    items = fragment.get("objectList")
    if not isinstance(items, list):
        raise BadRequestData(f"{name}.objectList must be a list", field=name)
    targets = [item.get("object") if isinstance(item, Mapping) else item for item in items]
    return {
        "objectList": [check_uri(target, f"{name}.objectList") for target in targets],
        **_object_type(fragment, terms),
    }


def _objects(target: Any, name: str) -> str | list[str]:
    if isinstance(target, list):
        if not target:
            raise BadRequestData(f"{name}.object must not be empty", field=name)
        return [check_uri(item, f"{name}.object") for item in target]
    return check_uri(target, f"{name}.object")


def _object_type(fragment: Mapping[str, Any], terms: TermMap) -> dict[str, Any]:
    if "objectType" not in fragment:
        return {}
    value = fragment["objectType"]
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(item, str) and item for item in names):
        raise BadRequestData("objectType must be a type name or a list of them", field="objectType")
    expanded = [terms.expand(check_name(item)) for item in names]
    return {"objectType": expanded if isinstance(value, list) else expanded[0]}


def _language_map(language_map: Any, name: str) -> dict[str, Any]:
    if not isinstance(language_map, Mapping) or not language_map:
        raise BadRequestData(f"{name}.languageMap must map languages to strings", field=name)
    for language, text in language_map.items():
        texts = text if isinstance(text, list) else [text]
        if not LANGUAGE_TAG.match(language) or not all(isinstance(t, str) for t in texts):
            raise BadRequestData(
                f"{name}.languageMap must map language tags to strings ({language!r})", field=name
            )
    return dict(language_map)


def parse_attributes(
    body: Mapping[str, Any], terms: TermMap, *, stamp: str
) -> dict[str, list[dict[str, Any]]]:
    """Every attribute of a fragment, expanded; an array means several instances (datasetId)."""
    attrs: dict[str, list[dict[str, Any]]] = {}
    for name, fragment in body.items():
        if name in RESERVED_ENTITY_MEMBERS or name.startswith("@"):
            continue
        several = isinstance(fragment, list) and is_instance_list(fragment)
        items = fragment if several else [fragment]
        instances = [parse_instance(name, item, terms, stamp=stamp) for item in items]
        datasets = [instance.get("datasetId") for instance in instances]
        if len(set(datasets)) != len(datasets):
            raise BadRequestData(f"attribute {name} repeats a datasetId", field=name)
        attrs[terms.expand(name)] = instances
    return attrs


def is_instance_list(items: list[Any]) -> bool:
    """True when a list is several instances of one attribute (not a list value)."""
    return bool(items) and all(
        isinstance(item, Mapping) and ("type" in item or VALUE_MEMBERS & item.keys())
        for item in items
    )


def keyword_aliases(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """``@id`` and ``@type`` read as ``id`` and ``type`` (§4.4: JSON-LD keywords are allowed
    in requests; responses use only ``id`` and ``type``)."""
    if "@id" not in body and "@type" not in body:
        return body
    renamed = {key: value for key, value in body.items() if key not in ("@id", "@type")}
    for keyword, alias in (("@id", "id"), ("@type", "type")):
        if keyword in body:
            if alias in body:
                raise BadRequestData(f"give {alias} or {keyword}, not both", field=alias)
            renamed[alias] = body[keyword]
    return renamed


def parse_types(value: Any, terms: TermMap) -> list[str]:
    """The expanded entity types of ``type`` (a name or a list of names)."""
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(name, str) and name for name in names):
        raise BadRequestData("type must be a name or a list of names", field="type")
    if KEYWORD_ALIASES & set(names):
        raise BadRequestData("id and type are not entity type names", field="type")
    return [terms.expand(check_name(name)) for name in names]


def parse_entity(body: Any, terms: TermMap, *, stamp: str | None = None) -> dict[str, Any]:
    """A whole entity in stored form, validated."""
    if not isinstance(body, Mapping):
        raise BadRequestData("an entity must be a JSON object", field="body")
    body = keyword_aliases(body)
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
