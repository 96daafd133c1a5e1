"""NGSI-LD notifications: what fires them, what they carry, and delivery to a real HTTP
receiver on 127.0.0.1 and to the real Mosquitto at 127.0.0.1:1883, with retries."""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from qala.core.cities import City
from qala.core.db import Database, utcnow
from qala.hub import service as hub_service
from qala.hub.ngsild.context import ContextCache
from qala.hub.ngsild.model import parse_entity
from qala.hub.runtime import default_hub
from qala.hub.subscriptions.models import HubNotification
from qala.hub.subscriptions.notify import DeliveryPolicy, deliver_due
from tests.hub.conftest import CORE, Ngsi, meter

METER = "urn:ngsi-ld:WaterMeter:1"


class Receiver:
    """A notification endpoint: records what it gets, answers with the statuses it is told."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                receiver.received.append((dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The notifications received, in order."""
        return [body for _headers, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    thread = threading.Thread(
        target=endpoint.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


def subscribe(ngsi: Ngsi, uri: str, **members: Any) -> str:
    """Create a subscription to water meters; returns its id."""
    notification = {"endpoint": {"uri": uri}, **members.pop("notification", {})}
    body = {
        "id": f"urn:ngsi-ld:Subscription:{uuid.uuid4()}",
        "type": "Subscription",
        "entities": [{"type": "WaterMeter"}],
        "notification": notification,
        **members,
    }
    response = ngsi.post("/subscriptions", json=body)
    assert response.status_code == 201, response.text
    return str(body["id"])


def set_consumption(ngsi: Ngsi, value: float, n: int = 1) -> None:
    response = ngsi.patch(
        f"/entities/urn:ngsi-ld:WaterMeter:{n}/attrs",
        json={"consumption": {"type": "Property", "value": value}},
    )
    assert response.status_code == 204, response.text


def later(seconds: float) -> dt.datetime:
    return utcnow() + dt.timedelta(seconds=seconds)


def test_create_and_update_are_notified_in_order(
    ngsi: Ngsi, database: Database, receiver: Receiver
) -> None:
    sid = subscribe(ngsi, receiver.url)
    ngsi.create(meter(1))
    set_consumption(ngsi, 42)
    assert deliver_due(database) == 2
    first, second = receiver.bodies
    assert first["type"] == "Notification"
    assert first["subscriptionId"] == sid
    assert first["id"].startswith("urn:ngsi-ld:Notification:")
    assert first["notifiedAt"].endswith("Z")
    assert first["data"][0]["id"] == METER
    assert first["data"][0]["consumption"] == {"type": "Property", "value": 11.0, "unitCode": "MTQ"}
    assert second["data"][0]["consumption"] == {"type": "Property", "value": 42}
    headers = receiver.received[0][0]
    assert headers["Content-Type"] == "application/json"
    assert CORE in headers["Link"]
    status = ngsi.get(f"/subscriptions/{sid}").json()["notification"]
    assert (status["timesSent"], status["timesFailed"], status["status"]) == (2, 0, "ok")
    assert status["lastNotification"] and status["lastSuccess"]
    assert "lastFailure" not in status
    assert deliver_due(database) == 0


def test_only_watched_attributes_and_q_fire(
    ngsi: Ngsi, database: Database, receiver: Receiver
) -> None:
    ngsi.create(meter(1))
    subscribe(ngsi, receiver.url, watchedAttributes=["consumption"], q="consumption>50")
    ngsi.post(f"/entities/{METER}/attrs", json={"pressure": {"type": "Property", "value": 3}})
    set_consumption(ngsi, 20)
    assert deliver_due(database) == 0
    set_consumption(ngsi, 99)
    assert deliver_due(database) == 1
    assert receiver.bodies[0]["data"][0]["consumption"]["value"] == 99
    ngsi.create({"id": "urn:ngsi-ld:Pump:1", "type": "Pump", "consumption": 500})
    assert deliver_due(database) == 0


def test_geo_q_selects_by_place(ngsi: Ngsi, database: Database, receiver: Receiver) -> None:
    geo = {"geometry": "Point", "coordinates": [71.431, 51.13], "georel": "near;maxDistance==200"}
    subscribe(ngsi, receiver.url, geoQ=geo)
    ngsi.create(meter(1))  # about 0 m away
    ngsi.create(meter(90))  # about 6 km away
    assert deliver_due(database) == 1
    assert receiver.bodies[0]["data"][0]["id"] == METER


def test_throttling_suppresses_notifications(
    ngsi: Ngsi, database: Database, receiver: Receiver
) -> None:
    subscribe(ngsi, receiver.url, throttling=60)
    ngsi.create(meter(1))
    set_consumption(ngsi, 1)
    set_consumption(ngsi, 2)
    assert deliver_due(database) == 1
    assert len(receiver.bodies) == 1


def test_paused_and_expired_subscriptions_do_not_notify(
    ngsi: Ngsi, database: Database, receiver: Receiver
) -> None:
    paused = subscribe(ngsi, receiver.url, isActive=False)
    expiring = subscribe(ngsi, receiver.url, expiresAt=later(3600).isoformat())
    assert (
        ngsi.patch(
            f"/subscriptions/{expiring}", json={"expiresAt": "2001-01-01T00:00:00Z"}
        ).status_code
        == 204
    )
    ngsi.create(meter(1))
    assert deliver_due(database) == 0
    assert receiver.bodies == []
    ngsi.patch(f"/subscriptions/{paused}", json={"isActive": True})
    set_consumption(ngsi, 5)
    assert deliver_due(database) == 1
    assert receiver.bodies[0]["subscriptionId"] == paused


def test_a_receiver_down_for_a_while_loses_nothing(
    ngsi: Ngsi, database: Database, receiver: Receiver
) -> None:
    sid = subscribe(ngsi, receiver.url)
    receiver.statuses = [503, 503]
    ngsi.create(meter(1))
    set_consumption(ngsi, 7)
    assert deliver_due(database) == 0  # 503: the first waits, the second waits behind it
    status = ngsi.get(f"/subscriptions/{sid}").json()["notification"]
    assert (status["timesFailed"], status["status"]) == (1, "failed")
    assert status["lastFailure"]
    assert deliver_due(database) == 0  # not due yet
    assert deliver_due(database, now=later(10)) == 0  # 503 again
    assert deliver_due(database, now=later(60)) == 2
    ids = [body["id"] for body in receiver.bodies]
    assert ids[0] == ids[1] == ids[2] != ids[3]  # the same notification, retried, then the next
    values = [body["data"][0]["consumption"]["value"] for body in receiver.bodies]
    assert values == [11.0, 11.0, 11.0, 7]
    status = ngsi.get(f"/subscriptions/{sid}").json()["notification"]
    assert (status["timesSent"], status["timesFailed"], status["status"]) == (4, 2, "ok")


def test_delivery_gives_up_after_the_last_attempt(
    ngsi: Ngsi, database: Database, receiver: Receiver
) -> None:
    subscribe(ngsi, receiver.url)
    receiver.statuses = [500, 500, 500]
    ngsi.create(meter(1))
    policy = DeliveryPolicy(max_attempts=2)
    deliver_due(database, policy=policy)
    deliver_due(database, now=later(600), policy=policy)
    deliver_due(database, now=later(6000), policy=policy)
    assert len(receiver.received) == 2
    with database.session() as db:
        row = db.scalars(select(HubNotification)).one()
        assert (row.status, row.attempts) == ("failed", 2)
        assert row.last_error and "500" in row.last_error


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("keyValues", {"id": METER, "type": "WaterMeter", "consumption": 11.0}),
        (
            "concise",
            {"id": METER, "type": "WaterMeter", "consumption": {"value": 11.0, "unitCode": "MTQ"}},
        ),
    ],
)
def test_formats_and_attribute_projection(
    ngsi: Ngsi, database: Database, receiver: Receiver, form: str, expected: dict[str, Any]
) -> None:
    subscribe(ngsi, receiver.url, notification={"format": form, "attributes": ["consumption"]})
    ngsi.create(meter(1))
    deliver_due(database)
    assert receiver.bodies[0]["data"] == [expected]


def test_ld_json_and_receiver_info(ngsi: Ngsi, database: Database, receiver: Receiver) -> None:
    endpoint = {
        "uri": receiver.url,
        "accept": "application/ld+json",
        "receiverInfo": [{"key": "X-Auth-Token", "value": "secret-1"}],
    }
    subscribe(ngsi, receiver.url, notification={"endpoint": endpoint})
    ngsi.create(meter(1))
    deliver_due(database)
    headers, body = receiver.received[0]
    assert headers["Content-Type"] == "application/ld+json"
    assert headers["X-Auth-Token"] == "secret-1"
    assert "Link" not in headers
    assert body["@context"] == CORE
    assert body["data"][0]["@context"] == CORE


def test_deletions_and_show_changes(ngsi: Ngsi, database: Database, receiver: Receiver) -> None:
    ngsi.create(meter(1, note={"type": "Property", "value": "old"}))
    subscribe(
        ngsi,
        receiver.url,
        notificationTrigger=["attributeUpdated", "attributeDeleted", "entityDeleted"],
        notification={"showChanges": True, "attributes": ["consumption", "note"]},
    )
    set_consumption(ngsi, 30)
    assert ngsi.delete(f"/entities/{METER}/attrs/note").status_code == 204
    assert ngsi.delete(f"/entities/{METER}").status_code == 204
    assert deliver_due(database) == 3
    updated, attribute_gone, entity_gone = (body["data"][0] for body in receiver.bodies)
    assert updated["consumption"] == {"type": "Property", "value": 30, "previousValue": 11.0}
    assert attribute_gone["note"] == {
        "type": "Property",
        "value": "urn:ngsi-ld:null",
        "previousValue": "old",
    }
    assert entity_gone["deletedAt"].endswith("Z")
    assert entity_gone["consumption"]["value"] == "urn:ngsi-ld:null"


def test_periodic_subscription_sends_every_interval(
    ngsi: Ngsi, database: Database, receiver: Receiver
) -> None:
    ngsi.create(meter(1))
    ngsi.create(meter(2))
    subscribe(ngsi, receiver.url, timeInterval=30, notification={"format": "keyValues"})
    assert deliver_due(database) == 1
    assert sorted(e["id"] for e in receiver.bodies[0]["data"]) == [
        METER,
        "urn:ngsi-ld:WaterMeter:2",
    ]
    set_consumption(ngsi, 5)  # changes do not fire a periodic subscription
    assert deliver_due(database) == 0
    assert deliver_due(database, now=later(31)) == 1


def test_changes_that_roll_back_are_never_notified(
    ngsi: Ngsi, database: Database, receiver: Receiver, city: City
) -> None:
    subscribe(ngsi, receiver.url)
    entity = parse_entity(meter(1), ContextCache().term_map(None))
    with database.session() as db:
        hub_service.create_entity(default_hub(), db, city.id, entity)
        db.flush()
        assert db.scalars(select(HubNotification)).all()  # queued in the writer's transaction
        db.rollback()
    assert deliver_due(database) == 0
    assert receiver.bodies == []


def test_other_citys_changes_never_reach_a_subscription(
    ngsi: Ngsi, other_ngsi: Ngsi, database: Database, receiver: Receiver
) -> None:
    subscribe(ngsi, receiver.url)
    other_ngsi.create(meter(1))
    assert deliver_due(database) == 0
    ngsi.create(meter(1))
    assert deliver_due(database) == 1


def test_mqtt_endpoint_publishes_to_the_broker(ngsi: Ngsi, database: Database) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    topic = f"qala-test/{uuid.uuid4()}"
    messages: queue.Queue[bytes] = queue.Queue()
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, message: messages.put(message.payload)
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect("127.0.0.1", 1883)
    client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        assert subscribed.wait(5), "no SUBACK from Mosquitto at 127.0.0.1:1883"
        info = [{"key": "MQTT-QoS", "value": "1"}]
        subscribe(
            ngsi,
            f"mqtt://127.0.0.1:1883/{topic}",
            notification={
                "endpoint": {"uri": f"mqtt://127.0.0.1:1883/{topic}", "notifierInfo": info}
            },
        )
        ngsi.create(meter(1))
        assert deliver_due(database) == 1
        message = json.loads(messages.get(timeout=5))
    finally:
        client.loop_stop()
        client.disconnect()
    assert message["metadata"]["Content-Type"] == "application/json"
    assert CORE in message["metadata"]["Link"]
    assert message["body"]["type"] == "Notification"
    assert message["body"]["data"][0]["id"] == METER
