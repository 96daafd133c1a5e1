"""Tenant isolation on every API route, generated from the live route table (the OpenAPI
document), so a route a module adds tomorrow is tested without anyone writing a test for it.

For each route: anonymous callers are refused unless the route is listed in PUBLIC; a city
admin (and a device key) of ``city`` who names ``other_city`` — by the Qala-City header or by
the id of one of its rows — is refused with 403 or 404, and nothing of ``other_city`` changes.
A positive control shows the same generated request succeeds in the caller's own city, so the
refusals are about the city and not about a malformed request.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from qala.app import create_app
from qala.core.alerts import Alert
from qala.core.auth import service as auth
from qala.core.auth.models import Membership, User
from qala.core.cities import City
from qala.core.db import Base
from qala.settings import Settings

API_PREFIXES = ("/api/",)
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

#: Routes that answer anonymous callers, each with the reason it may.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/api/cities"): "the list of cities is the front door of the platform",
    ("GET", "/api/cities/{city}"): "a city's name, centre and bounds are public facts",
    ("GET", "/api/cities/{city}/districts"): "district boundaries draw the citizens' map",
    ("GET", "/api/modules"): "which modules a city runs is shown on its public page",
    ("POST", "/api/auth/token"): "signing in cannot require being signed in",
}

#: Signed-in routes about the caller, not about a city: any city header is irrelevant to them.
CALLER_SCOPED: dict[tuple[str, str], str] = {
    ("GET", "/api/auth/me"): "the caller's own profile",
    ("PATCH", "/api/auth/me"): "the caller's own name and language",
    ("POST", "/api/auth/revoke"): "revokes the very token the request carries",
}


#: Path parameters that name something every city shares, with the value to send.
SHARED_PARAMS = {"city": "the city itself", "name": "a module name, the same in every city"}


@dataclass(frozen=True)
class Operation:
    """One (method, path) of the API with its OpenAPI description."""

    method: str
    path: str
    spec: dict[str, Any] = field(compare=False, repr=False)
    components: dict[str, Any] = field(compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def path_params(self) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", []) if p["in"] == "path"]

    @property
    def object_params(self) -> list[str]:
        """Path parameters naming a row of a city (not the city, nor a deployment-wide name)."""
        return [name for name in self.path_params if name not in SHARED_PARAMS]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def api_operations(app: FastAPI) -> list[Operation]:
    """Every (method, path) under the API prefixes, read from the app's OpenAPI document (in
    this FastAPI version ``app.routes`` holds opaque ``_IncludedRouter`` objects)."""
    document = app.openapi()
    components = document.get("components", {}).get("schemas", {})
    return [
        Operation(method.upper(), path, spec, components)
        for path, methods in document["paths"].items()
        if path.startswith(API_PREFIXES)
        for method, spec in methods.items()
    ]


def _route_table() -> list[Operation]:
    settings = Settings(database_url="sqlite://", secret_key="route-table-only-0123456789")
    return api_operations(create_app(settings, start_workers=False))


OPERATIONS = _route_table()
PROTECTED = [op for op in OPERATIONS if op.key not in PUBLIC]
CITY_SCOPED = [op for op in PROTECTED if op.key not in CALLER_SCOPED]
WITH_OBJECTS = [op for op in PROTECTED if op.object_params]


# --- requests built from the OpenAPI description --------------------------------------------


def sample(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A minimal valid value for a JSON schema: required fields only, first enum value."""
    if "$ref" in schema:
        return sample(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            options = [s for s in schema[combinator] if s.get("type") != "null"]
            return sample(options[0], components)
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: sample(properties[name], components) for name in schema.get("required", [])}
    if kind == "array":
        return [sample(schema.get("items", {}), components)] * schema.get("minItems", 0)
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return float(max(1, schema.get("minimum", 1)))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    formats = {
        "date-time": "2025-01-01T00:00:00Z",
        "date": "2025-01-01",
        "email": "x@qala.kz",
        "uri": "https://qala.kz/x",
    }
    text = formats.get(schema.get("format", ""), "x12345678")
    return text[: schema.get("maxLength", len(text))].ljust(schema.get("minLength", 0), "x")


class CityObjects:
    """Creates, on demand, one row of a city for each kind of id a route takes in its path."""

    counter = itertools.count(1)

    def __init__(self, db: Session, city: City) -> None:
        self.db, self.city = db, city
        self.values: dict[str, Any] = {"city": city.slug, "name": "hub"}

    def value(self, name: str) -> Any:
        if name not in self.values:
            factory = FACTORIES.get(name)
            if factory is None:
                pytest.fail(
                    f"no row factory for path parameter {{{name}}}: add one to FACTORIES "
                    "in tests/core/test_isolation.py so cross-city access is tested"
                )
            self.values[name] = factory(self.db, self.city, next(self.counter))
            self.db.commit()
        return self.values[name]


def _alert(db: Session, city: City, _n: int) -> int:
    alert = Alert(city_id=city.id, severity="warning", message="Test alert", event_name="test")
    db.add(alert)
    db.flush()
    return alert.id


def _api_key(db: Session, city: City, n: int) -> int:
    return auth.create_api_key(db, city.id, f"key {n}", scopes=[], actor_id=None)[1].id


def _member(db: Session, city: City, n: int) -> int:
    user = auth.create_user(db, f"member{n}-{city.slug}", "member-password")
    auth.set_role(db, user, city.id, "operator")
    return user.id


def _building(db: Session, city: City, n: int) -> int:
    from qala.core.cities import CityContext
    from qala.utilities import service
    from qala.utilities.schemas import BuildingCreate

    data = BuildingCreate(code=f"iso-{n}", address=f"Test street {n}", residents=10)
    return service.create_building(db, CityContext.of(city), data).id


def _account(db: Session, city: City, n: int) -> int:
    from qala.core.cities import CityContext
    from qala.utilities import service
    from qala.utilities.schemas import AccountCreate

    data = AccountCreate(number=f"iso-{n}", apartment="1")
    return service.create_account(db, CityContext.of(city), _building(db, city, n), data).id


def _meter(db: Session, city: City, n: int) -> int:
    from qala.core.cities import CityContext
    from qala.utilities import service
    from qala.utilities.schemas import MeterCreate

    data = MeterCreate(serial=f"iso-{n}", resource="cold_water", building_id=_building(db, city, n))
    return service.create_meter(db, CityContext.of(city), data).id


def _incident(db: Session, city: City, n: int) -> int:
    from qala.core.cities import CityContext
    from qala.utilities import incidents
    from qala.utilities.schemas import IncidentCreate

    data = IncidentCreate(kind="leak", title=f"Leak {n}")
    actor = incidents.Actor(None, "test")
    return incidents.create_incident(db, CityContext.of(city), data, actor).id


FACTORIES: dict[str, Callable[[Session, City, int], Any]] = {
    "alert_id": _alert,
    "key_id": _api_key,
    "user_id": _member,
    "building_id": _building,
    "account_id": _account,
    "meter_id": _meter,
    "incident_id": _incident,
}


def send(
    client: TestClient, op: Operation, headers: dict[str, str], objects: CityObjects
) -> Response:
    """The request a well-behaved client would make, with ids taken from ``objects``."""
    path = op.path.format(**{name: objects.value(name) for name in op.path_params})
    params = {
        p["name"]: sample(p.get("schema", {}), op.components)
        for p in op.spec.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }
    content = op.spec.get("requestBody", {}).get("content", {})
    kwargs: dict[str, Any] = {}
    if "application/json" in content:
        kwargs["json"] = sample(content["application/json"]["schema"], op.components)
    elif content:
        pytest.fail(f"{op}: teach send() to build a {sorted(content)} body")
    return client.request(op.method, path, params=params, headers=headers, **kwargs)


def snapshot(db: Session, city: City) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the city (tables with city_id), and its members' accounts."""
    db.expire_all()
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for table in Base.metadata.sorted_tables:
        if "city_id" in table.columns:
            query = select(table).where(table.c.city_id == city.id).order_by(*table.primary_key)
            rows[table.name] = [tuple(row) for row in db.execute(query)]
    members = select(Membership.user_id).where(Membership.city_id == city.id)
    users = select(User.__table__).where(User.id.in_(members)).order_by(User.id)
    rows["core_users (members)"] = [tuple(row) for row in db.execute(users)]
    return rows


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def ours(db: Session, city: City) -> CityObjects:
    return CityObjects(db, city)


@pytest.fixture
def theirs(db: Session, other_city: City) -> CityObjects:
    return CityObjects(db, other_city)


@pytest.fixture(params=["city_admin", "api_key"])
def caller(
    request: pytest.FixtureRequest, db: Session, city: City, as_role: Callable[..., dict[str, str]]
) -> Iterator[dict[str, str]]:
    """Credentials of ``city``: its strongest role, or a device key (operator-level)."""
    if request.param == "city_admin":
        yield as_role("city_admin")
    else:
        raw, _key = auth.create_api_key(db, city.id, "device", scopes=[], actor_id=None)
        db.commit()
        yield {"X-API-Key": raw, "Qala-City": city.slug}


def _ids(ops: list[Operation]) -> list[str]:
    return [str(op) for op in ops]


# --- the route table --------------------------------------------------------------------------


def test_route_table_is_the_live_apps(app: FastAPI) -> None:
    assert {op.key for op in api_operations(app)} == {op.key for op in OPERATIONS}
    assert len(OPERATIONS) >= 19


def test_public_and_caller_scoped_lists_name_real_routes() -> None:
    keys = {op.key for op in OPERATIONS}
    assert set(PUBLIC) <= keys, "PUBLIC names a route that no longer exists"
    assert set(CALLER_SCOPED) <= keys, "CALLER_SCOPED names a route that no longer exists"


def check_anonymous(client: TestClient, op: Operation, objects: CityObjects) -> None:
    """Anonymous callers are refused, unless the route is listed as public (and then served)."""
    response = send(client, op, {"Qala-City": objects.city.slug}, objects)
    refused = response.status_code in {401, 403} and response.json().get("type", "").endswith(
        ("/unauthorized", "/forbidden")
    )
    if op.key in PUBLIC:
        assert not refused, f"{op} is listed as public but refuses anonymous callers"
    else:
        assert refused, (
            f"{op} answers anonymous callers with {response.status_code}: protect it, or list "
            "it in PUBLIC with the reason it may be public"
        )


@pytest.mark.parametrize("op", OPERATIONS, ids=_ids(OPERATIONS))
def test_anonymous_callers_are_refused_unless_public(
    client: TestClient, ours: CityObjects, op: Operation
) -> None:
    check_anonymous(client, op, ours)


def test_a_new_module_route_is_covered_automatically(
    app: FastAPI, client: TestClient, ours: CityObjects
) -> None:
    router = APIRouter()

    @router.get("/readings")
    def list_readings() -> list[dict[str, str]]:
        return [{"meter": "secret"}]

    app.include_router(router, prefix="/api/newmodule")
    (op,) = [op for op in api_operations(app) if op.path == "/api/newmodule/readings"]
    with pytest.raises(AssertionError, match="answers anonymous callers with 200"):
        check_anonymous(client, op, ours)


# --- cross-city access ------------------------------------------------------------------------


@pytest.mark.parametrize("op", PROTECTED, ids=_ids(PROTECTED))
def test_other_city_header_is_refused(
    client: TestClient,
    db: Session,
    caller: dict[str, str],
    theirs: CityObjects,
    other_city: City,
    op: Operation,
) -> None:
    headers = {**caller, "Qala-City": other_city.slug}
    for name in op.path_params:
        theirs.value(name)
    before = snapshot(db, other_city)
    response = send(client, op, headers, theirs)
    if op.key in CALLER_SCOPED:
        assert response.status_code < 500, response.text
    else:
        assert response.status_code in {403, 404}, f"{op}: {response.status_code} {response.text}"
    assert snapshot(db, other_city) == before, f"{op} changed {other_city.slug}'s rows"


@pytest.mark.parametrize("op", WITH_OBJECTS, ids=_ids(WITH_OBJECTS))
def test_other_city_ids_are_refused_from_the_own_city(
    client: TestClient,
    db: Session,
    caller: dict[str, str],
    ours: CityObjects,
    theirs: CityObjects,
    other_city: City,
    op: Operation,
) -> None:
    mixed = CityObjects(db, ours.city)
    mixed.values.update({name: theirs.value(name) for name in op.object_params})
    before = snapshot(db, other_city)
    response = send(client, op, caller, mixed)
    assert response.status_code in {403, 404}, f"{op}: {response.status_code} {response.text}"
    assert snapshot(db, other_city) == before, f"{op} changed {other_city.slug}'s rows"


@pytest.mark.parametrize("op", PROTECTED, ids=_ids(PROTECTED))
def test_the_same_request_succeeds_in_the_own_city(
    client: TestClient,
    as_role: Callable[..., dict[str, str]],
    ours: CityObjects,
    op: Operation,
) -> None:
    response = send(client, op, as_role("city_admin"), ours)
    assert 200 <= response.status_code < 300, f"{op}: {response.status_code} {response.text}"
