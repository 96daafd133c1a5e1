"""The MQTT consumer of measurements (``/{apikey}/{device_id}/attrs`` and ``/json/...``).

Nothing acknowledged is lost: the client keeps a persistent session (MQTT 5, clean start
off, a fixed client id), subscribes at QoS 1 and acknowledges a message only after the
batch holding it is committed. Messages wait in a bounded queue: when it is full the network
thread stops reading, so the broker holds the rest (and the receive maximum caps what it
sends unacknowledged). Malformed messages are counted, logged, acknowledged and dropped."""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy.exc import DBAPIError

from qala.core.db import Database, make_engine
from qala.core.modules import import_models
from qala.hub.ingest.measure import parse_topic
from qala.hub.ingest.metrics import IngestMetrics
from qala.hub.ingest.pipeline import BatchResult, Message, Refusal, ingest
from qala.hub.ingest.registry import DeviceRegistry
from qala.hub.ingest.writer import WriteResult
from qala.hub.service import Hub

log = logging.getLogger("qala.hub.ingest")
TOPICS = ("/+/+/attrs", "/+/+/attrs/+", "/json/+/+/attrs", "/json/+/+/attrs/+")
SESSION_EXPIRY = 7 * 24 * 3600  # the broker keeps our session (and queues for it) a week
#: A database that is down or busy (drivers' own errors too: bulk COPY uses the raw driver).
DATABASE_ERRORS = (DBAPIError, psycopg.Error, sqlite3.Error)


@dataclass(frozen=True)
class ConsumerSettings:
    """How the consumer connects, subscribes and batches."""

    url: str  # mqtt://[user:password@]host[:port]
    client_id: str = "qala-ingest"
    topics: tuple[str, ...] = TOPICS
    shared_group: str = ""  # "$share/<group>/..." subscriptions for several consumers
    queue_size: int = 10_000
    batch_size: int = 2_000
    batch_wait: float = 0.05
    receive_maximum: int = 20_000
    keepalive: int = 30
    reconnect_min: int = 1
    reconnect_max: int = 30
    session_expiry: int = SESSION_EXPIRY


@dataclass(frozen=True)
class Received:
    """A message as it arrived: what to acknowledge, and on which connection."""

    mid: int
    qos: int
    topic: str
    payload: bytes
    generation: int
    at: float


#: Called after each commit with the batch and what it did (tests, benchmarks).
CommitHook = Callable[[Sequence[Received], BatchResult | None], None]


class IngestConsumer:
    """Consumes measurements from the broker into the hub until stopped."""

    def __init__(
        self,
        database: Database,
        settings: ConsumerSettings,
        *,
        hub: Hub,
        registry: DeviceRegistry | None = None,
        on_commit: CommitHook | None = None,
        metrics: IngestMetrics | None = None,
    ) -> None:
        import_models()  # every table the hub's listeners touch is known to the ORM
        self.database = database
        self.settings = settings
        self.hub = hub
        self.registry = registry or DeviceRegistry()
        self.on_commit = on_commit
        self.queue: queue.Queue[Received] = queue.Queue(maxsize=settings.queue_size)
        self.metrics = metrics or IngestMetrics()
        self.metrics.queue_size.set_function(self.queue.qsize)
        self.subscribed = threading.Event()
        self._stopping = threading.Event()
        self._closing = threading.Event()
        self._generation = 0
        self.client = self._make_client()

    # -- network thread ------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        parts = urlsplit(self.settings.url)
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.settings.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if parts.username:
            client.username_pw_set(parts.username, parts.password)
        if parts.scheme in ("mqtts", "ssl"):
            client.tls_set()
        client.reconnect_delay_set(self.settings.reconnect_min, self.settings.reconnect_max)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _properties: Any
    ) -> None:
        if reason.is_failure:
            log.warning("the broker refused the connection: %s", reason)
            return
        self.metrics.connected.set(1)
        prefix = f"$share/{self.settings.shared_group}/" if self.settings.shared_group else ""
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        client.subscribe([(prefix + topic, options) for topic in self.settings.topics])
        log.info("connected to %s as %s", self.settings.url, self.settings.client_id)

    def _on_subscribe(self, *_args: Any) -> None:
        self.subscribed.set()

    def _on_disconnect(self, *_args: Any) -> None:
        # Acknowledgements of messages from the lost connection are never sent: the broker
        # redelivers those messages on the new one (writing them twice is harmless).
        self._generation += 1
        self.subscribed.clear()
        self.metrics.connected.set(0)
        if not self._closing.is_set():
            self.metrics.reconnects.inc()
            log.warning("lost the broker; reconnecting with backoff")

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        item = Received(
            message.mid,
            message.qos,
            message.topic,
            bytes(message.payload),
            self._generation,
            time.time(),
        )
        self.metrics.received.inc()
        while not self._closing.is_set():  # full: wait, and the broker holds the rest
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    # -- writer thread -------------------------------------------------------------------

    def run(self) -> None:
        """Connect and consume until ``stop()``; the batch under way is committed and
        acknowledged before returning."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.settings.session_expiry
        properties.ReceiveMaximum = max(1, min(self.settings.receive_maximum, 65535))
        parts = urlsplit(self.settings.url)
        self.client.connect_async(
            parts.hostname or "127.0.0.1",
            parts.port or 1883,
            self.settings.keepalive,
            clean_start=False,
            properties=properties,
        )
        self.client.loop_start()
        try:
            while not self._stopping.is_set():
                batch = self._next_batch()
                if batch:
                    self._commit(batch)
        finally:
            self._closing.set()
            self.client.disconnect()
            self.client.loop_stop()
            self.metrics.connected.set(0)
            log.info("consumer stopped")

    def stop(self) -> None:
        """Ask ``run()`` to finish its batch and return (safe from signal handlers)."""
        self._stopping.set()

    def _next_batch(self) -> list[Received]:
        try:
            first = self.queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.settings.batch_wait
        while len(batch) < self.settings.batch_size:
            try:
                batch.append(self.queue.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self.queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _commit(self, batch: list[Received]) -> None:
        started = time.perf_counter()
        pairs, refused = _messages_of(batch)
        messages = [message for _item, message in pairs]
        result = self._write(messages) if messages else None
        if result is None and messages:
            return  # stopping while the database is down: leave them to the broker
        self._ack(batch)
        if result is not None:
            refused.extend(
                (item, outcome)
                for (item, _m), outcome in zip(pairs, result.outcomes, strict=True)
                if isinstance(outcome, Refusal)
            )
        self._count(len(batch), refused, result, time.perf_counter() - started)
        if self.on_commit is not None:
            self.on_commit(batch, result)

    def _write(self, messages: list[Message]) -> BatchResult | None:
        """Commit the batch, retrying with backoff while the database is unreachable (or
        every message fails: a fault of ours, not of the messages, so none is dropped)."""
        delay, failures = 0.1, 0
        while True:
            try:
                return self._transaction(messages)
            except DATABASE_ERRORS as error:
                self.metrics.commit_failures.inc()
                log.warning("commit failed (%s); retrying in %.1fs", _cause(error), delay)
            except Exception:
                log.exception(
                    "a batch of %d messages failed; writing them one by one", len(messages)
                )
                result, stored = self._one_by_one(messages)
                failures += 1
                if stored or (len(messages) == 1 and failures >= 3):
                    return result
                self.metrics.commit_failures.inc()
            if self._stopping.is_set():
                return None
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _transaction(self, messages: list[Message]) -> BatchResult:
        with self.database.session() as db:
            result = ingest(self.hub, db, self.registry, messages)
            db.commit()
        return result

    def _one_by_one(self, messages: list[Message]) -> tuple[BatchResult, int]:
        """Write each message alone; those that still fail are dropped as ``error``."""
        outcomes: list[Any] = []
        points = readings = dropped = 0
        for message in messages:
            try:
                result = self._transaction([message])
            except DATABASE_ERRORS:
                raise
            except Exception as error:
                log.exception("dropped a message of %s/%s", message.apikey, message.device_id)
                outcomes.append(Refusal("error", "payload", str(error)[:200]))
                continue
            outcomes.extend(result.outcomes)
            points += result.written.points
            readings += result.written.readings
            dropped += result.dropped_attributes
        stored = len(messages) - sum(
            isinstance(o, Refusal) and o.reason == "error" for o in outcomes
        )
        return BatchResult(outcomes, WriteResult(readings, points, 0, 0, 0), dropped), stored

    def _ack(self, batch: Sequence[Received]) -> None:
        generation = self._generation
        for item in batch:
            if item.qos > 0 and item.generation == generation:
                self.client.ack(item.mid, item.qos)

    def _count(
        self,
        size: int,
        refused: list[tuple[Received, Refusal]],
        result: BatchResult | None,
        seconds: float,
    ) -> None:
        metrics = self.metrics
        metrics.batches.inc()
        metrics.batch_seconds.observe(seconds)
        if result is not None:
            metrics.points.inc(result.written.points)
            metrics.readings.inc(result.written.readings)
            metrics.dropped_attributes.inc(result.dropped_attributes)
        for item, refusal in refused:
            metrics.dropped.labels(refusal.reason).inc()
            log.warning(
                "dropped a message on %s: %s (%s: %s)",
                item.topic,
                refusal.reason,
                refusal.field,
                refusal.detail,
            )
        metrics.stored.inc(size - len(refused))


def _cause(error: Exception) -> str:
    return type(getattr(error, "orig", None) or error).__name__


def ingest_database(url: str) -> Database:
    """The consumer's database: JSON columns (de)serialised with orjson, a small pool."""
    import orjson

    if url.startswith("sqlite:///") and ":memory:" not in url:
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}
    if not url.startswith("sqlite"):
        options["pool_size"] = 2
    return Database(make_engine(url, **options))


def _json_text(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()


def _messages_of(
    batch: Sequence[Received],
) -> tuple[list[tuple[Received, Message]], list[tuple[Received, Refusal]]]:
    pairs: list[tuple[Received, Message]] = []
    refused: list[tuple[Received, Refusal]] = []
    for item in batch:
        parsed = parse_topic(item.topic)
        if parsed is None:
            refused.append(
                (item, Refusal("bad_topic", "topic", f"not a measurement topic: {item.topic}"))
            )
            continue
        apikey, device_id, attribute = parsed
        pairs.append(
            (
                item,
                Message(apikey, device_id, item.payload, attribute=attribute, received_at=item.at),
            )
        )
    return pairs, refused
