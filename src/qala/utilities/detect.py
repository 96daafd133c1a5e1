"""Detection over meter readings: leaks, bursts, outages, meter faults and abnormal consumption.

``Detector`` is fed cumulative register readings batch by batch, as they arrive, and keeps a
small state per meter (no history is rescanned); ``tick`` advances the clock when nothing
arrives, so silence is noticed. Its state saves to JSON. ``detect_window`` runs the same
detector over a whole window on demand. The checks themselves live in ``detect_meter``
(meter faults, stuck), ``detect_flow`` (leaks, bursts), ``detect_group`` (outages, silence)
and ``detect_abnormal`` (abnormal consumption); they are plain functions over arrays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from qala.utilities.detect_abnormal import close_day, peer_keys
from qala.utilities.detect_book import METER_KINDS, Book
from qala.utilities.detect_flow import close_half, end_night
from qala.utilities.detect_group import check_groups, check_silent
from qala.utilities.detect_hour import close_day_noise, close_hour
from qala.utilities.detect_meter import apply_round
from qala.utilities.detect_state import MeterTable, State
from qala.utilities.detect_types import (
    KINDS,
    LEVELS,
    Cleared,
    DetectorConfig,
    Event,
    Finding,
    Meter,
    Reading,
    ReadingArrays,
    to_datetime,
    to_seconds,
)
from qala.utilities.profiles import holidays

__all__ = [
    "KINDS",
    "LEVELS",
    "Cleared",
    "Detector",
    "DetectorConfig",
    "Event",
    "Finding",
    "Meter",
    "Reading",
    "ReadingArrays",
    "detect_window",
]

HALF = 1800


def in_window(hour: float, start: int, until: int) -> bool:
    """Whether a local hour lies in [start, until), a window that may wrap past midnight."""
    if start <= until:
        return start <= hour < until
    return hour >= start or hour < until


STATE_VERSION = 1


class Detector:
    """Incremental detection for a fixed list of meters."""

    def __init__(self, meters: Sequence[Meter], config: DetectorConfig | None = None) -> None:
        self.meters = tuple(meters)
        self.config = config or DetectorConfig()
        self.table = MeterTable.build(self.meters)
        self.state = State.empty(self.table, len(METER_KINDS))
        self.book = Book(self.table, self.state)
        self.position = {meter.id: n for n, meter in enumerate(self.meters)}
        self.peers = peer_keys(self.table)
        self.step_s = int(self.table.interval.min()) if self.meters else 300
        self.half = -1  # the open half-hour bin: readings with (t-1)//1800 == half
        self.now = -1  # newest data time seen

    # -- input -------------------------------------------------------------------------------
    def arrays(self, readings: Iterable[Reading]) -> ReadingArrays:
        """Readings as arrays; readings of unknown meters are skipped."""
        rows = [
            (self.position[r.meter_id], to_seconds(r.time), r.value)
            for r in readings
            if r.meter_id in self.position
        ]
        if not rows:
            empty = np.zeros(0, dtype=np.int64)
            return ReadingArrays(empty, empty.copy(), np.zeros(0))
        meter, time, value = zip(*rows, strict=True)
        return ReadingArrays(
            np.array(meter, dtype=np.int64),
            np.array(time, dtype=np.int64),
            np.array(value, dtype=np.float64),
        )

    def feed(self, readings: Iterable[Reading] | ReadingArrays) -> list[Event]:
        """Take new readings (any order, any meters) and return what changed."""
        batch = readings if isinstance(readings, ReadingArrays) else self.arrays(readings)
        if batch.time.size == 0:
            return self.book.drain()
        order = np.argsort(batch.time, kind="stable")
        meter, time, value = batch.meter[order], batch.time[order], batch.value[order]
        steps = (time - 1) // self.step_s
        bounds = np.flatnonzero(np.diff(steps)) + 1
        for chunk in np.split(np.arange(time.size), bounds):
            self._chunk(meter[chunk], time[chunk], value[chunk])
        return self.book.drain()

    def _chunk(self, meter: Any, time: Any, value: Any) -> None:
        latest = int(time.max())
        self._advance((latest - 1) // HALF)
        self.now = max(self.now, latest)
        order = np.lexsort((time, meter))
        meter, time, value = meter[order], time[order], value[order]
        first = np.r_[True, meter[1:] != meter[:-1]]
        starts = np.maximum.accumulate(np.where(first, np.arange(meter.size), 0))
        rank = np.arange(meter.size) - starts
        for r in range(int(rank.max()) + 1):
            pick = rank == r
            apply_round(self.table, self.state, self.book, self.config,
                        meter[pick], time[pick], value[pick])  # fmt: skip
        check_groups(self.table, self.state, self.book, self.config, latest)

    def tick(self, now: dt.datetime | int) -> list[Event]:
        """Advance the clock to ``now`` without new readings: close finished bins, notice
        silent meters and groups."""
        seconds = now if isinstance(now, int) else to_seconds(now)
        self._advance((seconds - 1 - self.config.latency_s) // HALF)
        self.now = max(self.now, seconds)
        check_groups(self.table, self.state, self.book, self.config, seconds)
        check_silent(self.table, self.state, self.book, self.config, seconds)
        return self.book.drain()

    # -- clock -------------------------------------------------------------------------------
    def _advance(self, target: int) -> None:
        """Close every half-hour bin before ``target`` (and hours, nights, days with them)."""
        if self.half < 0:
            self.half = target
            return
        while self.half < target:
            self._close(self.half)
            self.half += 1

    def _close(self, half: int) -> None:
        cfg = self.config
        end = (half + 1) * HALF
        local = (end + cfg.utc_offset_s) % 86_400
        night = in_window((local - HALF) % 86_400 / 3600, cfg.night_from_h, cfg.night_until_h)
        close_half(self.table, self.state, self.book, cfg, end, night)
        if end % 3600 == 0:
            hour = int((local - 3600) % 86_400 // 3600)
            day = np.array([(end - 1 + cfg.utc_offset_s) // 86_400], dtype=np.int64)
            rest = bool((day[0] + 3) % 7 >= 5 or holidays(day)[0])
            close_hour(self.table, self.state, self.book, cfg, end, hour, rest, night)
        if local == cfg.night_until_h * 3600:
            end_night(self.table, self.state, self.book, cfg)
        if local == 0:
            close_day(self.table, self.state, self.book, cfg, self.peers, end)
            close_day_noise(self.table, self.state)

    # -- state -------------------------------------------------------------------------------
    def open_problems(self) -> list[dict[str, Any]]:
        """Keys, kinds and start times of the problems open now."""
        return [
            {"key": key, "kind": info["kind"], "start": to_datetime(info["start"]).isoformat()}
            for key, info in self.book.active.items()
        ]

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume after a restart, JSON-serialisable."""
        return {
            "version": STATE_VERSION,
            "meters": list(self.table.ids),
            "half": self.half,
            "now": self.now,
            "last_hour": self.book.last_hour,
            "active": self.book.active,
            "arrays": self.state.to_json(),
        }

    @classmethod
    def restore(
        cls, meters: Sequence[Meter], saved: dict[str, Any], config: DetectorConfig | None = None
    ) -> Detector:
        """A detector resumed from ``state_dict()`` output, for the same meters."""
        detector = cls(meters, config)
        if saved.get("version") != STATE_VERSION or saved["meters"] != list(detector.table.ids):
            raise ValueError("saved detector state does not match these meters")
        detector.state = State.from_json(saved["arrays"], detector.table, len(METER_KINDS))
        detector.book = Book(detector.table, detector.state)
        detector.book.active = {key: dict(info) for key, info in saved["active"].items()}
        detector.book.last_hour = int(saved["last_hour"])
        detector.half = int(saved["half"])
        detector.now = int(saved["now"])
        return detector


def detect_window(
    meters: Sequence[Meter],
    readings: Iterable[Reading] | ReadingArrays,
    config: DetectorConfig | None = None,
    until: dt.datetime | None = None,
) -> list[Event]:
    """Run detection on demand over a whole window of readings, step by step as the live
    detector would, ticking the clock between steps (and up to ``until`` at the end)."""
    detector = Detector(meters, config)
    batch = readings if isinstance(readings, ReadingArrays) else detector.arrays(readings)
    events: list[Event] = []
    if batch.time.size == 0:
        return events
    order = np.argsort(batch.time, kind="stable")
    meter, time, value = batch.meter[order], batch.time[order], batch.value[order]
    step = detector.step_s
    end = to_seconds(until) if until else int(time.max())
    slots = (time - 1) // step
    bounds = np.searchsorted(slots, np.arange(int(slots[0]), end // step + 1), side="left")
    bounds = np.r_[bounds, time.size]
    for n, slot in enumerate(range(int(slots[0]), end // step + 1)):
        lo, hi = bounds[n], bounds[n + 1]
        if hi > lo:
            events += detector.feed(ReadingArrays(meter[lo:hi], time[lo:hi], value[lo:hi]))
        events += detector.tick((slot + 1) * step)
    return events


def findings(events: Iterable[Event]) -> list[Finding]:
    """Only the findings among ``events``."""
    return [event for event in events if isinstance(event, Finding)]


def cleared(events: Iterable[Event]) -> list[Cleared]:
    """Only the clearings among ``events``."""
    return [event for event in events if isinstance(event, Cleared)]
