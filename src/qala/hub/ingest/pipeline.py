"""The path every measurement takes, over HTTP or MQTT: raw messages → device profiles →
readings (or a refusal saying why) → one batch write into the hub. No HTTP, no commit."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from qala.hub.ingest.convert import MeasureError
from qala.hub.ingest.measure import (
    TIME_KEYS,
    DeviceProfile,
    Reading,
    arrival_time,
    measures_of,
    observed_time,
    parse_measures,
    single_measures,
    to_reading,
)
from qala.hub.ingest.registry import DeviceRegistry, Rejection
from qala.hub.ingest.writer import WriteResult, write_readings
from qala.hub.service import Hub

BAD_PAYLOAD = "bad_payload"
BAD_VALUE = "bad_value"
UNKNOWN_ATTRIBUTES = "unknown_attributes"
(TIME_KEY,) = TIME_KEYS


@dataclass(frozen=True)
class Message:
    """One measurement message: who sent it and its raw payload (or already decoded body)."""

    apikey: str
    device_id: str
    payload: bytes = b""
    attribute: str | None = None  # single-attribute topics and routes
    timestamp: str | None = None  # the ``t`` parameter (HTTP); else TimeInstant or arrival
    body: Any = None  # a decoded JSON body, when the caller has parsed it already
    received_at: float | None = None  # epoch seconds it arrived (default: when mapped)


@dataclass(frozen=True)
class Refusal:
    """Why a message was dropped: a reason (metric label), the field and the detail."""

    reason: str
    field: str
    detail: str


Outcome = list[Reading] | Refusal


@dataclass(frozen=True)
class BatchResult:
    """Per message: its readings or its refusal; and what the write did."""

    outcomes: list[Outcome]
    written: WriteResult
    dropped_attributes: int


def ingest(
    hub: Hub, db: Session, registry: DeviceRegistry, messages: Sequence[Message]
) -> BatchResult:
    """Map and write a batch of messages in the caller's transaction."""
    outcomes = prepare(db, registry, messages)
    readings = [r for outcome in outcomes if isinstance(outcome, list) for r in outcome]
    written = write_readings(hub, db, readings)
    dropped = sum(len(r.dropped) for r in readings)
    return BatchResult(outcomes, written, dropped)


def prepare(db: Session, registry: DeviceRegistry, messages: Sequence[Message]) -> list[Outcome]:
    """The readings of every message, or why it cannot be taken."""
    arrival = int(time.time() * 1000)
    decoded: list[list[dict[str, Any]] | Refusal] = [_decode(m) for m in messages]
    keys = {
        (m.apikey, m.device_id)
        for m, d in zip(messages, decoded, strict=True)
        if not isinstance(d, Refusal)
    }
    profiles = registry.resolve(db, keys) if keys else {}
    outcomes: list[Outcome] = []
    for message, measures in zip(messages, decoded, strict=True):
        if isinstance(measures, Refusal):
            outcomes.append(measures)
            continue
        profile = profiles[message.apikey, message.device_id]
        if isinstance(profile, Rejection):
            outcomes.append(
                Refusal(
                    profile.reason,
                    "k" if profile.reason == "unknown_apikey" else "i",
                    profile.detail,
                )
            )
            continue
        outcomes.append(_readings(profile, message, measures, arrival))
    return outcomes


def _decode(message: Message) -> list[dict[str, Any]] | Refusal:
    try:
        if message.attribute is not None:
            return single_measures(message.attribute, message.payload)
        if message.body is not None:
            return measures_of(message.body)
        return parse_measures(message.payload)
    except MeasureError as error:
        return Refusal(BAD_PAYLOAD, error.field, error.reason)


def _readings(
    profile: DeviceProfile, message: Message, measures: list[dict[str, Any]], arrival: int
) -> Outcome:
    arrived = int(message.received_at * 1000) if message.received_at else arrival
    try:
        given = observed_time(message.timestamp, "t") if message.timestamp else None
        readings = [
            to_reading(
                profile,
                measure,
                given or ("" if TIME_KEY in measure else arrival_time(profile, arrived)),
            )
            for measure in measures
        ]
    except MeasureError as error:
        return Refusal(BAD_VALUE, error.field, error.reason)
    kept = [reading for reading in readings if reading.attrs]
    if not kept and any(reading.dropped for reading in readings):
        names = sorted({name for reading in readings for name in reading.dropped})
        return Refusal(
            UNKNOWN_ATTRIBUTES,
            names[0],
            f"the group takes only provisioned attributes (explicitAttrs); "
            f"not provisioned: {', '.join(names)}",
        )
    return kept
