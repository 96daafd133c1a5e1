"""Stored @contexts (``/jsonldContexts``): host one, serve it to anyone, use it by URL without
the network, list, count uses, cache remote ones, delete and reload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from qala.hub.ngsild import contexts_store
from tests.hub.conftest import Ngsi

CTX = {"@context": {"kwh": "https://example.org/energy#kwh", "Meter": "https://example.org/Meter"}}
REMOTE = "https://contexts.example.org/energy.jsonld"
REMOTE_DOC = {"@context": {"litres": "https://example.org/water#litres"}}


def link(url: str) -> dict[str, str]:
    return {"Link": f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"'}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Remote contexts come from a dictionary; every fetch is recorded."""
    fetched: list[str] = []
    documents = {REMOTE: REMOTE_DOC}

    def fetch(url: str) -> dict[str, Any] | None:
        fetched.append(url)
        return documents.get(url)

    monkeypatch.setattr(contexts_store, "fetch", fetch)
    monkeypatch.setattr("qala.hub.ngsild.api_contexts.fetch", fetch)
    return fetched


def host(ngsi: Ngsi, document: dict[str, Any] = CTX) -> str:
    response = ngsi.post("/jsonldContexts", json=document)
    assert response.status_code == 201, response.text
    assert response.content == b""
    location: str = response.headers["location"]
    assert location.startswith("/ngsi-ld/v1/jsonldContexts/")
    return location


def test_hosted_context_is_served_to_anyone(ngsi: Ngsi, client: TestClient) -> None:
    location = host(ngsi)
    served = client.get(location)
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"
    assert served.json() == CTX
    as_ld = client.get(location, headers={"Accept": "application/ld+json"})
    assert as_ld.headers["content-type"] == "application/ld+json"


def test_hosted_context_resolves_without_the_network(ngsi: Ngsi, no_network: list[str]) -> None:
    url = "http://qala.example" + host(ngsi)
    entity = {"id": "urn:ngsi-ld:Meter:1", "type": "Meter", "kwh": 7}
    assert ngsi.post("/entities", json=entity, headers=link(url)).status_code == 201
    mine = ngsi.get("/entities/urn:ngsi-ld:Meter:1", headers=link(url)).json()
    assert mine == {
        "id": "urn:ngsi-ld:Meter:1",
        "type": "Meter",
        "kwh": {"type": "Property", "value": 7},
    }
    plain = ngsi.get("/entities/urn:ngsi-ld:Meter:1").json()
    assert plain["type"] == "https://example.org/Meter"
    assert no_network == []


def test_listing_and_details(ngsi: Ngsi) -> None:
    location = host(ngsi)
    local_id = location.rsplit("/", 1)[1]
    urls = ngsi.get("/jsonldContexts").json()
    assert f"http://testserver{location}" in urls
    hosted = ngsi.get("/jsonldContexts?details=true&kind=Hosted").json()
    assert [c["localId"] for c in hosted] == [local_id]
    assert hosted[0]["kind"] == "Hosted"
    assert hosted[0]["createdAt"].endswith("Z")
    assert ngsi.get("/jsonldContexts?kind=Cached").json()[0].startswith("https://uri.etsi.org/")
    assert ngsi.get("/jsonldContexts?kind=ImplicitlyCreated").json() == []
    for query in ("kind=other", "details=other"):
        response = ngsi.get(f"/jsonldContexts?{query}")
        assert response.status_code == 400
        assert response.json()["type"].endswith("BadRequestData")


def test_uses_are_counted(ngsi: Ngsi) -> None:
    location = host(ngsi)
    path = location.removeprefix("/ngsi-ld/v1")
    assert ngsi.get(f"{path}?details=true").json()["numberOfHits"] == 0
    url = "http://testserver" + location
    ngsi.post("/entities", json={"id": "urn:ngsi-ld:Meter:1", "type": "Meter"}, headers=link(url))
    ngsi.get("/entities/urn:ngsi-ld:Meter:1", headers=link(url))
    details = ngsi.get(f"{path}?details=true").json()
    assert details["numberOfHits"] == 2
    assert "lastUsage" in details


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"{oops", "InvalidRequest"),
        (b'{"context": {}}', "InvalidRequest"),
        (b'{"@context": 5}', "BadRequestData"),
        (b'{"@context": ["https://a.example/c", 1]}', "BadRequestData"),
        (b'{"@context": {"x": {"@id": 7}}}', "BadRequestData"),
        (b"", "InvalidRequest"),
    ],
)
def test_invalid_contexts_are_refused(ngsi: Ngsi, body: bytes, kind: str) -> None:
    response = ngsi.post(
        "/jsonldContexts", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["type"].endswith(kind)
    assert "location" not in response.headers
    assert ngsi.get("/jsonldContexts?kind=Hosted").json() == []


def test_deleting_a_hosted_context(ngsi: Ngsi) -> None:
    location = host(ngsi)
    path = location.removeprefix("/ngsi-ld/v1")
    url = "http://testserver" + location
    ngsi.post("/entities", json={"id": "urn:ngsi-ld:Meter:1", "type": "Meter"}, headers=link(url))
    assert ngsi.delete(f"{path}?reload=true").status_code == 400
    assert ngsi.delete(path).status_code == 204
    assert ngsi.get(path).status_code == 404
    gone = ngsi.get("/entities/urn:ngsi-ld:Meter:1", headers=link(url))
    assert gone.status_code == 503
    assert gone.json()["type"].endswith("LdContextNotAvailable")
    assert ngsi.delete(path).status_code == 404
    assert ngsi.delete(f"{path}?reload=true").status_code == 400
    assert ngsi.delete(f"{path}?reload=maybe").status_code == 400


def test_the_core_context_stays(ngsi: Ngsi, client: TestClient) -> None:
    core = quote("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld", safe="")
    details = client.get(f"/ngsi-ld/v1/jsonldContexts/{core}?details=true").json()
    assert details["kind"] == "Cached"
    assert "@context" in client.get(f"/ngsi-ld/v1/jsonldContexts/{core}").json()
    assert ngsi.delete(f"/jsonldContexts/{core}").status_code == 400
    assert ngsi.delete(f"/jsonldContexts/{core}?reload=false").status_code == 400
    assert ngsi.delete(f"/jsonldContexts/{core}?reload=true").status_code == 204


def test_remote_contexts_are_cached_and_reloaded(
    ngsi: Ngsi, no_network: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    entity = {"id": "urn:ngsi-ld:Tap:1", "type": "Tap", "litres": 3}
    assert ngsi.post("/entities", json=entity, headers=link(REMOTE)).status_code == 201
    assert no_network == [REMOTE]
    path = f"/jsonldContexts/{quote(REMOTE, safe='')}"
    details = ngsi.get(f"{path}?details=true").json()
    assert (details["URL"], details["kind"]) == (REMOTE, "Cached")
    assert ngsi.get(f"/jsonldContexts/{details['localId']}").json() == REMOTE_DOC
    assert ngsi.get("/jsonldContexts?kind=Cached").json() == [
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld",
        REMOTE,
    ]
    monkeypatch.setattr("qala.hub.ngsild.api_contexts.fetch", lambda url: None)
    failed = ngsi.delete(f"{path}?reload=true")
    assert failed.status_code == 503
    assert failed.json()["type"].endswith("LdContextNotAvailable")
    assert ngsi.get(path).json() == REMOTE_DOC
    newer = {"@context": {"litres": "https://example.org/water#volume"}}
    monkeypatch.setattr("qala.hub.ngsild.api_contexts.fetch", lambda url: newer)
    assert ngsi.delete(f"{path}?reload=true").status_code == 204
    assert ngsi.get(path).json() == newer
    assert ngsi.delete(path).status_code == 204
    assert ngsi.get(path).status_code == 404


def test_writing_takes_an_operator_of_some_city(
    client: TestClient, as_role: Callable[..., dict[str, str]], other_ngsi: Ngsi
) -> None:
    assert client.post("/ngsi-ld/v1/jsonldContexts", json=CTX).status_code == 401
    assert client.get("/ngsi-ld/v1/jsonldContexts").status_code == 401
    citizen = as_role("citizen")
    assert client.post("/ngsi-ld/v1/jsonldContexts", json=CTX, headers=citizen).status_code == 403
    location = host(other_ngsi)
    assert client.delete(location, headers=citizen).status_code == 403
    assert client.get(location).status_code == 200


def test_contexts_are_shared_by_every_city(ngsi: Ngsi, other_ngsi: Ngsi) -> None:
    """Unlike entities, @contexts are deployment-wide: a vocabulary, not city data."""
    url = "http://testserver" + host(ngsi)
    other_ngsi.post(
        "/entities", json={"id": "urn:ngsi-ld:Meter:9", "type": "Meter"}, headers=link(url)
    )
    assert ngsi.get("/entities/urn:ngsi-ld:Meter:9").status_code == 404
    assert other_ngsi.get("/entities/urn:ngsi-ld:Meter:9", headers=link(url)).json()["type"] == (
        "Meter"
    )
