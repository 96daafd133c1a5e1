"""Measurements over MQTT, end to end: a device publishes at QoS 1 to the real Mosquitto, the
consumer (in a thread, on a committed database) writes its entity and history; malformed
messages are counted and dropped while good ones land; nothing is acknowledged before it is
committed; an apikey writes only into its own city."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from qala.core.db import Database
from qala.hub import service
from qala.hub.ingest import provision
from qala.hub.ingest.registry import DeviceRegistry
from qala.hub.ngsild.errors import ResourceNotFound
from qala.hub.temporal.models import HubTemporalValue
from tests.conftest import make_city
from tests.hub.iot_support import (
    SHARED_BROKER,
    committed_database_url,
    drop_database,
    open_database,
    port_open,
    require_service,
    running_consumer,
    weather_group,
)

BROKER = f"mqtt://{SHARED_BROKER[0]}:{SHARED_BROKER[1]}"
VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"


@pytest.fixture(scope="module")
def committed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A database of this module whose commits are real: the consumer writes from its thread."""
    require_service("Mosquitto at 127.0.0.1:1883", port_open(*SHARED_BROKER))
    kind = request.config.getoption("--db")
    url = committed_database_url(kind, tmp_path_factory.mktemp("iot"), "iot")
    database = open_database(url)
    yield database
    database.engine.dispose()
    drop_database(url)


@pytest.fixture
def tenant(committed: Database) -> dict[str, Any]:
    """A city of its own with a weather group whose apikey is unique to this test."""
    suffix = uuid.uuid4().hex[:8]
    apikey = f"wk-{suffix}"
    group = {**weather_group()["services"][0], "apikey": apikey}
    with committed.session() as db:
        city = make_city(db, f"c{suffix}", "Город")
        expand = DeviceRegistry().expand
        provision.create_groups(db, city.id, "/", [group], expand)
        db.commit()
        return {"city_id": city.id, "apikey": apikey, "slug": city.slug}


def publisher(url: str = BROKER) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4().hex[:8]}")
    host, port = url.removeprefix("mqtt://").split(":")
    client.connect(host, int(port))
    client.loop_start()
    return client


def publish_all(client: mqtt.Client, messages: list[tuple[str, bytes]]) -> None:
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(10)
        assert info.is_published()


def entity(database: Database, city_id: int, entity_id: str) -> dict[str, Any]:
    with database.session() as db:
        return service.get_entity(db, city_id, entity_id)


def history_count(database: Database, city_id: int) -> int:
    with database.session() as db:
        query = (
            select(func.count())
            .select_from(HubTemporalValue)
            .where(HubTemporalValue.city_id == city_id)
        )
        return int(db.scalar(query) or 0)


def test_published_measures_land_in_the_entity_and_its_history(
    committed: Database, tenant: dict[str, Any]
) -> None:
    key = tenant["apikey"]
    messages = [
        (
            f"/{key}/ws-1/attrs",
            json.dumps({"t": 20 + n, "h": 0.5, "TimeInstant": f"2026-04-01T00:00:0{n}Z"}).encode(),
        )
        for n in range(5)
    ]
    messages.append(
        (f"/json/{key}/ws-1/attrs", b'{"s": "ok", "TimeInstant": "2026-04-01T00:00:09Z"}')
    )
    messages.append((f"/{key}/ws-2/attrs/t", b"-3.5"))
    with running_consumer(committed, BROKER) as (_consumer, ledger):
        client = publisher()
        publish_all(client, messages)
        ledger.wait_for(len(messages))
        client.loop_stop()
    stored = entity(committed, tenant["city_id"], "urn:ngsi-ld:WeatherObserved:ws-1")
    (temperature,) = stored["attrs"][VOCAB + "temperature"]
    assert temperature["value"] == 24
    assert temperature["unitCode"] == "CEL"
    assert temperature["observedAt"] == "2026-04-01T00:00:04.000Z"
    status = DeviceRegistry().expand("status")  # a core-context term
    assert stored["attrs"][status][0]["value"] == "ok"
    other = entity(committed, tenant["city_id"], "urn:ngsi-ld:WeatherObserved:ws-2")
    assert other["attrs"][VOCAB + "temperature"][0]["value"] == -3.5
    assert history_count(committed, tenant["city_id"]) >= 5 + 5 + 1 + 1


def test_malformed_messages_are_counted_and_dropped_while_good_ones_land(
    committed: Database, tenant: dict[str, Any]
) -> None:
    key = tenant["apikey"]
    with committed.session() as db:
        expand = DeviceRegistry().expand
        strict = {
            "apikey": f"{key}-strict",
            "entity_type": "Strict",
            "explicitAttrs": True,
            "attributes": [{"object_id": "v", "name": "level", "type": "Number"}],
        }
        provision.create_groups(db, tenant["city_id"], "/", [strict], expand)
        db.commit()
    bad = [
        (f"/{key}/ws-9/attrs", b"{not json"),
        (f"/{key}/ws-9/attrs", b"[1, 2]"),
        (f"/{key}/ws-9/attrs", b'{"t": "warm"}'),
        (f"/no-such-key-{key}/ws-9/attrs", b'{"t": 1}'),
        (f"/{key}-strict/s-1/attrs", b'{"unknown": 1}'),
    ]
    good = [(f"/{key}/ws-9/attrs", b'{"t": 11}'), (f"/{key}-strict/s-1/attrs", b'{"v": 2, "x": 1}')]
    with running_consumer(committed, BROKER) as (consumer, ledger):
        client = publisher()
        publish_all(client, [bad[0], bad[1], good[0], *bad[2:], good[1]])
        ledger.wait_for(len(bad) + len(good))
        client.loop_stop()
        metrics = consumer.metrics
        assert metrics.dropped_count("bad_payload") == 2
        assert metrics.dropped_count("bad_value") == 1
        assert metrics.dropped_count("unknown_apikey") == 1
        assert metrics.dropped_count("unknown_attributes") == 1
        assert metrics.registry.get_sample_value("qala_iot_attributes_dropped_total") == 1
    stored = entity(committed, tenant["city_id"], "urn:ngsi-ld:WeatherObserved:ws-9")
    assert stored["attrs"][VOCAB + "temperature"][0]["value"] == 11
    strict_entity = entity(committed, tenant["city_id"], "urn:ngsi-ld:Strict:s-1")
    assert VOCAB + "x" not in strict_entity["attrs"]
    assert strict_entity["attrs"][VOCAB + "level"][0]["value"] == 2


def test_nothing_is_acknowledged_before_it_is_committed(
    committed: Database, tenant: dict[str, Any], tmp_path: Path
) -> None:
    """A consumer whose database is down stops without acknowledging; the next consumer
    with the same session gets the messages again and stores them."""
    key, client_id = tenant["apikey"], f"qala-test-{uuid.uuid4().hex[:8]}"
    unreachable = open_database(
        "postgresql+psycopg://postgres@127.0.0.1:9/none"
        if committed.engine.dialect.name == "postgresql"
        else f"sqlite:///{tmp_path}/missing/../nowhere/x.sqlite3"
    )
    messages = [
        (
            f"/{key}/ws-5/attrs",
            json.dumps({"t": n, "TimeInstant": f"2026-04-02T00:00:0{n}Z"}).encode(),
        )
        for n in range(5)
    ]
    with running_consumer(unreachable, BROKER, client_id=client_id) as (consumer, ledger):
        client = publisher()
        publish_all(client, messages)
        registry = consumer.metrics.registry
        for _ in range(200):  # until the consumer is retrying its commit
            if registry.get_sample_value("qala_iot_commit_failures_total"):
                break
            time.sleep(0.05)
        client.loop_stop()
    assert ledger.messages == 0
    with pytest.raises(ResourceNotFound):
        entity(committed, tenant["city_id"], "urn:ngsi-ld:WeatherObserved:ws-5")
    with running_consumer(committed, BROKER, client_id=client_id) as (_consumer, ledger):
        ledger.wait_for(len(messages))
    stored = entity(committed, tenant["city_id"], "urn:ngsi-ld:WeatherObserved:ws-5")
    assert stored["attrs"][VOCAB + "temperature"][0]["value"] == 4


def test_bounded_queue_holds_back_a_slow_writer(
    committed: Database, tenant: dict[str, Any]
) -> None:
    key = tenant["apikey"]
    messages = [(f"/{key}/ws-{n % 7}/attrs", json.dumps({"t": n}).encode()) for n in range(400)]
    peak = 0
    with running_consumer(committed, BROKER, queue_size=20, batch_size=10) as (consumer, ledger):
        client = publisher()
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        while ledger.messages < len(messages):
            peak = max(peak, consumer.queue.qsize())
            time.sleep(0.001)
        for info in infos:
            info.wait_for_publish(10)
        client.loop_stop()
    assert 0 < peak <= 20
    assert history_count(committed, tenant["city_id"]) >= 400


def test_apikey_writes_only_into_its_own_city(committed: Database, tenant: dict[str, Any]) -> None:
    key = tenant["apikey"]
    with committed.session() as db:
        other = make_city(db, f"o{uuid.uuid4().hex[:8]}", "Другой")
        other_id = other.id
    with running_consumer(committed, BROKER) as (_consumer, ledger):
        client = publisher()
        publish_all(client, [(f"/{key}/shared-id/attrs", b'{"t": 5}')])
        ledger.wait_for(1)
        client.loop_stop()
    assert entity(committed, tenant["city_id"], "urn:ngsi-ld:WeatherObserved:shared-id")
    with pytest.raises(ResourceNotFound):
        entity(committed, other_id, "urn:ngsi-ld:WeatherObserved:shared-id")
    assert history_count(committed, other_id) == 0


def test_qala_hub_ingest_runs_as_its_own_process_and_stops_on_sigterm(
    committed: Database, tenant: dict[str, Any]
) -> None:
    url = committed.engine.url.render_as_string(hide_password=False)
    environment = {**os.environ, "QALA_DATABASE_URL": url, "QALA_MQTT_URL": BROKER}
    client_id = f"qala-cli-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(
        [sys.executable, "-m", "qala", "hub", "ingest", "--client-id", client_id],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "connected to" in line:
                break
        time.sleep(0.5)  # the subscription is acknowledged
        client = publisher()
        publish_all(client, [(f"/{tenant['apikey']}/cli-1/attrs", b'{"t": 30}')])
        client.loop_stop()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                stored = entity(committed, tenant["city_id"], "urn:ngsi-ld:WeatherObserved:cli-1")
                break
            except ResourceNotFound:
                time.sleep(0.1)
        assert stored["attrs"][VOCAB + "temperature"][0]["value"] == 30
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_qala_hub_ingest_needs_a_broker_url(committed: Database) -> None:
    environment = {**os.environ, "QALA_MQTT_URL": ""}
    result = subprocess.run(
        [sys.executable, "-m", "qala", "hub", "ingest"],
        env=environment,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "QALA_MQTT_URL" in result.stderr
