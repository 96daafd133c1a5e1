"""Russian, Kazakh and English: which language a request gets, and lazy translated strings."""

from __future__ import annotations

import io

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.support import Translations
from fastapi.testclient import TestClient

from qala.core import i18n
from qala.core.cities import City
from qala.core.i18n import LazyText, _, current_language, negotiate, reset_language, set_language
from tests.conftest import assert_problem

KAZAKH = {
    "Not found": "Табылмады",
    "Nothing is found at this address.": "Бұл мекенжайда ештеңе табылмады.",
    "Hello, {name}": "Сәлем, {name}",
}


def _catalog(language: str, messages: dict[str, str]) -> Translations:
    catalog = Catalog(locale=language, domain=i18n.DOMAIN)
    for msgid, msgstr in messages.items():
        catalog.add(msgid, msgstr)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=i18n.DOMAIN)


@pytest.fixture
def kazakh_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small Kazakh catalog in place of the real one (which is being written)."""
    fake = {"kk": _catalog("kk", KAZAKH)}
    monkeypatch.setattr(i18n, "translations", lambda language: fake.get(language, Translations()))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("kk", "kk"),
        ("kk-KZ,kk;q=0.9", "kk"),
        ("kz", "kk"),  # the country code people type for Kazakh
        ("KZ-kz", "kk"),
        ("en-US,en;q=0.9,ru;q=0.8", "en"),
        ("ru;q=0.5, kk;q=0.9, en;q=0.7", "kk"),
        ("de, fr;q=0.9, en;q=0.1", "en"),  # the best supported one, however weak
        ("en;q=0.8, ru;q=0.8", "en"),  # a tie goes to the one listed first
        ("en; q=0.3, ru", "ru"),  # no q means 1
        ("en;q=0, ru;q=0.1", "ru"),  # q=0 means "not this"
        ("en;q=abc, kk;q=0.2", "kk"),  # a broken q-value does not win
        ("de, fr", None),
        ("", None),
        ("*", None),
    ],
)
def test_negotiate_picks_the_best_supported_language(header: str, expected: str | None) -> None:
    assert negotiate(header) == expected


def test_negotiate_respects_the_supported_set() -> None:
    assert negotiate("kk, en;q=0.5", supported=("ru", "en")) == "en"


def test_lazy_text_is_translated_when_rendered(kazakh_catalog: None) -> None:
    greeting = _("Hello, {name}", name="Aizhan")
    assert greeting.in_language("kk") == "Сәлем, Aizhan"
    assert greeting.in_language("en") == "Hello, Aizhan"
    token = set_language("kk")
    try:
        assert str(greeting) == "Сәлем, Aizhan"
    finally:
        reset_language(token)
    assert str(greeting) == "Hello, Aizhan"


def test_in_language_restores_the_current_language(kazakh_catalog: None) -> None:
    token = set_language("en")
    try:
        assert LazyText("Not found").in_language("kk") == "Табылмады"
        assert current_language() == "en"
        assert str(LazyText("Not found")) == "Not found"
    finally:
        reset_language(token)


def test_unknown_language_falls_back_to_russian(kazakh_catalog: None) -> None:
    assert LazyText("Not found").in_language("de") == "Not found"
    token = set_language("de")
    try:
        assert current_language() == "ru"
    finally:
        reset_language(token)


def _language(client: TestClient, **request: object) -> str:
    response = client.get("/api/cities", **request)  # type: ignore[arg-type]
    assert response.status_code == 200
    return response.headers["content-language"]


def test_default_language_is_russian(client: TestClient) -> None:
    assert _language(client) == "ru"
    assert _language(client, headers={"Accept-Language": "de-DE"}) == "ru"


def test_accept_language_beats_the_default(client: TestClient) -> None:
    assert _language(client, headers={"Accept-Language": "en;q=0.4, kz;q=0.9"}) == "kk"


def test_cookie_beats_accept_language(client: TestClient) -> None:
    client.cookies.set("qala_lang", "en")
    assert _language(client, headers={"Accept-Language": "kk"}) == "en"


def test_unknown_cookie_value_is_ignored(client: TestClient) -> None:
    client.cookies.set("qala_lang", "xx")
    assert _language(client, headers={"Accept-Language": "kk"}) == "kk"


def test_lang_parameter_beats_cookie_and_header(client: TestClient) -> None:
    client.cookies.set("qala_lang", "en")
    assert _language(client, params={"lang": "kk"}, headers={"Accept-Language": "en"}) == "kk"


def test_lang_parameter_is_remembered_in_a_cookie(client: TestClient) -> None:
    response = client.get("/api/cities", params={"lang": "kk"})
    assert response.cookies["qala_lang"] == "kk"
    assert _language(client, headers={"Accept-Language": "en"}) == "kk"


def test_unknown_lang_parameter_changes_nothing(client: TestClient) -> None:
    response = client.get("/api/cities", params={"lang": "de"})
    assert "qala_lang" not in response.cookies
    assert response.headers["content-language"] == "ru"


@pytest.mark.parametrize(
    "request_language",
    [{"headers": {"Accept-Language": "kk"}}, {"params": {"lang": "kk"}}],
)
def test_problem_title_and_detail_follow_the_language(
    client: TestClient, kazakh_catalog: None, request_language: dict[str, dict[str, str]]
) -> None:
    response = client.get("/api/no-such-thing", **request_language)  # type: ignore[arg-type]
    problem = assert_problem(response, 404)
    assert problem["title"] == "Табылмады"
    assert problem["detail"] == "Бұл мекенжайда ештеңе табылмады."
    english = assert_problem(client.get("/api/no-such-thing?lang=en"), 404)
    assert english["title"] == "Not found"


def test_pages_are_rendered_in_the_chosen_language(
    client: TestClient, kazakh_catalog: None, city: City
) -> None:
    page = client.get("/c/testville/public?lang=kk")
    assert page.status_code == 200
    assert '<html lang="kk">' in page.text
