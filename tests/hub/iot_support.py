"""Helpers of the IoT ingestion tests: a FIWARE-style client over the test client, payload
samples, and (for the MQTT tests) a committed database, a consumer thread and a private
Mosquitto broker."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, text

from qala.core.db import Database
from qala.core.migrations import upgrade
from qala.hub.ingest.mqtt import ConsumerSettings, IngestConsumer, Received, ingest_database
from qala.hub.ingest.pipeline import BatchResult
from qala.hub.runtime import default_hub

FIXTURES = Path(__file__).parent / "fixtures"
WEATHER_KEY = "weather-key-1"


def weather_group() -> dict[str, Any]:
    """The weather stations' group document (``{"services": [...]}``)."""
    document: dict[str, Any] = json.loads((FIXTURES / "iot_weather_group.json").read_text())
    return document


class Iot:
    """An IoT Agent client: provisioning with the caller's headers, measurements with k/i."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.request(method, f"/iot{path}", headers=headers, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def provision_weather(self) -> None:
        response = self.post("/services", json=weather_group())
        assert response.status_code == 201, response.text

    def measure(self, device: str, body: Any, key: str = WEATHER_KEY, **params: str) -> Any:
        """POST /iot/json with only the apikey (no credentials), like a device."""
        query = {"k": key, "i": device, **params}
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(
            "/iot/json", params=query, content=content, headers={"Content-Type": "application/json"}
        )


# -- MQTT: a committed database, a consumer thread, brokers ----------------------------

SHARED_BROKER = ("127.0.0.1", 1883)
PG_BASE = os.environ.get("QALA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def port_open(host: str, port: int) -> bool:
    """True when something listens on host:port."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def require_service(name: str, available: bool) -> None:
    """Skip without the service, but fail in CI, where it must be there."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is not available; CI must provide it")
    pytest.skip(f"{name} is not available")


def committed_database_url(kind: str, folder: Path, name: str) -> str:
    """A fresh migrated database whose commits are real (for consumer threads); its own
    name, so concurrent runs never collide. ``drop_database`` removes it."""
    if kind == "postgresql":
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        database = f"qala_test_{worker}_{os.getpid()}_{name}"
        _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{database}"')
        url = f"{PG_BASE}/{database}"
    else:
        url = f"sqlite:///{folder / f'{name}.sqlite3'}"
    upgrade(url)
    return url


def drop_database(url: str) -> None:
    """Remove a PostgreSQL database made by ``committed_database_url``."""
    if url.startswith("postgresql"):
        _admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _admin(statement: str) -> None:
    admin = create_engine(f"{PG_BASE}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(statement))
    admin.dispose()


@dataclass
class Ledger:
    """What the consumer committed: messages acknowledged, batches, refusals (thread-safe)."""

    messages: int = 0
    batches: int = 0
    payloads: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, batch: Sequence[Received], _result: BatchResult | None) -> None:
        with self.lock:
            self.messages += len(batch)
            self.batches += 1
            self.payloads.extend(item.payload for item in batch)

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        """Wait until ``count`` messages were committed (and acknowledged)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.messages >= count:
                    return
            time.sleep(0.02)
        raise AssertionError(f"only {self.messages} of {count} messages were committed")


@contextlib.contextmanager
def running_consumer(
    database: Database, url: str, client_id: str | None = None, **options: object
) -> Iterator[tuple[IngestConsumer, Ledger]]:
    """The MQTT consumer in a thread, subscribed before this yields; stopped after."""
    ledger = Ledger()
    settings = ConsumerSettings(
        url=url,
        client_id=client_id or f"qala-test-{uuid.uuid4().hex[:8]}",
        session_expiry=300,
        **options,
    )  # type: ignore[arg-type]
    consumer = IngestConsumer(database, settings, hub=default_hub(), on_commit=ledger.record)
    thread = threading.Thread(target=consumer.run, name="ingest", daemon=True)
    thread.start()
    try:
        assert consumer.subscribed.wait(15), "the consumer did not subscribe"
        yield consumer, ledger
    finally:
        consumer.stop()
        thread.join(30)
        assert not thread.is_alive(), "the consumer did not stop"


def open_database(url: str) -> Database:
    """The consumer's kind of database handle (orjson JSON columns)."""
    return ingest_database(url)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateBroker:
    """A Mosquitto of this test alone (its own port, persistence and config), so restarting
    it disturbs nobody else; queues for persistent sessions are not capped."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"user {getpass.getuser()}\n"  # root keeps root: the files stay writable
            f"persistence_location {folder}/\nautosave_interval 0\n"
            f"max_queued_messages 0\nmax_inflight_messages 0\n"
            f"log_dest file {folder}/mosquitto.log\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen(
            [binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("mosquitto did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: Mosquitto saves its sessions and queued messages, then exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None

    def restart(self, pause: float = 0.5) -> None:
        self.stop()
        time.sleep(pause)
        self.start()


def mosquitto_available() -> bool:
    """True when the mosquitto binary is installed."""
    return bool(shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists())


class SustainedPublisher(threading.Thread):
    """A device fleet publishing ``count`` readings at QoS 1 from a persistent session (so
    messages in flight are resent after a broker restart), one unique timestamp each."""

    BASE_MS = 1_780_000_000_000  # 2026-05-28T...Z

    def __init__(self, url: str, apikey: str, count: int, devices: int, rate: float) -> None:
        super().__init__(name="publisher", daemon=True)
        self.apikey, self.count, self.devices, self.rate = apikey, count, devices, rate
        host, port = url.removeprefix("mqtt://").split(":")
        self.address = (host, int(port))
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"fleet-{uuid.uuid4().hex[:8]}",
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 2)
        self.infos: list[mqtt.MQTTMessageInfo] = []
        self.published = 0
        self.acked: set[int] = set()  # mids the broker acknowledged (PUBACK)
        self.client.on_publish = lambda _c, _u, mid, _reason, _props: self.acked.add(mid)

    def reading(self, n: int) -> tuple[str, str, bytes]:
        """(device, topic, payload) of reading ``n``."""
        device = f"dev-{n % self.devices}"
        moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((self.BASE_MS + n) // 1000))
        stamp = f"{moment}.{(self.BASE_MS + n) % 1000:03d}Z"
        payload = json.dumps({"t": n, "TimeInstant": stamp}).encode()
        return device, f"/{self.apikey}/{device}/attrs", payload

    def observed_at(self, n: int) -> int:
        """Reading ``n``'s time in epoch milliseconds."""
        return self.BASE_MS + n

    def run(self) -> None:
        self.client.connect(*self.address)
        self.client.loop_start()
        started = time.monotonic()
        for n in range(self.count):
            _device, topic, payload = self.reading(n)
            self.infos.append(self.client.publish(topic, payload, qos=1))
            self.published = n + 1
            ahead = started + (n + 1) / self.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)

    def acknowledged(self, timeout: float) -> list[int]:
        """Wait for the broker's acknowledgements; the readings it acknowledged."""
        self.join(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.acked) < len(self.infos):
            time.sleep(0.1)
        self.client.loop_stop()
        self.client.disconnect()
        return [n for n, info in enumerate(self.infos) if info.mid in self.acked]
