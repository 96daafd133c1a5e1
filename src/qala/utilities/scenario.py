"""A labelled scenario: a generated city of buildings and districts with meters in a hierarchy
(district meter → building input meter → apartment meters), their readings and injected
faults with ground truth. Deterministic from a seed; readings come window by window
(``Scenario.readings(start, end)``) so a simulator can publish them as time goes on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qala.utilities import profiles as pf
from qala.utilities.detect_types import Floats, Ints, Meter, Reading, ReadingArrays, to_seconds
from qala.utilities.scenario_city import Building, City
from qala.utilities.scenario_faults import INSTANT, Bender, Fault
from qala.utilities.scenario_layout import build_city
from qala.utilities.scenario_plan import plan_faults

__all__ = ["Building", "Fault", "ReadingFrame", "Scenario", "ScenarioConfig", "build_scenario"]

DAY = 86_400


@dataclass(frozen=True)
class ScenarioConfig:
    """Size, time span, seed and fault density of a scenario."""

    seed: int = 1
    buildings: int = 8
    districts: int = 0  # 0: about one per eight buildings, at least three
    days: int = 60
    # Local midnight (UTC+5) of 10 February 2025: heating on, Nauryz and 8 March inside.
    start: dt.datetime = dt.datetime(2025, 2, 9, 19, tzinfo=dt.UTC)
    interval_s: int = 300
    warmup_days: int = 14  # no fault starts before this day, so baselines can form
    fault_scale: float = 1.0  # 0 for a city without faults


@dataclass(frozen=True)
class ReadingFrame:
    """Readings of a window: ``values[m, k]`` is meter ``m``'s index at ``times[k]`` (NaN when
    the meter sent nothing)."""

    meter_ids: tuple[str, ...]
    times: Ints
    values: Floats

    def batches(self) -> Iterator[ReadingArrays]:
        """One batch per instant, as meters report it."""
        for k, time in enumerate(self.times):
            column = self.values[:, k]
            rows = np.flatnonzero(np.isfinite(column))
            yield ReadingArrays(rows, np.full(rows.size, time, dtype=np.int64), column[rows])

    def records(self) -> Iterator[Reading]:
        """Readings one by one (for publishing)."""
        for batch in self.batches():
            moment = (
                dt.datetime.fromtimestamp(int(batch.time[0]), tz=dt.UTC)
                if batch.time.size
                else None
            )
            for row, value in zip(batch.meter, batch.value, strict=True):
                assert moment is not None
                yield Reading(self.meter_ids[int(row)], moment, float(value))


@dataclass
class _Cursor:
    """Where sequential generation stands: the next day and the carried register values."""

    day: int
    carry: Floats
    bender: Bender
    cache: dict[int, tuple[Ints, Floats]] = field(default_factory=dict)


class Scenario:
    """A generated city with its meters, faults and readings."""

    def __init__(self, config: ScenarioConfig) -> None:
        self.config = config
        self.city: City = build_city(config.seed, config.buildings, config.districts)
        self.meters: tuple[Meter, ...] = self.city.meters
        self.start_s = to_seconds(config.start)
        self.end_s = self.start_s + config.days * DAY
        self.faults: tuple[Fault, ...] = tuple(plan_faults(self.city, config, self.start_s))
        self._rows = {meter.id: n for n, meter in enumerate(self.meters)}
        self._cursor = self._fresh()

    @property
    def buildings(self) -> tuple[Building, ...]:
        """The buildings of the city."""
        return self.city.buildings

    @property
    def meter_days(self) -> float:
        """Meters × days of the scenario."""
        return len(self.meters) * self.config.days

    def _fresh(self) -> _Cursor:
        rng = np.random.default_rng([self.config.seed, 11])
        return _Cursor(0, self.city.initial_index(rng), Bender.empty(len(self.meters)))

    def readings(self, start: dt.datetime, end: dt.datetime) -> ReadingFrame:
        """Readings with ``start <= time < end`` (within the scenario's span)."""
        lo, hi = max(to_seconds(start), self.start_s), min(to_seconds(end), self.end_s)
        times: list[Ints] = []
        values: list[Floats] = []
        if hi > lo:
            for day in range((lo - self.start_s) // DAY, (hi - 1 - self.start_s) // DAY + 1):
                day_times, day_values = self._day(day)
                keep = (day_times >= lo) & (day_times < hi)
                times.append(day_times[keep])
                values.append(day_values[:, keep])
        if not times:
            return ReadingFrame(
                self.city.ids, np.zeros(0, dtype=np.int64), np.zeros((len(self.meters), 0))
            )
        return ReadingFrame(self.city.ids, np.concatenate(times), np.concatenate(values, axis=1))

    def _day(self, day: int) -> tuple[Ints, Floats]:
        cursor = self._cursor
        if day in cursor.cache:
            return cursor.cache[day]
        if day < cursor.day:
            self._cursor = cursor = self._fresh()
        while cursor.day <= day:
            result = self._generate(cursor)
            cursor.cache = {
                cursor.day: result,
                **{k: v for k, v in cursor.cache.items() if k >= cursor.day - 1},
            }
            cursor.day += 1
        return cursor.cache[day]

    def _generate(self, cursor: _Cursor) -> tuple[Ints, Floats]:
        cfg = self.config
        step = cfg.interval_s
        times = self.start_s + cursor.day * DAY + np.arange(DAY // step, dtype=np.int64) * step
        cal = pf.calendar(times - step // 2, cfg.seed)
        flows = self.city.true_flows(cfg.seed, cursor.day, cal, step, self._physical(times))
        measured = flows * self.city.error[:, None]
        before = cursor.carry.copy()
        true = cursor.carry[:, None] + np.cumsum(measured, axis=1)
        cursor.carry = true[:, -1].copy()
        active = self._reporting(times)
        reported, missing = cursor.bender.bend(true, times, active, before)
        missing |= self.city.powerless(self._outages(times), times)
        resolution = self.city.resolution[:, None]
        values = np.floor(reported / resolution + 1e-9) * resolution
        values[missing] = np.nan
        return times, values

    def _physical(self, times: Ints) -> list[tuple[Fault, Any]]:
        """Physical faults active during the day, with a per-step activity mask."""
        out = []
        for fault in self.faults:
            if fault.kind in ("leak", "burst", "abnormal", "outage"):
                start, end = fault.window(self.end_s + DAY)
                if fault.kind == "outage":  # a step is cut only when all of it is inside
                    start += self.config.interval_s
                inside = (times > start) & (times <= end)
                if inside.any():
                    out.append((fault, inside))
        return out

    def _outages(self, times: Ints) -> list[tuple[Fault, Any]]:
        return [(f, mask) for f, mask in self._physical(times) if f.kind == "outage"]

    def _reporting(self, times: Ints) -> list[tuple[int, int, Fault, int, int]]:
        """Reporting faults that matter for the day (active, or ending within a day before)."""
        out = []
        for number, fault in enumerate(self.faults):
            if fault.kind in ("leak", "burst", "abnormal", "outage"):
                continue
            start, end = fault.window(self.end_s + DAY)
            if fault.kind in INSTANT:
                end = start + 1
            if start <= times[-1] and end + DAY > times[0]:
                out.append((number, self._rows[fault.meter_ids[0]], fault, start, end))
        return out

    def truth(self) -> list[dict[str, Any]]:
        """The ground truth as JSON-ready rows."""
        return [fault.to_dict() for fault in self.faults]


def build_scenario(config: ScenarioConfig | None = None, **overrides: Any) -> Scenario:
    """A scenario from a config (or the defaults with some fields replaced)."""
    base = config or ScenarioConfig()
    if overrides:
        base = ScenarioConfig(**{**base.__dict__, **overrides})
    return Scenario(base)
