"""Benchmark: sustained QoS-1 MQTT ingest (Mosquitto → ``qala hub ingest`` consumer → hub
entities and temporal store) on PostgreSQL and SQLite, in data points/s (one data point =
one attribute value), with p50/p99 ingest-to-queryable latency: each message carries its
publish time (``TimeInstant``); the latency is measured when its batch is committed.

Several publisher processes drive 1,000+ devices at a fixed offered rate through a Mosquitto
of the benchmark's own (persistence on, queues not capped); each consumer runs in a process
of its own exactly as ``qala hub ingest`` runs it (several share the topics through an MQTT
shared subscription, as ``qala hub ingest --shared-group`` does).

    .venv/bin/python benchmarks/hub_mqtt_ingest.py [--db postgresql|sqlite|both]
        [--rate MSGS_PER_S] [--seconds N] [--devices N] [--publishers N] [--attrs N]
        [--consumers N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import emit, free_port, fresh_database, seed_city

APIKEY = "bench-air"
WARMUP = 3.0


def start_broker(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A Mosquitto of the benchmark's own: persistence on, per-client queues not capped."""
    import getpass
    import socket

    port = free_port()
    config = folder / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        f"persistence_location {folder}/\nuser {getpass.getuser()}\n"
        "max_queued_messages 0\nautosave_interval 0\nset_tcp_nodelay true\n"
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    process = subprocess.Popen([binary, "-c", str(config)], stderr=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, port
        time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


def provision(url: str, city_id: int, attrs: int) -> None:
    """One group of air-quality stations: ``a0``.. mapped to numbers with units."""
    from qala.core.db import Database
    from qala.hub.ingest import provision as service
    from qala.hub.ingest.registry import DeviceRegistry

    attributes = [
        {
            "object_id": f"a{k}",
            "name": f"pollutant{k}",
            "type": "Number",
            "metadata": {"unitCode": {"type": "Text", "value": "GQ"}},
        }
        for k in range(attrs)
    ]
    group = {"apikey": APIKEY, "entity_type": "AirQualityObserved", "attributes": attributes}
    database = Database.from_url(url)
    with database.session() as db:
        service.create_groups(db, city_id, "/", [group], DeviceRegistry().expand)
        db.commit()
    database.engine.dispose()


def publish(
    port: int,
    index: int,
    devices: Sequence[int],
    rate: float,
    seconds: float,
    attrs: int,
    counts: Any,
) -> None:
    """One publisher process: its devices in turn at ``rate`` messages/s, QoS 1."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"bench-pub-{index}",
        clean_session=False,
        protocol=mqtt.MQTTv311,
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    acked = [0]
    client.on_publish = lambda *_args: acked.__setitem__(0, acked[0] + 1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    started = time.monotonic()
    sent = 0
    while True:
        now = time.monotonic()
        if now - started >= seconds:
            break
        due = int((now - started) * rate)
        while sent < due:
            device = devices[sent % len(devices)]
            moment = dt.datetime.now(dt.UTC)
            values = {f"a{k}": round(10 + (sent + k) % 97 * 0.5, 1) for k in range(attrs)}
            stamp = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
            payload = json.dumps({**values, "TimeInstant": stamp})
            client.publish(f"/{APIKEY}/station-{device}/attrs", payload, qos=1)
            sent += 1
        time.sleep(0.002)
    deadline = time.monotonic() + 120
    while acked[0] < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    client.loop_stop()
    client.disconnect()
    counts[index] = (sent, acked[0])


class Meter:
    """Committed points over time and sampled publish-to-commit latencies, gathered from the
    consumer processes through a queue."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.timeline: list[tuple[float, int, int]] = []  # (time, messages, points)
        self.latencies: list[float] = []

    def follow(self, queue: Any) -> None:
        """Take the consumers' commit records until a None arrives."""
        while (record := queue.get()) is not None:
            moment, messages, points, samples = record
            with self.lock:
                self.timeline.append((moment, messages, points))
                self.latencies.extend(samples)

    def committed(self) -> int:
        with self.lock:
            return sum(m for _t, m, _p in self.timeline)


def commit_recorder(queue: Any) -> Any:
    """A consumer's ``on_commit``: sample latencies, send a record to the parent."""

    def on_commit(batch: Sequence[Any], result: Any) -> None:
        committed = time.time()
        points = result.written.points if result is not None else 0
        samples = []
        for item in batch[:: max(1, len(batch) // 50)]:
            stamp = json.loads(item.payload).get("TimeInstant")
            if stamp:
                published = dt.datetime.fromisoformat(stamp).timestamp()
                samples.append((committed - published) * 1000)
        queue.put((time.monotonic(), len(batch), points, samples))

    return on_commit


def consumer_process(
    url: str, port: int, args: argparse.Namespace, index: int, queue: Any, ready: Any, stop: Any
) -> None:
    """One ``qala hub ingest`` process: the consumer, its roll-up drainer, tuned GC."""
    from qala.core.runtime import tune_gc
    from qala.hub.ingest.mqtt import ConsumerSettings, IngestConsumer, ingest_database
    from qala.hub.runtime import default_hub
    from qala.hub.temporal.pending import RollupWorker

    settings = ConsumerSettings(
        url=f"mqtt://127.0.0.1:{port}",
        client_id=f"bench-ingest-{index}",
        shared_group="bench" if args.consumers > 1 else "",
        batch_size=args.batch_size,
        batch_wait=args.batch_wait,
        queue_size=max(10_000, 2 * args.batch_size),
        receive_maximum=max(20_000, 4 * args.batch_size),
    )
    database = ingest_database(url)
    consumer = IngestConsumer(
        database, settings, hub=default_hub(), on_commit=commit_recorder(queue)
    )
    rollups = RollupWorker(database)
    rollups.start()
    tune_gc()
    thread = threading.Thread(target=profiled(consumer.run, args.profile), daemon=True)
    thread.start()
    consumer.subscribed.wait(10)
    ready.set()
    stop.wait()
    consumer.stop()
    thread.join(30)
    rollups.stop()


def profiled(target: Any, enabled: bool) -> Any:
    """``target``, under cProfile when asked (the consumer's writer thread: where time goes)."""
    if not enabled:
        return target

    def run() -> None:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.runcall(target)
        stats = pstats.Stats(profile, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(r"qala", 40)

    return run


def start_publishers(port: int, args: argparse.Namespace) -> tuple[list[Any], Any]:
    """The publisher processes, started; and where they put (sent, acknowledged)."""
    counts = multiprocessing.Manager().dict()
    devices = list(range(args.devices))
    per_rate = args.rate / args.publishers
    publishers = [
        multiprocessing.Process(
            target=publish,
            args=(
                port,
                i,
                devices[i :: args.publishers],
                per_rate,
                args.seconds,
                args.attrs,
                counts,
            ),
        )
        for i in range(args.publishers)
    ]
    for process in publishers:
        process.start()
    return publishers, counts


def run(kind: str, args: argparse.Namespace) -> None:
    url = fresh_database(kind, "qala_bench_mqtt")
    city_id, _key = seed_city(url)
    provision(url, city_id, args.attrs)
    broker, port = start_broker(Path(tempfile.mkdtemp(prefix="qala-bench-mqtt-")))
    meter, queue, stop = Meter(), multiprocessing.Queue(), multiprocessing.Event()
    follower = threading.Thread(target=meter.follow, args=(queue,), daemon=True)
    follower.start()
    consumers = []
    for index in range(args.consumers):
        ready = multiprocessing.Event()
        process = multiprocessing.Process(
            target=consumer_process, args=(url, port, args, index, queue, ready, stop)
        )
        process.start()
        ready.wait(30)
        consumers.append(process)
    started = time.monotonic()
    publishers, counts = start_publishers(port, args)
    for process in publishers:
        process.join()
    sent = sum(c[0] for c in counts.values())
    acked = sum(c[1] for c in counts.values())
    deadline = time.monotonic() + 300
    while meter.committed() < acked and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    for process in consumers:
        process.join(60)
    queue.put(None)
    follower.join(10)
    broker.terminate()
    broker.wait()
    report(kind, args, meter, started, sent, acked)


def report(
    kind: str, args: argparse.Namespace, meter: Meter, started: float, sent: int, acked: int
) -> None:
    window = [
        (t, m, p) for t, m, p in meter.timeline if started + WARMUP <= t <= started + args.seconds
    ]
    seconds = (window[-1][0] - window[0][0]) if len(window) > 1 else 0.0
    points = sum(p for _t, _m, p in window[1:])
    messages = sum(m for _t, m, _p in window[1:])
    latencies = sorted(meter.latencies)
    total = sum(m for _t, m, _p in meter.timeline)
    drained = (meter.timeline[-1][0] - started) if meter.timeline else 0.0
    emit(
        benchmark="hub_mqtt_ingest",
        db=kind,
        devices=args.devices,
        publishers=args.publishers,
        attrs_per_message=args.attrs,
        offered_messages_per_s=args.rate,
        consumers=args.consumers,
        batch_size=args.batch_size,
        batch_wait_s=args.batch_wait,
        seconds=round(seconds, 1),
        points_per_s=round(points / seconds) if seconds else 0,
        messages_per_s=round(messages / seconds) if seconds else 0,
        latency_p50_ms=round(statistics.median(latencies)) if latencies else None,
        latency_p99_ms=round(latencies[int(len(latencies) * 0.99) - 1]) if latencies else None,
        published=sent,
        acknowledged_by_broker=acked,
        committed=total,
        drained_after_s=round(drained, 1),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="both", choices=("postgresql", "sqlite", "both"))
    parser.add_argument("--rate", type=float, default=1500, help="Offered messages/s in all.")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--publishers", type=int, default=3)
    parser.add_argument("--attrs", type=int, default=10, help="Values per message.")
    parser.add_argument("--batch-size", type=int, default=2000, help="Consumer batch size.")
    parser.add_argument("--batch-wait", type=float, default=0.05, help="Consumer batch wait.")
    parser.add_argument("--consumers", type=int, default=1, help="Consumer processes (shared).")
    parser.add_argument("--profile", action="store_true", help="cProfile the consumer.")
    args = parser.parse_args()
    for kind in ("postgresql", "sqlite") if args.db == "both" else (args.db,):
        run(kind, args)


if __name__ == "__main__":
    main()
