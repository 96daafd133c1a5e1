"""Prometheus metrics of the MQTT consumer, in a registry the consumer owns (``qala hub
ingest --metrics-port`` serves it)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class IngestMetrics:
    """Counters of what the consumer received, stored and dropped (and why)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter("qala_iot_messages_received", "MQTT messages received", registry=r)
        self.stored = Counter(
            "qala_iot_messages_stored", "Messages committed to the hub", registry=r
        )
        self.dropped = Counter(
            "qala_iot_messages_dropped", "Malformed messages dropped", ["reason"], registry=r
        )
        self.readings = Counter("qala_iot_readings", "Measures written", registry=r)
        self.points = Counter("qala_iot_points", "Attribute values written", registry=r)
        self.dropped_attributes = Counter(
            "qala_iot_attributes_dropped", "Measured keys refused by explicitAttrs", registry=r
        )
        self.batches = Counter("qala_iot_batches", "Batches committed", registry=r)
        self.batch_seconds = Histogram(
            "qala_iot_batch_seconds",
            "Time to map, write and commit one batch",
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.commit_failures = Counter(
            "qala_iot_commit_failures", "Batch commits that failed and were retried", registry=r
        )
        self.reconnects = Counter(
            "qala_iot_reconnects", "Connections to the broker lost", registry=r
        )
        self.connected = Gauge("qala_iot_connected", "1 while connected to the broker", registry=r)
        self.queue_size = Gauge(
            "qala_iot_queue_messages", "Messages waiting to be written", registry=r
        )

    def dropped_count(self, reason: str) -> float:
        """How many messages were dropped for ``reason`` (tests, benchmarks)."""
        value = self.registry.get_sample_value(
            "qala_iot_messages_dropped_total", {"reason": reason}
        )
        return float(value or 0)
