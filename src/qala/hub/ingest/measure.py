"""Measurements in the IoT Agent JSON format mapped to NGSI-LD attribute updates: payload →
measures → readings (entity, attribute instances, observedAt). Pure: no database, no HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from qala.hub.ingest.convert import (
    Converter,
    MeasureError,
    check_attribute_name,
    converter_for,
    is_geojson,
)
from qala.hub.ngsild.model import LOCATION

Instance = dict[str, Any]
TIME_KEYS = ("TimeInstant",)
IGNORED_KEYS = frozenset({"id", "type", "TimeInstant"})
LATITUDE_KEYS = ("lat", "latitude")
LONGITUDE_KEYS = ("lon", "lng", "longitude")
MAX_MEASURES = 10_000


@dataclass(frozen=True)
class AttributeRule:
    """How one measured key becomes an entity attribute."""

    iri: str
    name: str
    convert: Converter
    unit: str | None = None
    sub: Mapping[str, Instance] | None = None


@dataclass(frozen=True)
class DeviceProfile:
    """Everything needed to map a device's measurements: its entity and attribute rules."""

    city_id: int
    apikey: str
    device_id: str
    entity_id: str
    entity_types: tuple[str, ...]
    rules: Mapping[str, AttributeRule]  # by object_id (or name when there is none)
    static: Mapping[str, list[Instance]] = field(default_factory=dict)
    explicit: bool = False
    expand: Callable[[str], str] = str
    #: Rules of measured keys nobody provisioned, made on first sight (a cache).
    inferred: dict[str, AttributeRule] = field(default_factory=dict, compare=False, hash=False)
    #: The last arrival time (ms) given to a measure without its own time.
    clock: list[int] = field(default_factory=lambda: [0], compare=False, hash=False)


@dataclass(frozen=True)
class Reading:
    """One measure of one device: attribute instances (IRI → instance) observed at a time."""

    profile: DeviceProfile
    observed_at: str
    attrs: dict[str, Instance]
    dropped: tuple[str, ...] = ()  # measured keys refused by explicitAttrs


def parse_topic(topic: str) -> tuple[str, str, str | None] | None:
    """``(apikey, device_id, attribute or None)`` of a measurement topic, or None.

    Accepted: ``/{apikey}/{device}/attrs``, ``/{apikey}/{device}/attrs/{attr}`` and both with
    the ``/json`` protocol prefix."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != "":
        return None
    if parts[1] == "json" and len(parts) in (5, 6) and parts[4] == "attrs":
        parts = parts[1:]
    if len(parts) == 4 and parts[3] == "attrs":
        return (parts[1], parts[2], None) if parts[1] and parts[2] else None
    if len(parts) == 5 and parts[3] == "attrs" and parts[4]:
        return (parts[1], parts[2], parts[4]) if parts[1] and parts[2] else None
    return None


def parse_measures(payload: bytes | str) -> list[dict[str, Any]]:
    """The measures of a multi-attribute payload: one JSON object, or an array of them."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        raise MeasureError("body", f"the payload is not valid JSON: {error}") from None
    return measures_of(body)


def measures_of(body: Any) -> list[dict[str, Any]]:
    """Check a decoded payload is a measure object or a non-empty array of them."""
    if isinstance(body, dict):
        return [body]
    if isinstance(body, list) and body and all(isinstance(item, dict) for item in body):
        if len(body) > MAX_MEASURES:
            raise MeasureError("body", f"at most {MAX_MEASURES} measures in one payload")
        return body
    raise MeasureError("body", "a measure must be a JSON object or an array of objects")


def single_measures(attribute: str, payload: bytes | str) -> list[dict[str, Any]]:
    """The measures of a single-attribute payload: a JSON value, plain text, or an array of
    ``{"timestamp", "value"}`` objects."""
    raw = payload.encode() if isinstance(payload, str) else payload
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            value = raw.hex()
    if (
        isinstance(value, list)
        and value
        and all(isinstance(item, dict) and "value" in item for item in value)
    ):
        measures = []
        for item in value:
            measure = {attribute: item["value"]}
            if "timestamp" in item:
                measure["TimeInstant"] = item["timestamp"]
            measures.append(measure)
        return measures
    return [{attribute: value}]


def observed_time(value: Any, field_name: str = "TimeInstant") -> str:
    """A timestamp (ISO 8601, or epoch seconds / milliseconds) as NGSI-LD ``observedAt``."""
    if isinstance(value, bool):
        raise MeasureError(field_name, "a timestamp must be a date-time string")
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > 1e11 else value
        try:
            moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise MeasureError(field_name, f"{value!r} is not a valid epoch time") from None
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise MeasureError(field_name, f"{value!r} is not an ISO 8601 date-time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        else:
            moment = moment.astimezone(dt.UTC)
    else:
        raise MeasureError(field_name, "a timestamp must be a date-time string")
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def arrival_time(profile: DeviceProfile, arrived_ms: int) -> str:
    """``observedAt`` for a measure without a time of its own: when it arrived, but always
    later than the device's previous such measure, so no two collapse into one instant."""
    last = profile.clock[0]
    ms = arrived_ms if arrived_ms > last else last + 1
    profile.clock[0] = ms
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def to_reading(profile: DeviceProfile, measure: Mapping[str, Any], default_time: str) -> Reading:
    """Map one measure to attribute instances of the device's entity."""
    observed = default_time
    for key in TIME_KEYS:
        if key in measure:
            observed = observed_time(measure[key], key)
    attrs: dict[str, Instance] = {}
    dropped: list[str] = []
    rules = profile.rules
    location = _location_of(profile, measure, observed)
    skipped: tuple[str, ...] = ()
    if location is not None:
        attrs[LOCATION] = location
        skipped = (*LATITUDE_KEYS, *LONGITUDE_KEYS)
    for key, value in measure.items():
        if value is None or key in IGNORED_KEYS or key in skipped:
            continue
        rule = rules.get(key)
        if rule is None:
            if profile.explicit:
                dropped.append(key)
                continue
            rule = _inferred_rule(profile, key, value)
        attrs[rule.iri] = _instance(rule, value, observed)
    return Reading(profile, observed, attrs, tuple(dropped))


def _instance(rule: AttributeRule, value: Any, observed: str) -> Instance:
    instance = rule.convert(rule.name, value)
    instance["observedAt"] = observed
    if rule.unit is not None:
        instance["unitCode"] = rule.unit
    if rule.sub:
        instance["sub"] = dict(rule.sub)
    return instance


def _inferred_rule(profile: DeviceProfile, key: str, value: Any) -> AttributeRule:
    """The rule of a measured key no provisioning names (autoprovisioned attributes)."""
    if type(value) is dict and is_geojson(value):
        return AttributeRule(
            iri=profile.expand(check_attribute_name(key)),
            name=key,
            convert=converter_for("geo:json"),
        )
    rule = profile.inferred.get(key)
    if rule is None:
        iri = profile.expand(check_attribute_name(key))
        rule = AttributeRule(
            iri=iri, name=key, convert=converter_for("geo:json" if iri == LOCATION else None)
        )
        profile.inferred[key] = rule
    return rule


def _location_of(
    profile: DeviceProfile, measure: Mapping[str, Any], observed: str
) -> Instance | None:
    """A ``location`` Point from separate latitude and longitude measures, when they are not
    mapped to attributes of their own."""
    lat_key = next((key for key in LATITUDE_KEYS if key in measure), None)
    lon_key = next((key for key in LONGITUDE_KEYS if key in measure), None)
    if lat_key is None or lon_key is None or lat_key in profile.rules or lon_key in profile.rules:
        return None
    if profile.explicit and not any(rule.iri == LOCATION for rule in profile.rules.values()):
        return None
    location_rule = next((r for r in profile.rules.values() if r.iri == LOCATION), None)
    rule = location_rule or AttributeRule(LOCATION, "location", converter_for("geo:json"))
    point = {"type": "Point", "coordinates": [measure[lon_key], measure[lat_key]]}
    return _instance(rule, point, observed)
