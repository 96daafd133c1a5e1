"""City admins manage the users of their city; every role change is in the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qala.core.auth import service as auth
from qala.core.cities import City, Department
from tests.conftest import PASSWORD, assert_problem

AsRole = Callable[..., dict[str, str]]
NEW_USER = {
    "username": "aliya.s",
    "password": "long-enough-pass",
    "full_name": "Алия С.",
    "role": "operator",
}


def _create(client: TestClient, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = client.post("/api/users", json={**NEW_USER, **changes}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_city_admin_creates_a_user_who_can_sign_in(
    client: TestClient, as_role: AsRole, city: City
) -> None:
    created = _create(client, as_role("city_admin"))
    assert (created["username"], created["role"]) == ("aliya.s", "operator")
    token = client.post(
        "/api/auth/token", json={"username": "aliya.s", "password": "long-enough-pass"}
    ).json()["access_token"]
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["full_name"] == "Алия С."
    assert me["memberships"] == [{"city_id": city.id, "role": "operator", "department_id": None}]


@pytest.mark.parametrize("role", ["operator", "specialist", "citizen"])
def test_only_city_admins_manage_users(
    client: TestClient,
    as_role: AsRole,
    make_user: Callable[..., auth.Principal],
    city: City,
    role: str,
) -> None:
    headers = as_role(role)
    target = make_user("citizen", city)
    assert_problem(client.post("/api/users", json=NEW_USER, headers=headers), 403)
    assert_problem(client.get("/api/users", headers=headers), 403)
    response = client.put(
        f"/api/users/{target.user_id}/role", json={"role": "city_admin"}, headers=headers
    )
    assert_problem(response, 403)
    admin = as_role("city_admin")
    roles = {user["id"]: user["role"] for user in client.get("/api/users", headers=admin).json()}
    assert roles[target.user_id] == "citizen"
    assert "aliya.s" not in {
        user["username"] for user in client.get("/api/users", headers=admin).json()
    }


def test_role_change_is_applied_and_audited(
    client: TestClient, as_role: AsRole, make_user: Callable[..., auth.Principal], city: City
) -> None:
    admin = as_role("city_admin")
    target = make_user("citizen", city)
    response = client.put(
        f"/api/users/{target.user_id}/role", json={"role": "operator"}, headers=admin
    )
    assert response.status_code == 200
    assert response.json()["role"] == "operator"
    roles = {user["id"]: user["role"] for user in client.get("/api/users", headers=admin).json()}
    assert roles[target.user_id] == "operator"
    admin_id = client.get("/api/auth/me", headers=admin).json()["id"]
    entries = [
        e
        for e in client.get("/api/audit", headers=admin).json()
        if e["action"] == "role_changed" and e["target"] == target.username
    ]
    assert entries[0]["user_id"] == admin_id  # newest first: who did it
    assert entries[0]["details"] == {"before": "citizen", "after": "operator"}


def test_the_new_role_takes_effect(
    client: TestClient,
    db: Session,
    as_role: AsRole,
    make_user: Callable[..., auth.Principal],
    city: City,
) -> None:
    target = make_user("citizen", city)
    token = client.post(
        "/api/auth/token", json={"username": target.username, "password": PASSWORD}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Qala-City": "testville"}
    assert_problem(client.get("/api/alerts", headers=headers), 403)
    client.put(
        f"/api/users/{target.user_id}/role",
        json={"role": "operator"},
        headers=as_role("city_admin"),
    )
    assert client.get("/api/alerts", headers=headers).status_code == 200


def test_removing_the_role_takes_the_user_out_of_the_city(
    client: TestClient, as_role: AsRole, make_user: Callable[..., auth.Principal], city: City
) -> None:
    admin = as_role("city_admin")
    target = make_user("operator", city)
    response = client.put(f"/api/users/{target.user_id}/role", json={"role": None}, headers=admin)
    assert response.status_code == 200
    assert target.user_id not in {
        user["id"] for user in client.get("/api/users", headers=admin).json()
    }
    again = client.put(
        f"/api/users/{target.user_id}/role", json={"role": "operator"}, headers=admin
    )
    assert_problem(again, 404)


def test_specialist_gets_a_department_of_the_city_only(
    client: TestClient, db: Session, as_role: AsRole, city: City, other_city: City
) -> None:
    admin = as_role("city_admin")
    mine = db.query(Department).filter_by(city_id=city.id).one()
    theirs = db.query(Department).filter_by(city_id=other_city.id).one()
    created = _create(client, admin, role="specialist", department_id=mine.id)
    assert created["department_id"] == mine.id
    response = client.post(
        "/api/users",
        json={**NEW_USER, "username": "other.s", "role": "specialist", "department_id": theirs.id},
        headers=admin,
    )
    problem = assert_problem(response, 422)
    assert [error["field"] for error in problem["errors"]] == ["department_id"]
    response = client.put(
        f"/api/users/{created['id']}/role",
        json={"role": "specialist", "department_id": theirs.id},
        headers=admin,
    )
    assert_problem(response, 422)


def test_taken_username_is_409(client: TestClient, as_role: AsRole) -> None:
    admin = as_role("city_admin")
    _create(client, admin)
    response = client.post("/api/users", json={**NEW_USER, "username": "ALIYA.S"}, headers=admin)
    assert_problem(response, 409)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"role": "mayor"}, "role"),
        ({"password": "short"}, "password"),
        ({"username": "has space"}, "username"),
        ({"is_platform_admin": True}, "is_platform_admin"),
    ],
)
def test_bad_user_fields_are_named(
    client: TestClient, as_role: AsRole, changes: dict[str, Any], field: str
) -> None:
    response = client.post(
        "/api/users", json={**NEW_USER, **changes}, headers=as_role("city_admin")
    )
    problem = assert_problem(response, 422)
    assert field in {error["field"] for error in problem["errors"]}


def test_users_and_audit_of_another_city_are_not_listed(
    client: TestClient,
    as_role: AsRole,
    make_user: Callable[..., auth.Principal],
    city: City,
    other_city: City,
) -> None:
    stranger = make_user("operator", other_city)
    admin = as_role("city_admin")
    users = client.get("/api/users", headers=admin).json()
    assert stranger.user_id not in {user["id"] for user in users}
    audit = client.get("/api/audit", headers=admin).json()
    assert stranger.username not in {entry["target"] for entry in audit}
    assert {entry["target"] for entry in audit if entry["action"] == "role_changed"}


def test_reading_contact_details_is_audited(
    client: TestClient,
    as_role: Callable[..., dict[str, str]],
    make_user: Callable[..., Any],
    city: City,
) -> None:
    headers = as_role("city_admin")
    person = make_user("citizen", city)
    detail = client.get(f"/api/users/{person.user_id}", headers=headers)
    assert detail.status_code == 200
    assert {"email", "phone"} <= set(detail.json())
    audit = client.get("/api/audit", headers=headers).json()
    reads = [e for e in audit if e["action"] == "personal_data_read"]
    assert reads
    assert reads[0]["target"] == person.username
