"""The app starts, answers probes and serves the public city list."""

from fastapi.testclient import TestClient

from qala.core.cities import City


def test_probes_answer(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert "qala_http_requests" in client.get("/metrics").text


def test_city_list_shows_city(client: TestClient, city: City) -> None:
    body = client.get("/api/cities").json()
    assert [c["slug"] for c in body] == ["testville"]
