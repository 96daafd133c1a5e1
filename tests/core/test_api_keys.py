"""API keys for devices and integrations: shown once, hashed, bound to one city, revocable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from qala.core.auth import service as auth
from qala.core.auth.models import ApiKey
from qala.core.cities import City
from tests.conftest import assert_problem

AsRole = Callable[..., dict[str, str]]


def _create(client: TestClient, headers: dict[str, str], name: str = "meters") -> dict[str, Any]:
    response = client.post("/api/api-keys", json={"name": name, "scopes": ["hub"]}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_city_admin_creates_a_key_shown_once(
    client: TestClient, as_role: AsRole, city: City
) -> None:
    admin = as_role("city_admin")
    created = _create(client, admin)
    raw = created["key"]
    assert raw.startswith("qk_")
    assert len(raw) > 40
    assert created["prefix"] == raw[:10]
    assert created["name"] == "meters"
    assert created["scopes"] == ["hub"]
    listed = client.get("/api/api-keys", headers=admin)
    assert listed.status_code == 200
    assert [key["id"] for key in listed.json()] == [created["id"]]
    assert "key" not in listed.json()[0]
    assert raw not in listed.text


def test_only_a_hash_of_the_key_is_stored(client: TestClient, db: Session, as_role: AsRole) -> None:
    raw = _create(client, as_role("city_admin"))["key"]
    db.expire_all()
    row = db.scalars(select(ApiKey)).one()
    assert row.key_hash == auth.hash_secret(raw)
    for column in ApiKey.__table__.columns:
        assert raw not in str(getattr(row, column.key))


@pytest.mark.parametrize("role", ["operator", "specialist", "citizen"])
def test_only_city_admins_manage_keys(client: TestClient, as_role: AsRole, role: str) -> None:
    headers = as_role(role)
    assert_problem(client.post("/api/api-keys", json={"name": "x"}, headers=headers), 403)
    assert_problem(client.get("/api/api-keys", headers=headers), 403)


def test_empty_name_is_refused(client: TestClient, as_role: AsRole) -> None:
    response = client.post("/api/api-keys", json={"name": "   "}, headers=as_role("city_admin"))
    problem = assert_problem(response, 422)
    assert [error["field"] for error in problem["errors"]] == ["name"]


@pytest.mark.parametrize("style", ["X-API-Key", "Bearer"])
def test_key_works_for_operator_routes_in_its_city(
    client: TestClient, as_role: AsRole, city: City, style: str
) -> None:
    raw = _create(client, as_role("city_admin"))["key"]
    header = {"X-API-Key": raw} if style == "X-API-Key" else {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/alerts", headers=header).status_code == 200  # its one city
    assert (
        client.get("/api/alerts", headers={**header, "Qala-City": "testville"}).status_code == 200
    )
    assert client.get("/api/web/tiles", headers=header).status_code == 200


@pytest.mark.parametrize("style", ["X-API-Key", "Bearer"])
def test_key_is_refused_in_another_city(
    client: TestClient, as_role: AsRole, other_city: City, style: str
) -> None:
    raw = _create(client, as_role("city_admin"))["key"]
    header = {"X-API-Key": raw} if style == "X-API-Key" else {"Authorization": f"Bearer {raw}"}
    assert_problem(client.get("/api/alerts", headers={**header, "Qala-City": "otherton"}), 403)
    assert_problem(client.get("/api/alerts?city=otherton", headers=header), 403)


def test_key_is_operator_level_only(client: TestClient, as_role: AsRole) -> None:
    raw = _create(client, as_role("city_admin"))["key"]
    header = {"X-API-Key": raw}
    assert_problem(client.post("/api/api-keys", json={"name": "more"}, headers=header), 403)
    assert_problem(client.get("/api/users", headers=header), 403)
    assert_problem(client.get("/api/audit", headers=header), 403)
    assert_problem(client.get("/api/auth/me", headers=header), 401)


def test_revoked_key_is_refused(client: TestClient, as_role: AsRole) -> None:
    admin = as_role("city_admin")
    created = _create(client, admin)
    header = {"X-API-Key": created["key"]}
    assert client.get("/api/alerts", headers=header).status_code == 200
    response = client.delete(f"/api/api-keys/{created['id']}", headers=admin)
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert_problem(client.get("/api/alerts", headers=header), 401)
    bearer = {"Authorization": f"Bearer {created['key']}"}
    assert_problem(client.get("/api/alerts", headers=bearer), 401)
    listed = client.get("/api/api-keys", headers=admin).json()
    assert listed[0]["revoked_at"] is not None


def test_revoking_one_key_keeps_the_others(client: TestClient, as_role: AsRole) -> None:
    admin = as_role("city_admin")
    first, second = _create(client, admin, "first"), _create(client, admin, "second")
    client.delete(f"/api/api-keys/{first['id']}", headers=admin)
    assert client.get("/api/alerts", headers={"X-API-Key": second["key"]}).status_code == 200


def test_unknown_key_id_is_404(client: TestClient, as_role: AsRole) -> None:
    assert_problem(client.delete("/api/api-keys/999999", headers=as_role("city_admin")), 404)


def test_key_use_is_recorded(client: TestClient, as_role: AsRole) -> None:
    admin = as_role("city_admin")
    created = _create(client, admin)
    assert created["last_used_at"] is None
    client.get("/api/alerts", headers={"X-API-Key": created["key"]})
    assert client.get("/api/api-keys", headers=admin).json()[0]["last_used_at"] is not None


def test_key_creation_and_revocation_are_audited(client: TestClient, as_role: AsRole) -> None:
    admin = as_role("city_admin")
    created = _create(client, admin)
    client.delete(f"/api/api-keys/{created['id']}", headers=admin)
    audit = client.get("/api/audit", headers=admin).json()
    actions = [(entry["action"], entry["target"]) for entry in audit]
    assert ("api_key_created", created["prefix"]) in actions
    assert ("api_key_revoked", created["prefix"]) in actions
    me = client.get("/api/auth/me", headers=admin).json()
    assert {entry["user_id"] for entry in audit if entry["action"].startswith("api_key")} == {
        me["id"]
    }
