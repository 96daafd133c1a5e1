"""Every error leaves as RFC 9457 problem+json: a clear message, the bad field, no stack trace."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from qala.app import create_app
from qala.core.auth.models import AuditEntry
from qala.core.cities import City
from qala.core.db import Database
from qala.settings import Settings
from tests.conftest import assert_problem

JSON = {"Content-Type": "application/json"}


def test_malformed_json_is_400_naming_the_body(
    client: TestClient, as_role: Callable[..., dict[str, str]]
) -> None:
    response = client.patch(
        "/api/auth/me", content=b'{"full_name": ', headers={**as_role("citizen"), **JSON}
    )
    problem = assert_problem(response, 400)
    assert [error["field"] for error in problem["errors"]] == ["body"]


def test_wrong_type_is_422_naming_the_field_and_changes_nothing(
    client: TestClient, as_role: Callable[..., dict[str, str]]
) -> None:
    headers = as_role("citizen")
    response = client.patch(
        "/api/auth/me", json={"full_name": "Aigerim", "language": 5}, headers=headers
    )
    problem = assert_problem(response, 422)
    assert {error["field"] for error in problem["errors"]} == {"language"}
    assert "language" in problem["detail"]
    assert client.get("/api/auth/me", headers=headers).json()["full_name"] == ""


def test_nested_wrong_type_names_the_field(client: TestClient) -> None:
    response = client.post("/api/auth/token", json={"username": ["a"], "password": "x"})
    problem = assert_problem(response, 422)
    assert [error["field"] for error in problem["errors"]] == ["username"]


def test_missing_field_is_named(client: TestClient) -> None:
    problem = assert_problem(client.post("/api/auth/token", json={"username": "a"}), 422)
    assert [error["field"] for error in problem["errors"]] == ["password"]


def test_unknown_field_is_422_naming_it(
    client: TestClient, as_role: Callable[..., dict[str, str]]
) -> None:
    response = client.patch("/api/auth/me", json={"nickname": "x"}, headers=as_role("citizen"))
    problem = assert_problem(response, 422)
    assert [error["field"] for error in problem["errors"]] == ["nickname"]


def test_bad_query_parameter_is_422_naming_it(
    client: TestClient, as_role: Callable[..., dict[str, str]]
) -> None:
    response = client.get("/api/alerts?limit=lots", headers=as_role("operator"))
    problem = assert_problem(response, 422)
    assert [error["field"] for error in problem["errors"]] == ["limit"]


@pytest.fixture
def small_app(settings: Settings, database: Database) -> FastAPI:
    """The app of a deployment that accepts bodies up to 1000 bytes."""
    small = settings.model_copy(update={"max_body_bytes": 1000})
    return create_app(small, database, start_workers=False, inline_events=True)


@pytest.fixture
def small_client(small_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(small_app, raise_server_exceptions=False) as client:
        yield client


def _big_credentials() -> bytes:
    """Valid credentials padded with JSON whitespace: only their size is wrong."""
    return b'{"username": "nobody", "password": "wrong-password"' + b" " * 2000 + b"}"


def _failed_sign_ins(db: Session) -> int:
    db.expire_all()
    return len(list(db.scalars(select(AuditEntry).where(AuditEntry.action == "sign_in_failed"))))


def test_body_over_the_limit_is_413_by_content_length(
    small_client: TestClient, db: Session
) -> None:
    response = small_client.post("/api/auth/token", content=_big_credentials(), headers=JSON)
    assert_problem(response, 413)
    assert _failed_sign_ins(db) == 0  # refused before the application saw it


def test_body_over_the_limit_is_413_when_streamed_without_length(
    small_client: TestClient, db: Session
) -> None:
    def chunks() -> Iterator[bytes]:
        body = _big_credentials()
        for start in range(0, len(body), 300):
            yield body[start : start + 300]

    response = small_client.post("/api/auth/token", content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert _failed_sign_ins(db) == 0


def test_body_under_the_limit_passes(small_client: TestClient, city: City) -> None:
    response = small_client.post(
        "/api/auth/token", json={"username": "nobody", "password": "wrong-password"}
    )
    assert_problem(response, 401)


def test_unknown_route_is_404_problem(client: TestClient) -> None:
    assert_problem(client.get("/api/no-such-thing"), 404)
    assert_problem(client.get("/no-such-page"), 404)


def test_wrong_method_is_405_problem(client: TestClient) -> None:
    assert_problem(client.delete("/api/cities"), 405)


class SecretError(RuntimeError):
    """An unexpected failure whose text must never reach the caller."""


def test_unexpected_error_is_500_problem_without_traceback(
    app: FastAPI, client: TestClient
) -> None:
    def explode() -> None:
        raise SecretError("db password is hunter2")

    app.add_api_route("/api/test-explode", explode)
    response = client.get("/api/test-explode")
    problem = assert_problem(response, 500)
    assert problem["detail"]
    for leak in ("Traceback", "hunter2", "SecretError", "test_errors.py", 'File "'):
        assert leak not in response.text


@pytest.mark.parametrize(
    ("request_language", "expected"),
    [
        ({"headers": {"Accept-Language": "kk"}}, "kk"),
        ({"headers": {"Accept-Language": "en-GB,en;q=0.8"}}, "en"),
        ({"params": {"lang": "kk"}}, "kk"),
        ({}, "ru"),
    ],
)
def test_problem_is_in_the_request_language(
    client: TestClient, request_language: dict[str, dict[str, str]], expected: str
) -> None:
    response = client.get("/api/cities/nowhere", **request_language)  # type: ignore[arg-type]
    assert_problem(response, 404)
    assert response.headers["content-language"] == expected


def test_a_locked_database_is_a_503_not_a_500(app: FastAPI) -> None:
    from sqlalchemy.exc import OperationalError

    @app.get("/api/test-locked")
    def locked() -> None:
        raise OperationalError("UPDATE x", {}, Exception("database is locked"))

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/test-locked")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"].endswith("/busy")


def test_a_lost_database_connection_is_a_503(app: FastAPI) -> None:
    from sqlalchemy.exc import OperationalError

    @app.get("/api/test-lost")
    def lost() -> None:
        error = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        error.connection_invalidated = True
        raise error

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/test-lost")
    assert response.status_code == 503
