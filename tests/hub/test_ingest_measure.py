"""The pure mapping of IoT Agent JSON measurements (no database): topics, payloads, value
conversion by provisioned type, locations, timestamps and provisioned profiles."""

from __future__ import annotations

from typing import Any

import pytest

from qala.hub.ingest.convert import MeasureError, converter_for
from qala.hub.ingest.measure import (
    DeviceProfile,
    arrival_time,
    observed_time,
    parse_measures,
    parse_topic,
    single_measures,
    to_reading,
)
from qala.hub.ingest.profiles import compile_profile
from qala.hub.ngsild.context import ContextCache
from qala.hub.ngsild.model import LOCATION

EXPAND = ContextCache().term_map(None).expand
VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
GROUP: dict[str, Any] = {
    "apikey": "k1",
    "entity_type": "Station",
    "attributes": [
        {
            "object_id": "t",
            "name": "temperature",
            "type": "Number",
            "metadata": {
                "unitCode": {"type": "Text", "value": "CEL"},
                "accuracy": {"type": "Number", "value": 0.5},
            },
        },
        {"object_id": "on", "name": "running", "type": "Boolean"},
        {"object_id": "pos", "name": "location", "type": "geo:point"},
        {"object_id": "site", "name": "refSite", "type": "Relationship"},
    ],
    "static_attributes": [{"name": "owner", "type": "Text", "value": "akimat"}],
}


def profile(**changes: Any) -> DeviceProfile:
    return compile_profile(7, {**GROUP, **changes}, None, "dev-1", EXPAND)


@pytest.mark.parametrize(
    ("topic", "parsed"),
    [
        ("/k1/dev-1/attrs", ("k1", "dev-1", None)),
        ("/json/k1/dev-1/attrs", ("k1", "dev-1", None)),
        ("/k1/dev-1/attrs/t", ("k1", "dev-1", "t")),
        ("/json/k1/dev-1/attrs/t", ("k1", "dev-1", "t")),
        ("k1/dev-1/attrs", None),
        ("/k1/dev-1/cmd", None),
        ("/k1//attrs", None),
    ],
)
def test_topics(topic: str, parsed: tuple[str, str, str | None] | None) -> None:
    assert parse_topic(topic) == parsed


def test_profile_of_an_autoprovisioned_device() -> None:
    made = profile()
    assert made.entity_id == "urn:ngsi-ld:Station:dev-1"
    assert made.entity_types == (VOCAB + "Station",)
    assert made.static[VOCAB + "owner"][0]["value"] == "akimat"
    assert set(made.rules) == {"t", "on", "pos", "site"}


def test_reading_maps_names_types_units_and_metadata() -> None:
    reading = to_reading(
        profile(),
        {
            "t": "21.5",
            "on": "true",
            "site": "urn:ngsi-ld:Site:1",
            "extra": [1, 2],
            "TimeInstant": "2026-01-01T06:00:00+06:00",
        },
        "2026-02-02T00:00:00.000Z",
    )
    assert reading.observed_at == "2026-01-01T00:00:00.000Z"
    temperature = reading.attrs[VOCAB + "temperature"]
    assert temperature["value"] == 21.5
    assert temperature["unitCode"] == "CEL"
    assert temperature["sub"] == {VOCAB + "accuracy": {"type": "Property", "value": 0.5}}
    assert reading.attrs[VOCAB + "running"]["value"] is True
    assert reading.attrs[VOCAB + "refSite"] == {
        "type": "Relationship",
        "object": "urn:ngsi-ld:Site:1",
        "observedAt": "2026-01-01T00:00:00.000Z",
    }
    assert reading.attrs[VOCAB + "extra"]["value"] == [1, 2]


def test_locations_from_geo_point_and_from_lat_lon() -> None:
    geo_point = to_reading(profile(), {"pos": "51.13, 71.43"}, "2026-01-01T00:00:00.000Z")
    assert geo_point.attrs[LOCATION]["value"] == {"type": "Point", "coordinates": [71.43, 51.13]}
    separate = to_reading(profile(), {"lat": 51.1, "lon": 71.4}, "2026-01-01T00:00:00.000Z")
    assert separate.attrs[LOCATION]["type"] == "GeoProperty"
    assert separate.attrs[LOCATION]["value"]["coordinates"] == [71.4, 51.1]
    assert VOCAB + "lat" not in separate.attrs


def test_explicit_attrs_drop_unknown_keys() -> None:
    reading = to_reading(
        profile(explicitAttrs=True), {"t": 1, "noise": 3}, "2026-01-01T00:00:00.000Z"
    )
    assert list(reading.attrs) == [VOCAB + "temperature"]
    assert reading.dropped == ("noise",)


@pytest.mark.parametrize(
    ("measure", "field"),
    [
        ({"t": "hot"}, "temperature"),
        ({"on": "maybe"}, "running"),
        ({"pos": "north"}, "location"),
        ({"site": "not a uri"}, "refSite"),
        ({"bad name": 1}, "bad name"),
        ({"t": 1, "TimeInstant": "noon"}, "TimeInstant"),
    ],
)
def test_bad_values_name_their_field(measure: dict[str, Any], field: str) -> None:
    with pytest.raises(MeasureError) as error:
        to_reading(profile(), measure, "2026-01-01T00:00:00.000Z")
    assert error.value.field == field


def test_payloads() -> None:
    assert parse_measures(b'{"t": 1}') == [{"t": 1}]
    assert parse_measures(b'[{"t": 1}, {"t": 2}]') == [{"t": 1}, {"t": 2}]
    for bad in (b"{", b"[]", b"[1]", b'"x"'):
        with pytest.raises(MeasureError):
            parse_measures(bad)
    assert single_measures("t", b"21") == [{"t": 21}]
    assert single_measures("s", b"open") == [{"s": "open"}]
    assert single_measures("t", b'[{"timestamp": "2026-01-01T00:00:00Z", "value": 3}]') == [
        {"t": 3, "TimeInstant": "2026-01-01T00:00:00Z"}
    ]


def test_timestamps() -> None:
    assert observed_time("2026-01-01T00:00:00Z") == "2026-01-01T00:00:00.000Z"
    assert observed_time("2026-01-01T00:00:00") == "2026-01-01T00:00:00.000Z"
    assert observed_time(1_767_225_600) == "2026-01-01T00:00:00.000Z"
    assert observed_time(1_767_225_600_250) == "2026-01-01T00:00:00.250Z"
    with pytest.raises(MeasureError):
        observed_time(True)


def test_arrival_times_of_one_device_never_collide() -> None:
    made = profile()
    stamps = [arrival_time(made, 1_767_225_600_000) for _ in range(3)]
    assert stamps == [
        "2026-01-01T00:00:00.000Z",
        "2026-01-01T00:00:00.001Z",
        "2026-01-01T00:00:00.002Z",
    ]


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("Integer", "42", 42),
        ("Integer", 4.0, 4),
        ("Number", "1e3", 1000.0),
        ("Text", 12, "12"),
        (
            "DateTime",
            "2026-01-01T06:00:00+06:00",
            {"@type": "DateTime", "@value": "2026-01-01T00:00:00.000Z"},
        ),
        ("StructuredValue", {"a": 1}, {"a": 1}),
    ],
)
def test_conversions(kind: str, value: Any, expected: Any) -> None:
    assert converter_for(kind)("x", value)["value"] == expected
