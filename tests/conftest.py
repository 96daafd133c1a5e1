"""Fixtures shared by every test: a migrated database (SQLite or PostgreSQL), a transaction
rolled back after each test, the app wired to it, cities and users with roles."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from qala.app import create_app
from qala.core.auth import service as auth
from qala.core.auth.models import User
from qala.core.cities import City, Department, District
from qala.core.db import Database, make_engine
from qala.core.deps import SESSION_COOKIE
from qala.core.migrations import upgrade
from qala.settings import Settings

PASSWORD = "correct-horse-battery"
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[71.40, 51.10], [71.50, 51.10], [71.50, 51.20], [71.40, 51.20], [71.40, 51.10]]
    ],
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default=os.environ.get("QALA_TEST_DB", "sqlite"),
        choices=("sqlite", "postgresql"),
        help="Database the suite runs on.",
    )


PG_BASE = os.environ.get("QALA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def _admin(statement: str) -> None:
    admin = create_engine(f"{PG_BASE}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(statement))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, migrated database for this test run (its own name, so runs never collide)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if request.config.getoption("--db") == "postgresql":
        name = f"qala_test_{worker}_{os.getpid()}"
        _admin(f'CREATE DATABASE "{name}"')
        url = f"{PG_BASE}/{name}"
        upgrade(url)
        yield url
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'qala.sqlite3'}"
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One connection whose outer transaction is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()
    # Series numbers cached from the test's (savepoint) commits were rolled back with it.
    from qala.hub.temporal import series

    series.forget()


@pytest.fixture
def database(engine: Engine, connection: Connection) -> Database:
    """A ``Database`` whose sessions live inside the test's transaction (commits are savepoints)."""
    database = Database(engine)
    database.sessions = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    return database


@pytest.fixture
def db(database: Database) -> Iterator[Session]:
    with database.session() as session:
        yield session


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        database_url=database_url, var_dir=tmp_path, secret_key="test-secret-key-0123456789"
    )


@pytest.fixture
def app(settings: Settings, database: Database) -> FastAPI:
    return create_app(settings, database, start_workers=False, inline_events=True)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def make_city(db: Session, slug: str, name: str) -> City:
    """A small city with one district and one department."""
    city = City(
        slug=slug,
        name_ru=name,
        name_kk=name,
        name_en=name,
        population=50_000,
        centre_lat=51.15,
        centre_lon=71.45,
        bounds=[71.40, 51.10, 71.50, 51.20],
    )
    db.add(city)
    db.flush()
    db.add(
        District(
            city_id=city.id,
            slug="centre",
            name_ru="Центр",
            name_kk="Орталық",
            name_en="Centre",
            geometry=SQUARE,
        )
    )
    db.add(
        Department(city_id=city.id, slug="housing", name_ru="ЖКХ", name_kk="ТКШ", name_en="Housing")
    )
    db.commit()
    return city


@pytest.fixture
def city(db: Session) -> City:
    return make_city(db, "testville", "Тествилль")


@pytest.fixture
def other_city(db: Session) -> City:
    return make_city(db, "otherton", "Другой")


@pytest.fixture
def make_user(db: Session) -> Callable[..., auth.Principal]:
    """Create a user with a role in a city; returns its principal (username, ids)."""
    counter = iter(range(1, 10_000))

    def factory(
        role: str | None, city: City | None = None, *, admin: bool = False
    ) -> auth.Principal:
        user = auth.create_user(
            db, f"user{next(counter)}-{role or 'none'}", PASSWORD, is_platform_admin=admin
        )
        if role and city is not None:
            auth.set_role(db, user, city.id, role)
        db.commit()
        return auth.Principal.of_user(user)

    return factory


@pytest.fixture
def as_role(
    db: Session, make_user: Callable[..., auth.Principal], city: City
) -> Callable[..., dict[str, str]]:
    """Headers of a bearer token for a new user holding ``role`` in ``city`` (default: city)."""

    def factory(role: str, in_city: City | None = None) -> dict[str, str]:
        target = in_city or city
        principal = make_user(role, target)
        user = db.get(User, principal.user_id)
        assert user is not None
        raw, _token = auth.issue_token(db, user, kind="bearer", max_age=3600)
        db.commit()
        return {"Authorization": f"Bearer {raw}", "Qala-City": target.slug}

    return factory


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """Check ``response`` is an RFC 9457 problem with ``status``; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://")
    assert problem["title"]
    return problem


@pytest.fixture
def sign_in(client: TestClient) -> Callable[..., str]:
    """Sign in through the web form; the client keeps the cookie. Returns the raw session."""

    def factory(username: str, password: str = PASSWORD, next_page: str = "/") -> str:
        response = client.post(
            "/sign-in",
            data={"username": username, "password": password, "next": next_page},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        session: str = response.cookies[SESSION_COOKIE]
        return session

    return factory
