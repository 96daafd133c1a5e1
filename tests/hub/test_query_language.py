"""The NGSI-LD query languages as pure functions over stored entities: q (every operator,
precedence, paths, value kinds, errors with positions), type selection and scopeQ."""

from __future__ import annotations

from typing import Any

import pytest

from qala.hub.ngsild.context import ContextCache
from qala.hub.ngsild.errors import BadRequestData
from qala.hub.ngsild.query import parse_q, parse_type_selection
from qala.hub.ngsild.scope import parse_scope_q

TERMS = ContextCache().term_map(None)
X = TERMS.expand


def entity(**attrs: Any) -> dict[str, Any]:
    """A stored entity whose attributes are given as lists of instances (or one instance)."""
    stored = {
        X(name): value if isinstance(value, list) else [value] for name, value in attrs.items()
    }
    return {
        "id": "urn:ngsi-ld:Sensor:1",
        "type": [X("Sensor")],
        "attrs": stored,
        "scope": ["/Kazakhstan/Astana/Esil", "/Operator/Kazvodokanal"],
    }


def prop(value: Any, **members: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **members}


SENSOR = entity(
    temperature=prop(
        21.5, observedAt="2024-05-01T10:00:00.000Z", unitCode="CEL", sub={X("accuracy"): prop(0.5)}
    ),
    name=prop("Kabanbay Batyr 7"),
    active=prop(True),
    count=prop(12),
    tags=prop(["water", "pressure"]),
    address=prop({"city": "Astana", "street": {"name": "Kabanbay", "number": 7}}),
    installedAt=prop({"@type": "DateTime", "@value": "2023-03-01T00:00:00Z"}),
    serviceDay=prop("2024-05-01"),
    servedBy={"type": "Relationship", "object": "urn:ngsi-ld:Pump:7"},
    watches={"type": "Relationship", "object": ["urn:ngsi-ld:Valve:1", "urn:ngsi-ld:Valve:2"]},
    title={
        "type": "LanguageProperty",
        "languageMap": {"ru": "Датчик", "kk": "Датчик", "en": "Sensor"},
    },
    pressure=[
        prop(2.1, datasetId="urn:ngsi-ld:Dataset:a"),
        prop(3.9, datasetId="urn:ngsi-ld:Dataset:b"),
    ],
)


def matches(q: str, target: dict[str, Any] = SENSOR) -> bool:
    return parse_q(q, TERMS)(target)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("temperature==21.5", True),
        ("temperature==21", False),
        ("count==12", True),
        ("temperature!=21.5", False),
        ("temperature!=20", True),
        ("temperature>21", True),
        ("temperature>21.5", False),
        ("temperature>=21.5", True),
        ("temperature<22", True),
        ("temperature<=21.4", False),
        ("count<=12", True),
        ('name=="Kabanbay Batyr 7"', True),
        ('name!="Kabanbay Batyr 7"', False),
        ('name>"A"', True),
        ('name<"A"', False),
        ("active==true", True),
        ("active==false", False),
        ("active!=false", True),
    ],
)
def test_comparisons(q: str, expected: bool) -> None:
    assert matches(q) is expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('name~="^Kabanbay"', True),
        ('name~="Batyr \\\\d+$"', True),
        ("name~=^Abay", False),
        ('name!~="^Abay"', True),
        ('name!~="Kaban"', False),
        ("tags~=^press", True),
        ("count~=12", False),
        ("count!~=12", False),  # a pattern never matches a non-string
        ("name~=(Kaban|Abay)bay", True),
    ],
)
def test_patterns(q: str, expected: bool) -> None:
    assert matches(q) is expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("count==1,12,20", True),
        ("count==1,2", False),
        ("count!=1,2", True),
        ("count!=1,12", False),
        ("temperature==20..22", True),
        ("temperature==22..30", False),
        ("temperature!=22..30", True),
        ('name=="A".."L"', True),
        ('tags=="gas","water"', True),
    ],
)
def test_value_lists_and_ranges(q: str, expected: bool) -> None:
    assert matches(q) is expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("temperature", True),
        ("humidity", False),
        ("!humidity", True),
        ("!temperature", False),
        ("temperature.accuracy", True),
        ("temperature.calibration", False),
        ("temperature.observedAt", True),
        ("name.observedAt", False),
        ("address[city]", True),
        ("address[zip]", False),
        ("address[street.number]", True),
    ],
)
def test_existence_and_non_existence(q: str, expected: bool) -> None:
    assert matches(q) is expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("temperature.observedAt>=2024-01-01T00:00:00Z", True),
        ("temperature.observedAt<2024-05-01T12:00:00+02:00", False),  # 10:00Z is 12:00+02:00
        ("temperature.observedAt==2024-05-01T10:00:00Z", True),
        ('temperature.observedAt>"2024-04-30T00:00:00Z"', True),
        ('temperature.unitCode=="CEL"', True),
        ('temperature.unitCode!="CEL"', False),
        ("temperature.accuracy<1", True),
        ("temperature.accuracy>1", False),
        ("installedAt<2024-01-01T00:00:00Z", True),
        ("serviceDay>=2024-04-30", True),
        ("serviceDay==2024-05-02", False),
        ('address[city]=="Astana"', True),
        ('address[street.name]=="Kabanbay"', True),
        ("address[street.number]>5", True),
        ('address[zip]!="x"', False),
    ],
)
def test_paths_members_compound_values_and_times(q: str, expected: bool) -> None:
    assert matches(q) is expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("servedBy==urn:ngsi-ld:Pump:7", True),
        ('servedBy=="urn:ngsi-ld:Pump:7"', True),
        ("servedBy==urn:ngsi-ld:Pump:8", False),
        ("servedBy!=urn:ngsi-ld:Pump:8", True),
        ("watches==urn:ngsi-ld:Valve:2", True),
        ('servedBy>"urn:a"', False),
        ('title=="Sensor"', True),
        ('title[en]=="Sensor"', True),
        ('title[ru]=="Sensor"', False),
        ('title[*]=="Датчик"', True),
        ('title[*]!="Sensor"', False),
        ('title[kk]!="Sensor"', True),
        ("tags==water", True),
        ('tags=="gas"', False),
        ('tags!="gas"', True),
        ('tags!="water"', False),
        ("pressure>3", True),
        ("pressure<2", False),
        ('pressure.datasetId=="urn:ngsi-ld:Dataset:b"', True),
    ],
)
def test_relationships_languages_arrays_and_instances(q: str, expected: bool) -> None:
    assert matches(q) is expected


@pytest.mark.parametrize(
    "q",
    [
        'temperature=="21.5"',
        "name==5",
        "active==1",
        "count>true_",
        "servedBy>5",
        "temperature>2024-01-01T00:00:00Z",
    ],
)
def test_type_mismatch_never_matches(q: str) -> None:
    assert matches(q) is False


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("count==1|count==12;active==false", False),  # ; binds tighter: 1 | (12 and false)
        ("(count==1|count==12);active==true", True),
        ("count==12;active==true|humidity", True),
        ("humidity|count==1|name~=Batyr", True),
        ("((count>10;count<20)|humidity);(active==true)", True),
        ('count>10;(humidity|name=="x")', False),
    ],
)
def test_and_binds_tighter_than_or(q: str, expected: bool) -> None:
    assert matches(q) is expected


def test_names_expand_through_the_context() -> None:
    terms = ContextCache().term_map({"t": "https://example.org/temperature"})
    stored = {
        "id": "urn:x",
        "type": [X("Sensor")],
        "attrs": {"https://example.org/temperature": [prop(5)]},
    }
    assert parse_q("t==5", terms)(stored) is True
    assert parse_q("https://example.org/temperature>4", TERMS)(stored) is True
    assert parse_q("temperature==5", TERMS)(stored) is False


@pytest.mark.parametrize(
    ("q", "position"),
    [
        ("", 0),
        ("temperature==", 13),
        ("temperature>>5", 12),
        ("(count==1", 9),
        ("count==1)", 8),
        ("count>1..5", 6),
        ("active>true", 7),
        ('name=="open', 6),
        ("count==1;", 9),
        ("count==1 name", 9),
        ("5==5", 0),
        ("!count==1", 0),
        ('name~="("', 6),
        ("address[city", 7),
        ("a.observedAt.x==1", 0),
        ("count==12..x", 7),
    ],
)
def test_syntax_errors_name_the_position(q: str, position: int) -> None:
    with pytest.raises(BadRequestData) as raised:
        parse_q(q, TERMS)
    assert raised.value.extra["field"] == "q"
    assert f"position {position}:" in str(raised.value)


def test_type_selection() -> None:
    either, candidates = parse_type_selection("Sensor,Pump", TERMS)
    assert either(SENSOR) is True
    assert candidates == tuple(sorted((X("Sensor"), X("Pump"))))
    also, candidates = parse_type_selection("Valve|(Pump|Sensor)", TERMS)
    assert also(SENSOR) is True and candidates is not None and len(candidates) == 3
    both, candidates = parse_type_selection("(Sensor;Pump)", TERMS)
    assert both(SENSOR) is False and candidates is None
    mixed, candidates = parse_type_selection("(Sensor;Device)|Pump", TERMS)
    assert mixed({**SENSOR, "type": [X("Sensor"), X("Device")]}) is True
    assert mixed(SENSOR) is False and candidates is None
    every, candidates = parse_type_selection("*", TERMS)
    assert every(SENSOR) is True and candidates is None
    for bad in ("", "Sensor,", "(Sensor", "Sensor)", "Sen sor", "Sensor;;Pump"):
        with pytest.raises(BadRequestData):
            parse_type_selection(bad, TERMS)


@pytest.mark.parametrize(
    ("scope_q", "expected"),
    [
        ("/Kazakhstan/Astana/Esil", True),
        ("/Kazakhstan/Astana", False),
        ("/Kazakhstan/#", True),
        ("/Kazakhstan/Astana/Esil/#", True),
        ("/Almaty/#", False),
        ("/Kazakhstan/+/Esil", True),
        ("/+/Astana", False),
        ("/#", True),
        ("/Kazakhstan/#;/Operator/Kazvodokanal", True),
        ("/Kazakhstan/#;/Operator/Other", False),
        ("/Almaty,/Operator/+", True),
        ("(/Almaty;/Kazakhstan/#)|/Operator/#", True),
        ("(/Almaty;/Kazakhstan/#)|/Nowhere", False),
    ],
)
def test_scope_queries(scope_q: str, expected: bool) -> None:
    matcher = parse_scope_q(scope_q)
    assert matcher is not None
    assert matcher(SENSOR) is expected
    assert matcher({**SENSOR, "scope": []}) is False


@pytest.mark.parametrize("scope_q", ["Kazakhstan", "/Kazakhstan//Astana", "/a/#/b", "(/a", "/a;"])
def test_bad_scope_queries(scope_q: str) -> None:
    with pytest.raises(BadRequestData) as raised:
        parse_scope_q(scope_q)
    assert raised.value.extra["field"] == "scopeQ"
