"""Signing in through the web form: an httponly session cookie, CSRF on writes, sign-out."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qala.core.auth import service as auth
from qala.core.auth.models import User
from qala.core.cities import City
from qala.settings import Settings
from tests.conftest import PASSWORD, assert_problem

MakeUser = Callable[..., auth.Principal]
SignIn = Callable[..., str]


def test_sign_in_sets_an_httponly_session_cookie(
    client: TestClient, make_user: MakeUser, city: City
) -> None:
    principal = make_user("operator", city)
    response = client.post(
        "/sign-in",
        data={"username": principal.username, "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/c/testville/"  # an operator's home
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("qala_session=")
    )
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()


def test_wrong_password_shows_the_form_again_without_a_session(
    client: TestClient, make_user: MakeUser
) -> None:
    principal = make_user(None)
    response = client.post(
        "/sign-in",
        data={"username": principal.username, "password": "not-the-password"},
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert 'data-testid="sign-in-error"' in response.text
    assert "qala_session" not in response.cookies
    assert f'value="{principal.username}"' in response.text


def test_web_sign_ins_count_towards_the_throttle(client: TestClient, make_user: MakeUser) -> None:
    principal = make_user(None)
    wrong = {"username": principal.username, "password": "not-the-password"}
    for _attempt in range(auth.FAILED_SIGN_IN_LIMIT):
        assert client.post("/sign-in", data=wrong).status_code == 401
    right = {"username": principal.username, "password": PASSWORD}
    assert client.post("/sign-in", data=right, follow_redirects=False).status_code == 429
    assert_problem(client.post("/api/auth/token", json=right), 429)


def test_session_cookie_authenticates_the_api(
    client: TestClient, sign_in: SignIn, make_user: MakeUser
) -> None:
    principal = make_user(None)
    sign_in(principal.username)
    response = client.get("/api/auth/me")
    assert response.status_code == 200
    assert response.json()["username"] == principal.username


def test_write_with_cookie_but_without_csrf_token_is_refused(
    client: TestClient, db: Session, sign_in: SignIn, make_user: MakeUser
) -> None:
    principal = make_user(None)
    sign_in(principal.username)
    assert_problem(client.patch("/api/auth/me", json={"language": "kk"}), 403)
    wrong = {"X-CSRF-Token": "0" * 64}
    assert_problem(client.patch("/api/auth/me", json={"language": "kk"}, headers=wrong), 403)
    db.expire_all()
    user = db.get(User, principal.user_id)
    assert user is not None
    assert user.language is None


def test_write_with_the_sessions_csrf_token_works(
    client: TestClient, settings: Settings, sign_in: SignIn, make_user: MakeUser
) -> None:
    session = sign_in(make_user(None).username)
    token = auth.csrf_token(settings.secret_key, session)
    response = client.patch(
        "/api/auth/me", json={"language": "kk"}, headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 200
    assert client.get("/api/auth/me").json()["language"] == "kk"


def test_csrf_token_of_another_session_is_refused(
    client: TestClient, settings: Settings, sign_in: SignIn, make_user: MakeUser
) -> None:
    first = sign_in(make_user(None).username)
    sign_in(make_user(None).username)  # the client now holds the second session
    stale = {"X-CSRF-Token": auth.csrf_token(settings.secret_key, first)}
    assert_problem(client.patch("/api/auth/me", json={"language": "kk"}, headers=stale), 403)


def test_pages_carry_the_csrf_token_of_the_session(
    client: TestClient, settings: Settings, sign_in: SignIn, make_user: MakeUser, city: City
) -> None:
    session = sign_in(make_user("citizen", city).username)
    page = client.get("/c/testville/public")
    assert f'name="csrf_token" value="{auth.csrf_token(settings.secret_key, session)}"' in page.text


def test_sign_out_with_the_form_token_ends_the_session(
    client: TestClient, settings: Settings, sign_in: SignIn, make_user: MakeUser
) -> None:
    session = sign_in(make_user(None).username)
    response = client.post(
        "/sign-out",
        data={"csrf_token": auth.csrf_token(settings.secret_key, session)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert_problem(client.get("/api/auth/me"), 401)
    client.cookies.set("qala_session", session)  # a copied cookie is dead too
    assert_problem(client.get("/api/auth/me"), 401)


def test_sign_out_without_the_form_token_keeps_the_session(
    client: TestClient, sign_in: SignIn, make_user: MakeUser
) -> None:
    sign_in(make_user(None).username)
    client.post("/sign-out", data={"csrf_token": "forged"}, follow_redirects=False)
    assert client.get("/api/auth/me").status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "http:evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_sign_in_never_redirects_off_site(
    client: TestClient, make_user: MakeUser, target: str
) -> None:
    principal = make_user(None)
    form = client.get("/sign-in", params={"next": target})
    assert "evil.example" not in form.text
    response = client.post(
        "/sign-in",
        data={"username": principal.username, "password": PASSWORD, "next": target},
        follow_redirects=False,
    )
    location = response.headers["location"]
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc) == ("", "")
    assert location.startswith("/")
    assert not location.startswith(("//", "/\\", "/%5C", "/%5c"))


def test_sign_in_goes_back_to_a_local_page(
    client: TestClient, make_user: MakeUser, city: City
) -> None:
    principal = make_user("citizen", city)
    form = client.get("/sign-in", params={"next": "/c/testville/public?lang=kk"})
    assert 'name="next" value="/c/testville/public?lang=kk"' in form.text
    response = client.post(
        "/sign-in",
        data={
            "username": principal.username,
            "password": PASSWORD,
            "next": "/c/testville/public?lang=kk",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/c/testville/public?lang=kk"
