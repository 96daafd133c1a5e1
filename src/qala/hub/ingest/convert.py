"""Measured values converted by their provisioned attribute type (IoT Agent conventions) into
NGSI-LD attribute instances: numbers, booleans, text, date-times, Relationships,
LanguageProperties and GeoProperties (GeoJSON, ``geo:point`` "lat, lon", coordinate lists)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from typing import Any

from qala.hub.ngsild.errors import BadRequestData
from qala.hub.ngsild.model import FORBIDDEN_NAME_CHARS, GEOMETRY_TYPES, URI, check_geometry

#: ``convert(name, value) -> instance`` (without observedAt and system attributes).
Converter = Callable[[str, Any], dict[str, Any]]

NUMBER_TYPES = frozenset({"number", "float", "double", "decimal", "real"})
INTEGER_TYPES = frozenset({"integer", "int", "long"})
BOOLEAN_TYPES = frozenset({"boolean", "bool"})
TEXT_TYPES = frozenset({"text", "string"})
DATETIME_TYPES = frozenset({"datetime", "date", "time", "iso8601"})
GEO_TYPES = frozenset(
    {
        "geoproperty",
        "geo:json",
        "geo:point",
        "geo:line",
        "geo:polygon",
        "geo:box",
        *(name.lower() for name in GEOMETRY_TYPES),
    }
)
TRUE_WORDS = frozenset({"true", "1", "on", "yes"})
FALSE_WORDS = frozenset({"false", "0", "off", "no"})


class MeasureError(ValueError):
    """A measurement (or provisioned value) that cannot be mapped; ``field`` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def check_attribute_name(name: str) -> str:
    """``name`` if an NGSI-LD attribute may be called so, else MeasureError."""
    if not name or FORBIDDEN_NAME_CHARS.search(name) or name in ("id", "type", "@context"):
        raise MeasureError(name or "name", f"{name!r} cannot be an attribute name")
    return name


def is_geojson(value: Any) -> bool:
    """True for a GeoJSON geometry object."""
    return isinstance(value, dict) and value.get("type") in GEOMETRY_TYPES


def converter_for(type_name: str | None) -> Converter:
    """The converter of a provisioned attribute type (case-insensitive; unknown: as is)."""
    kind = (type_name or "").strip().lower()
    for kinds, converter in _CONVERTERS:
        if kind in kinds:
            return converter
    return _as_is


def _property(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


def _as_is(name: str, value: Any) -> dict[str, Any]:
    if type(value) is dict and is_geojson(value):
        return _geometry(name, value)
    return _property(value)


def _number(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _property(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return _property(
                    int(number)
                    if number.is_integer() and "." not in value and "e" not in value.lower()
                    else number
                )
    raise MeasureError(name, f"{name} must be a number, got {value!r}")


def _integer(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int) and not isinstance(value, bool):
        return _property(value)
    if isinstance(value, float) and value.is_integer():
        return _property(int(value))
    if isinstance(value, str):
        try:
            return _property(int(value.strip()))
        except ValueError:
            pass
    raise MeasureError(name, f"{name} must be a whole number, got {value!r}")


def _boolean(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return _property(value)
    word = str(value).strip().lower() if isinstance(value, str | int) else ""
    if word in TRUE_WORDS:
        return _property(True)
    if word in FALSE_WORDS:
        return _property(False)
    raise MeasureError(name, f"{name} must be true or false, got {value!r}")


def _text(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return _property(value)
    if isinstance(value, int | float | bool):
        return _property(str(value).lower() if isinstance(value, bool) else str(value))
    return _property(value)


def _datetime(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
            stamp = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            return _property({"@type": "DateTime", "@value": stamp})
    raise MeasureError(name, f"{name} must be an ISO 8601 date-time, got {value!r}")


def _relationship(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, str) and URI.match(value):
        return {"type": "Relationship", "object": value}
    raise MeasureError(name, f"{name} must be the URI of an entity, got {value!r}")


def _language(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"type": "LanguageProperty", "languageMap": {"@none": value}}
    if isinstance(value, Mapping) and value and all(isinstance(v, str) for v in value.values()):
        return {"type": "LanguageProperty", "languageMap": dict(value)}
    raise MeasureError(name, f"{name} must map languages to strings, got {value!r}")


def _geo_point(name: str, value: Any) -> dict[str, Any]:
    """``geo:point`` text is "latitude, longitude" (NGSI v2); other forms as ``_geometry``."""
    if isinstance(value, str):
        numbers = _numbers(name, value)
        if len(numbers) != 2:
            raise MeasureError(name, f"{name} must be 'latitude, longitude', got {value!r}")
        return _geometry(name, {"type": "Point", "coordinates": [numbers[1], numbers[0]]})
    return _geometry(name, value)


def _geometry(name: str, value: Any) -> dict[str, Any]:
    """A GeoJSON geometry, a [lon, lat] list (or list of them), or "lon, lat, ..." text."""
    if isinstance(value, str):
        value = _pairs(name, _numbers(name, value))
    if isinstance(value, list):
        value = _list_geometry(name, value)
    try:
        geometry = check_geometry(value, name)
    except BadRequestData as error:
        raise MeasureError(name, error.detail) from None
    return {"type": "GeoProperty", "value": geometry}


def _numbers(name: str, text: str) -> list[float]:
    try:
        return [float(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise MeasureError(name, f"{name} must be coordinates, got {text!r}") from None


def _pairs(name: str, numbers: list[float]) -> list[Any]:
    if len(numbers) < 2 or len(numbers) % 2:
        raise MeasureError(name, f"{name} must be pairs of coordinates")
    if len(numbers) == 2:
        return numbers
    return [numbers[i : i + 2] for i in range(0, len(numbers), 2)]


def _list_geometry(name: str, value: list[Any]) -> dict[str, Any]:
    if len(value) == 2 and all(isinstance(v, int | float) for v in value):
        return {"type": "Point", "coordinates": value}
    if value and all(isinstance(v, list) and len(v) == 2 for v in value):
        return {"type": "LineString", "coordinates": value}
    raise MeasureError(name, f"{name} must be a GeoJSON geometry or [longitude, latitude]")


_CONVERTERS: tuple[tuple[frozenset[str], Converter], ...] = (
    (NUMBER_TYPES, _number),
    (INTEGER_TYPES, _integer),
    (BOOLEAN_TYPES, _boolean),
    (TEXT_TYPES, _text),
    (DATETIME_TYPES, _datetime),
    (frozenset({"relationship"}), _relationship),
    (frozenset({"languageproperty"}), _language),
    (frozenset({"geo:point"}), _geo_point),
    (GEO_TYPES, _geometry),
)
