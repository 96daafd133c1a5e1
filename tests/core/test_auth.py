"""Passwords, bearer tokens, throttling, the caller's own profile; sign-ins are audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from qala.core.auth import service as auth
from qala.core.auth.models import AuditEntry, Token, User
from qala.core.cities import City
from qala.core.db import utcnow
from qala.core.i18n import _
from qala.settings import Settings
from tests.conftest import PASSWORD, assert_problem

MakeUser = Callable[..., auth.Principal]


def _user(db: Session, principal: auth.Principal) -> User:
    db.expire_all()
    user = db.get(User, principal.user_id)
    assert user is not None
    return user


def _token(client: TestClient, username: str, password: str = PASSWORD) -> str:
    response = client.post("/api/auth/token", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    token: str = response.json()["access_token"]
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _actions(db: Session, action: str, target: str) -> list[AuditEntry]:
    db.expire_all()
    query = select(AuditEntry).where(AuditEntry.action == action, AuditEntry.target == target)
    return list(db.scalars(query))


# --- passwords ---------------------------------------------------------------------------


def test_password_is_stored_as_argon2id_only(db: Session, make_user: MakeUser) -> None:
    user = _user(db, make_user(None))
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert auth.verify_password(user, PASSWORD)
    assert not auth.verify_password(user, PASSWORD + "!")
    assert not auth.verify_password(user, "")


def test_short_password_is_refused(db: Session) -> None:
    with pytest.raises(auth.InvalidField):
        auth.create_user(db, "shorty", "1234567")


def test_broken_hash_refuses_the_password_instead_of_crashing(
    client: TestClient, db: Session, make_user: MakeUser
) -> None:
    principal = make_user(None)
    _user(db, principal).password_hash = "not-a-hash"
    db.commit()
    response = client.post(
        "/api/auth/token", json={"username": principal.username, "password": PASSWORD}
    )
    assert_problem(response, 401)


def test_weak_hash_is_upgraded_at_sign_in(
    client: TestClient, db: Session, make_user: MakeUser
) -> None:
    principal = make_user(None)
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    _user(db, principal).password_hash = weak
    db.commit()
    _token(client, principal.username)
    upgraded = _user(db, principal).password_hash
    assert upgraded != weak
    assert "m=1024" not in upgraded
    assert not PasswordHasher().check_needs_rehash(upgraded)
    assert auth.verify_password(_user(db, principal), PASSWORD)


# --- bearer tokens -----------------------------------------------------------------------


def test_token_for_right_credentials_authenticates(
    client: TestClient, settings: Settings, make_user: MakeUser, city: City
) -> None:
    principal = make_user("operator", city)
    before = utcnow()
    response = client.post(
        "/api/auth/token", json={"username": principal.username.upper(), "password": PASSWORD}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "bearer"
    expires = dt.datetime.fromisoformat(body["expires_at"])
    lifetime = dt.timedelta(seconds=settings.token_max_age)
    assert before + lifetime - dt.timedelta(minutes=1) < expires < utcnow() + lifetime
    me = client.get("/api/auth/me", headers=_bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["username"] == principal.username
    assert me.json()["memberships"] == [
        {"city_id": city.id, "role": "operator", "department_id": None}
    ]


def test_only_the_token_hash_is_stored(
    client: TestClient, db: Session, make_user: MakeUser
) -> None:
    token = _token(client, make_user(None).username)
    rows = list(db.scalars(select(Token)))
    assert [row.token_hash for row in rows] == [auth.hash_secret(token)]
    assert all(token not in str(vars(row)) for row in rows)


@pytest.mark.parametrize("who", ["wrong password", "unknown user", "inactive user"])
def test_wrong_credentials_are_401_and_all_look_alike(
    client: TestClient, db: Session, make_user: MakeUser, who: str
) -> None:
    principal = make_user(None)
    username, password = principal.username, PASSWORD
    if who == "wrong password":
        password = "not-the-password"
    elif who == "unknown user":
        username = "nobody-at-all"
    else:
        _user(db, principal).is_active = False
        db.commit()
    response = client.post("/api/auth/token", json={"username": username, "password": password})
    problem = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "access_token" not in response.text
    assert problem["type"].endswith("/bad-credentials")
    assert problem["detail"] == str(_("Wrong username or password."))


def test_sign_in_success_and_failure_are_audited(
    client: TestClient, db: Session, make_user: MakeUser
) -> None:
    principal = make_user(None)
    client.post("/api/auth/token", json={"username": principal.username, "password": "nope-nope"})
    _token(client, principal.username)
    failed = _actions(db, "sign_in_failed", principal.username)
    succeeded = _actions(db, "sign_in", principal.username)
    assert len(failed) == 1
    assert failed[0].ip == "testclient"
    assert [entry.user_id for entry in succeeded] == [principal.user_id]
    assert _user(db, principal).last_sign_in_at is not None


def test_sign_in_is_throttled_after_ten_failures(client: TestClient, make_user: MakeUser) -> None:
    principal, bystander = make_user(None), make_user(None)
    wrong = {"username": principal.username, "password": "not-the-password"}
    for _attempt in range(auth.FAILED_SIGN_IN_LIMIT):
        assert_problem(client.post("/api/auth/token", json=wrong), 401)
    assert_problem(client.post("/api/auth/token", json=wrong), 429)
    right = {"username": principal.username, "password": PASSWORD}
    assert_problem(client.post("/api/auth/token", json=right), 429)  # even the right one
    _token(client, bystander.username)  # other accounts are not locked out


def test_old_failures_no_longer_throttle(
    client: TestClient, db: Session, make_user: MakeUser
) -> None:
    principal = make_user(None)
    long_ago = utcnow() - auth.FAILED_SIGN_IN_WINDOW - dt.timedelta(minutes=1)
    for _attempt in range(auth.FAILED_SIGN_IN_LIMIT):
        auth.audit(db, "sign_in_failed", target=principal.username)
    db.flush()
    for entry in _actions(db, "sign_in_failed", principal.username):
        entry.created_at = long_ago
    db.commit()
    _token(client, principal.username)


def test_revoked_token_is_refused(client: TestClient, make_user: MakeUser) -> None:
    token = _token(client, make_user(None).username)
    assert client.post("/api/auth/revoke", headers=_bearer(token)).status_code == 204
    assert_problem(client.get("/api/auth/me", headers=_bearer(token)), 401)
    assert_problem(client.post("/api/auth/revoke", headers=_bearer(token)), 401)


def test_revoking_one_token_keeps_the_others(client: TestClient, make_user: MakeUser) -> None:
    username = make_user(None).username
    first, second = _token(client, username), _token(client, username)
    client.post("/api/auth/revoke", headers=_bearer(first))
    assert client.get("/api/auth/me", headers=_bearer(second)).status_code == 200


def test_expired_token_is_refused(client: TestClient, db: Session, make_user: MakeUser) -> None:
    user = _user(db, make_user(None))
    raw, token = auth.issue_token(db, user, kind="bearer", max_age=3600)
    db.commit()
    assert client.get("/api/auth/me", headers=_bearer(raw)).status_code == 200
    token.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.commit()
    client.app.state.qala.principals.clear()  # callers are cached for a few seconds
    assert_problem(client.get("/api/auth/me", headers=_bearer(raw)), 401)


@pytest.mark.parametrize("header", ["Bearer made-up-token", "Bearer qk_made_up_key"])
def test_made_up_credentials_are_401(client: TestClient, header: str) -> None:
    response = client.get("/api/auth/me", headers={"Authorization": header})
    assert_problem(response, 401)


def test_session_token_is_not_a_bearer_token(
    client: TestClient, db: Session, make_user: MakeUser
) -> None:
    raw, _token_row = auth.issue_token(db, _user(db, make_user(None)), kind="session", max_age=60)
    db.commit()
    assert_problem(client.get("/api/auth/me", headers=_bearer(raw)), 401)


def test_anonymous_me_is_401(client: TestClient) -> None:
    assert_problem(client.get("/api/auth/me"), 401)


# --- the caller's profile ----------------------------------------------------------------


def test_language_change_is_saved(
    client: TestClient, db: Session, as_role: Callable[..., dict[str, str]]
) -> None:
    headers = as_role("citizen")
    response = client.patch("/api/auth/me", json={"language": "kk"}, headers=headers)
    assert response.status_code == 200
    assert response.json()["language"] == "kk"
    assert client.get("/api/auth/me", headers=headers).json()["language"] == "kk"
    me = client.get("/api/auth/me", headers=headers).json()
    assert _user(db, auth.Principal(user_id=me["id"])).language == "kk"


def test_patch_changes_only_the_fields_sent(
    client: TestClient, as_role: Callable[..., dict[str, str]]
) -> None:
    headers = as_role("citizen")
    client.patch(
        "/api/auth/me", json={"full_name": "Aigerim Nur", "language": "en"}, headers=headers
    )
    client.patch("/api/auth/me", json={"language": "kk"}, headers=headers)
    me = client.get("/api/auth/me", headers=headers).json()
    assert (me["full_name"], me["language"]) == ("Aigerim Nur", "kk")
    client.patch("/api/auth/me", json={"language": None}, headers=headers)
    assert client.get("/api/auth/me", headers=headers).json()["language"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "city_admin"}, "role"),
        ({"is_platform_admin": True}, "is_platform_admin"),
        ({"language": "de"}, "language"),
    ],
)
def test_patch_me_refuses_fields_it_does_not_own(
    client: TestClient,
    as_role: Callable[..., dict[str, str]],
    body: dict[str, object],
    field: str,
) -> None:
    headers = as_role("citizen")
    problem = assert_problem(client.patch("/api/auth/me", json=body, headers=headers), 422)
    assert [error["field"] for error in problem["errors"]] == [field]
    me = client.get("/api/auth/me", headers=headers).json()
    assert me["is_platform_admin"] is False
    assert me["memberships"][0]["role"] == "citizen"
