"""Fixtures of the hub's tests: an NGSI-LD client acting as an operator of ``city``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qala.core.cities import City

CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"


class Ngsi:
    """A thin NGSI-LD client over the test client, with the caller's headers."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.request(method, f"/ngsi-ld/v1{path}", headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def create(self, entity: dict[str, Any]) -> None:
        response = self.post("/entities", json=entity)
        assert response.status_code == 201, response.text


@pytest.fixture
def ngsi(client: TestClient, as_role: Callable[..., dict[str, str]], city: City) -> Ngsi:
    """An operator of ``city`` speaking NGSI-LD (tenant = the city's slug)."""
    headers = as_role("operator")
    headers.pop("Qala-City", None)
    return Ngsi(client, {**headers, "NGSILD-Tenant": city.slug})


@pytest.fixture
def other_ngsi(
    client: TestClient, as_role: Callable[..., dict[str, str]], other_city: City
) -> Ngsi:
    """An operator of ``other_city``."""
    headers = as_role("operator", other_city)
    headers.pop("Qala-City", None)
    return Ngsi(client, {**headers, "NGSILD-Tenant": other_city.slug})


def meter(n: int = 1, **attrs: Any) -> dict[str, Any]:
    """A water meter entity with a location in Astana."""
    return {
        "id": f"urn:ngsi-ld:WaterMeter:{n}",
        "type": "WaterMeter",
        "consumption": {"type": "Property", "value": 10.0 + n, "unitCode": "MTQ"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [71.43 + n / 1000, 51.13]},
        },
        **attrs,
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that restart a shared service (PostgreSQL) run after every other test."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_services") is not None)
