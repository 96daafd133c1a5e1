"""The alerts feed: events that raise alerts show to the city's operators, and only theirs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qala.core import i18n
from qala.core.alerts import Alert
from qala.core.cities import City
from qala.core.events import emit
from tests.conftest import assert_problem
from tests.core.test_events import LeakDetected, MeterRead
from tests.core.test_i18n import _catalog

AsRole = Callable[..., dict[str, str]]


def raise_alerts(app: FastAPI, db: Session, *events: Any) -> None:
    """Emit events in a committed transaction and let the app's bus deliver them."""
    for event in events:
        emit(db, event)
    db.commit()
    app.state.qala.bus.deliver_pending()


def test_alerts_of_the_city_show_in_its_feed(
    app: FastAPI, client: TestClient, db: Session, as_role: AsRole, city: City
) -> None:
    raise_alerts(
        app, db, LeakDetected(city_id=city.id, meter="m1"), MeterRead(city_id=city.id, meter="m2")
    )  # no alert for a plain reading
    response = client.get("/api/alerts", headers=as_role("operator"))
    assert response.status_code == 200
    (alert,) = response.json()
    assert alert["severity"] == "critical"
    assert alert["text"] == "Leak at meter m1"
    assert alert["link"] == "utilities/meters"
    assert alert["acknowledged_at"] is None


def test_alerts_of_another_city_are_never_shown(
    app: FastAPI,
    client: TestClient,
    db: Session,
    as_role: AsRole,
    city: City,
    other_city: City,
) -> None:
    raise_alerts(
        app,
        db,
        LeakDetected(city_id=city.id, meter="ours"),
        LeakDetected(city_id=other_city.id, meter="theirs"),
        LeakDetected(city_id=None, meter="nobodys"),
    )
    ours = client.get("/api/alerts", headers=as_role("operator")).json()
    theirs = client.get("/api/alerts", headers=as_role("operator", other_city)).json()
    assert [alert["text"] for alert in ours] == ["Leak at meter ours"]
    assert [alert["text"] for alert in theirs] == ["Leak at meter theirs"]
    assert_problem(
        client.get("/api/alerts", headers={**as_role("operator"), "Qala-City": "otherton"}), 403
    )


def test_feed_is_newest_first_and_polls_after_an_id(
    app: FastAPI, client: TestClient, db: Session, as_role: AsRole, city: City
) -> None:
    raise_alerts(app, db, *(LeakDetected(city_id=city.id, meter=f"m{n}") for n in range(3)))
    headers = as_role("operator")
    feed = client.get("/api/alerts", headers=headers).json()
    assert [alert["text"][-2:] for alert in feed] == ["m2", "m1", "m0"]
    newer = client.get("/api/alerts", params={"after_id": feed[1]["id"]}, headers=headers)
    assert [alert["id"] for alert in newer.json()] == [feed[0]["id"]]
    limited = client.get("/api/alerts", params={"limit": 1}, headers=headers).json()
    assert [alert["id"] for alert in limited] == [feed[0]["id"]]


@pytest.mark.parametrize("role", ["citizen", "specialist"])
def test_feed_is_for_operators(client: TestClient, as_role: AsRole, role: str) -> None:
    assert_problem(client.get("/api/alerts", headers=as_role(role)), 403)


def test_alert_text_is_in_the_readers_language(
    app: FastAPI,
    client: TestClient,
    db: Session,
    as_role: AsRole,
    city: City,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kazakh = _catalog("kk", {"Leak at meter {meter}": "{meter} есептегішінде ағу"})
    monkeypatch.setattr(
        i18n, "translations", lambda language: kazakh if language == "kk" else i18n.Translations()
    )
    raise_alerts(app, db, LeakDetected(city_id=city.id, meter="m1"))
    headers = as_role("operator")
    kk = client.get("/api/alerts", headers={**headers, "Accept-Language": "kk"}).json()
    en = client.get("/api/alerts", headers={**headers, "Accept-Language": "en"}).json()
    assert kk[0]["text"] == "m1 есептегішінде ағу"
    assert en[0]["text"] == "Leak at meter m1"


def test_operator_acknowledges_an_alert(
    app: FastAPI, client: TestClient, db: Session, as_role: AsRole, city: City
) -> None:
    raise_alerts(app, db, LeakDetected(city_id=city.id, meter="m1"))
    headers = as_role("operator")
    (alert,) = client.get("/api/alerts", headers=headers).json()
    response = client.post(f"/api/alerts/{alert['id']}/ack", headers=headers)
    assert response.status_code == 200
    acknowledged_at = response.json()["acknowledged_at"]
    assert acknowledged_at is not None
    assert (
        client.get("/api/alerts", headers=headers).json()[0]["acknowledged_at"] == acknowledged_at
    )
    again = client.post(f"/api/alerts/{alert['id']}/ack", headers=as_role("operator"))
    assert again.json()["acknowledged_at"] == acknowledged_at  # the first one counts
    db.expire_all()
    row = db.get(Alert, alert["id"])
    assert row is not None
    assert row.acknowledged_by == client.get("/api/auth/me", headers=headers).json()["id"]


def test_device_key_acknowledges_an_alert(
    app: FastAPI, client: TestClient, db: Session, as_role: AsRole, city: City
) -> None:
    raise_alerts(app, db, LeakDetected(city_id=city.id, meter="m1"))
    key = client.post(
        "/api/api-keys", json={"name": "control room"}, headers=as_role("city_admin")
    ).json()["key"]
    (alert,) = client.get("/api/alerts", headers={"X-API-Key": key}).json()
    response = client.post(f"/api/alerts/{alert['id']}/ack", headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    assert response.json()["acknowledged_at"] is not None


def test_alert_of_another_city_cannot_be_acknowledged(
    app: FastAPI,
    client: TestClient,
    db: Session,
    as_role: AsRole,
    city: City,
    other_city: City,
) -> None:
    raise_alerts(app, db, LeakDetected(city_id=other_city.id, meter="theirs"))
    (theirs,) = client.get("/api/alerts", headers=as_role("operator", other_city)).json()
    response = client.post(f"/api/alerts/{theirs['id']}/ack", headers=as_role("operator"))
    assert_problem(response, 404)
    assert (
        client.get("/api/alerts", headers=as_role("operator", other_city)).json()[0][
            "acknowledged_at"
        ]
        is None
    )


def test_unknown_alert_is_404(client: TestClient, as_role: AsRole) -> None:
    assert_problem(client.post("/api/alerts/999999/ack", headers=as_role("operator")), 404)
