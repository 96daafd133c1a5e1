"""Reliability of MQTT ingestion under a sustained QoS-1 load: restarting the broker or the
database loses no reading the broker acknowledged and stores none twice; a burst far above
the write rate keeps the consumer's memory bounded. Each test runs its own Mosquitto (its own
port and persistence), so restarting it disturbs nobody; the PostgreSQL restart runs last."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from qala.core.db import Database
from qala.hub import service
from qala.hub.ingest import provision
from qala.hub.ingest.registry import DeviceRegistry
from qala.hub.temporal.models import HubTemporalSeries, HubTemporalValue
from qala.hub.temporal.reading import JOINED
from tests.conftest import make_city
from tests.hub.iot_support import (
    PrivateBroker,
    SustainedPublisher,
    committed_database_url,
    drop_database,
    mosquitto_available,
    open_database,
    require_service,
    running_consumer,
)

pytestmark = pytest.mark.slow
READINGS = 20_000
DEVICES = 200
TEMPERATURE = "https://uri.etsi.org/ngsi-ld/default-context/temperature"


@pytest.fixture(scope="module")
def committed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A database of this module whose commits are real."""
    kind = request.config.getoption("--db")
    url = committed_database_url(kind, tmp_path_factory.mktemp("iot-rel"), "iot_rel")
    database = open_database(url)
    yield database
    database.engine.dispose()
    drop_database(url)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    """A Mosquitto of this test alone."""
    require_service("mosquitto", mosquitto_available())
    broker = PrivateBroker(tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def tenant(committed: Database) -> dict[str, Any]:
    """A city with a group mapping ``t`` to temperature."""
    suffix = uuid.uuid4().hex[:8]
    group = {
        "apikey": f"rk-{suffix}",
        "entity_type": "Meter",
        "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
    }
    with committed.session() as db:
        city = make_city(db, f"r{suffix}", "Надёжный")
        provision.create_groups(db, city.id, "/", [group], DeviceRegistry().expand)
        db.commit()
        return {"city_id": city.id, "apikey": group["apikey"]}


def stored_history(database: Database, city_id: int) -> list[tuple[str, int, float]]:
    """Every temperature in the city's history: (entity, epoch ms, value)."""
    with database.session() as db:
        rows = db.execute(
            select(
                HubTemporalSeries.entity_id, HubTemporalValue.observed_at, HubTemporalValue.value
            )
            .select_from(JOINED)
            .where(HubTemporalSeries.city_id == city_id, HubTemporalSeries.attribute == TEMPERATURE)
        )
        return [(entity, _ms(moment), value) for entity, moment, value in rows]


def _ms(moment: dt.datetime) -> int:
    return round(moment.timestamp() * 1000)


def history_size(database: Database, city_id: int) -> int:
    with database.session() as db:
        query = (
            select(func.count())
            .select_from(JOINED)
            .where(HubTemporalSeries.city_id == city_id, HubTemporalSeries.attribute == TEMPERATURE)
        )
        return int(db.scalar(query) or 0)


def wait_for_history(database: Database, city_id: int, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if history_size(database, city_id) >= count:
                return
        except Exception:  # noqa: BLE001 - the database may be restarting
            pass
        time.sleep(0.25)


def assert_exactly_once(
    database: Database, tenant: dict[str, Any], fleet: SustainedPublisher, acknowledged: list[int]
) -> None:
    """Every acknowledged reading is in the history once, with its value; nothing else is;
    each entity shows its newest reading."""
    expected = {
        (f"urn:ngsi-ld:Meter:{fleet.reading(n)[0]}", fleet.observed_at(n), float(n))
        for n in acknowledged
    }
    wait_for_history(database, tenant["city_id"], len(expected), timeout=120)
    stored = stored_history(database, tenant["city_id"])
    assert len(stored) == len(set(stored)), "a reading is stored twice"
    missing = expected - set(stored)
    assert not missing, f"{len(missing)} acknowledged readings are lost, e.g. {sorted(missing)[:3]}"
    assert len(stored) == len(expected)
    newest = max(n for n in acknowledged if n % fleet.devices == 7)
    with database.session() as db:
        entity = service.get_entity(db, tenant["city_id"], "urn:ngsi-ld:Meter:dev-7")
    assert entity["attrs"][TEMPERATURE][0]["value"] == newest


def test_broker_restart_loses_and_duplicates_nothing(
    committed: Database, broker: PrivateBroker, tenant: dict[str, Any]
) -> None:
    fleet = SustainedPublisher(broker.url, tenant["apikey"], READINGS, DEVICES, rate=5000)
    with running_consumer(committed, broker.url) as (consumer, _ledger):
        fleet.start()
        while fleet.published < READINGS // 3:
            time.sleep(0.01)
        broker.restart()
        acknowledged = fleet.acknowledged(timeout=120)
        assert len(acknowledged) == READINGS
        assert_exactly_once(committed, tenant, fleet, acknowledged)
        assert consumer.metrics.registry.get_sample_value("qala_iot_reconnects_total") >= 1


@pytest.mark.restarts_services
def test_database_restart_loses_and_duplicates_nothing(
    request: pytest.FixtureRequest,
    committed: Database,
    broker: PrivateBroker,
    tenant: dict[str, Any],
) -> None:
    if request.config.getoption("--db") != "postgresql":
        pytest.skip("restarts the PostgreSQL server; runs with --db postgresql")
    clusters = sorted(p.name for p in Path("/etc/postgresql").iterdir())
    fleet = SustainedPublisher(broker.url, tenant["apikey"], READINGS, DEVICES, rate=5000)
    with running_consumer(committed, broker.url) as (consumer, _ledger):
        fleet.start()
        while fleet.published < READINGS // 3:
            time.sleep(0.01)
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", clusters[0], "main", "restart"],
            check=True,
            timeout=60,
        )
        acknowledged = fleet.acknowledged(timeout=120)
        assert len(acknowledged) == READINGS
        assert_exactly_once(committed, tenant, fleet, acknowledged)
        assert consumer.metrics.registry.get_sample_value("qala_iot_commit_failures_total") >= 1


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


PUBLISH_BURST = """
import json, sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port, apikey, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="burst-" + apikey)
client.max_inflight_messages_set(1000)
client.max_queued_messages_set(0)
client.connect("127.0.0.1", port)
client.loop_start()
started = time.monotonic()
extra = {f"m{k}": k for k in range(9)}  # ten values a message: a multi-sensor
infos = [client.publish(f"/{apikey}/b-{n % 100}/attrs", json.dumps({"t": n, **extra}), qos=1)
         for n in range(count)]
for info in infos:
    info.wait_for_publish(120)
print(count / (time.monotonic() - started))
"""


def test_burst_keeps_the_consumer_memory_bounded(
    committed: Database, broker: PrivateBroker, tenant: dict[str, Any]
) -> None:
    """A burst published several times faster than it is written: the queue never holds
    more than its bound and the consumer's memory stays flat; every reading lands."""
    count, bound = 15_000, 2_000
    peak_queue, peak_rss = 0, 0.0
    with running_consumer(committed, broker.url, queue_size=bound, batch_size=500) as (
        consumer,
        ledger,
    ):
        baseline = _rss_mb()
        started = time.monotonic()
        burst = subprocess.Popen(
            [sys.executable, "-c", PUBLISH_BURST, str(broker.port), tenant["apikey"], str(count)],
            stdout=subprocess.PIPE,
            text=True,
        )
        sampling = threading.Event()

        def sample() -> None:
            nonlocal peak_queue, peak_rss
            while not sampling.is_set():
                peak_queue = max(peak_queue, consumer.queue.qsize())
                peak_rss = max(peak_rss, _rss_mb())
                time.sleep(0.005)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        publish_rate = float(burst.communicate(timeout=180)[0].strip() or 0)
        ledger.wait_for(count, timeout=180)
        write_rate = count / max(time.monotonic() - started, 1e-3)
        sampling.set()
        sampler.join()
    assert publish_rate > 2 * write_rate, "not a burst: the writer kept up"
    assert peak_queue <= bound
    assert peak_rss - baseline < 120, f"RSS grew by {peak_rss - baseline:.0f} MB"
    assert history_size(committed, tenant["city_id"]) == count
    print(
        f"burst {publish_rate:.0f} msg/s, written {write_rate:.0f} msg/s, "
        f"peak queue {peak_queue}, RSS +{peak_rss - baseline:.0f} MB"
    )
