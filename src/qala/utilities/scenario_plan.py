"""Which faults a scenario injects, on which meters and when (seeded, so repeatable).

Counts are per 1,000 meters over 60 days and scale with the city and the span; each kind
appears at least once when faults are on. A meter carries at most one fault, apartments
that go on holiday are not chosen for faults their absence would hide.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from qala.utilities.scenario_city import City
from qala.utilities.scenario_faults import Fault

DAY = 86_400
# (kind, level, resources, count per 1,000 meters and 60 days, size range, duration range h)
Span = tuple[float, float]
ALL = ("cold_water", "hot_water", "electricity", "gas")
PLAN: tuple[tuple[str, str, tuple[str, ...], float, Span, Span], ...] = (
    ("leak", "apartment", ("cold_water", "hot_water"), 14, (0.002, 0.03), (72, 360)),
    ("leak", "building", ("cold_water", "hot_water"), 5, (0.01, 0.06), (72, 360)),
    ("leak", "district", ("cold_water", "hot_water"), 2, (0.1, 0.6), (72, 360)),
    ("burst", "apartment", ("cold_water", "hot_water"), 2, (0.3, 1.0), (2, 12)),
    ("burst", "building", ("cold_water", "hot_water"), 2, (0.5, 3.0), (2, 24)),
    ("burst", "district", ("cold_water", "hot_water"), 1, (3.0, 10.0), (2, 24)),
    ("silent", "apartment", ALL, 4, (0, 0), (0, 0)),
    ("stuck", "apartment", ("cold_water", "hot_water"), 5, (0, 0), (72, 360)),
    ("stuck", "apartment", ("electricity",), 3, (0, 0), (72, 360)),
    ("stuck", "building", ("cold_water", "hot_water", "heat", "electricity"), 3, (0, 0), (72, 360)),
    ("stuck", "district", ("cold_water", "heat", "electricity"), 1, (0, 0), (72, 360)),
    ("negative", "apartment", ALL, 4, (0, 0), (1, 12)),
    ("negative", "building", ("cold_water", "electricity"), 1, (0, 0), (1, 12)),
    ("decreasing", "apartment", ALL, 4, (0.3, 1.0), (0, 0)),
    ("decreasing", "building", ("cold_water", "heat"), 1, (0.3, 1.0), (0, 0)),
    ("gap", "apartment", ALL, 6, (0, 0), (0.5, 12)),
    ("gap", "building", ("cold_water", "electricity", "heat"), 2, (0, 0), (0.5, 12)),
    ("spike", "apartment", ALL, 6, (0, 0), (0, 0)),
    ("spike", "building", ("cold_water", "electricity"), 2, (0, 0), (0, 0)),
    ("reverse_flow", "apartment", ("electricity",), 3, (0, 0), (24, 240)),
    ("reverse_flow", "apartment", ("cold_water", "hot_water"), 2, (0, 0), (24, 240)),
    ("abnormal", "apartment", ALL, 6, (2.0, 4.0), (72, 240)),
    ("abnormal", "building", ("heat",), 2, (1.5, 2.2), (72, 240)),
)  # fmt: skip
OUTAGES = 5  # per 1,000 meters and 60 days
OUTAGE_RESOURCES = ("cold_water", "hot_water", "heat", "electricity")
OPEN_ENDED = {"leak", "stuck", "silent"}  # half of these last past the scenario


def _moment(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


class _Planner:
    def __init__(self, city: City, config: Any, start_s: int) -> None:
        self.city = city
        self.config = config
        self.start_s = start_s
        self.end_s = start_s + config.days * DAY
        self.rng = np.random.default_rng([config.seed, 3])
        self.taken: set[str] = set()
        self.factor = config.fault_scale * len(city.meters) / 1000 * config.days / 60
        apt_of = {}
        for lay in city.layouts.values():
            for row, apt in zip(lay.apt_rows, lay.apt_index, strict=True):
                apt_of[city.ids[int(row)]] = int(apt)
        self.apartment_of = apt_of

    def count(self, per_thousand: float) -> int:
        if self.factor <= 0:
            return 0
        wanted: float = per_thousand * self.factor
        return max(1, round(wanted))

    def when(self, kind: str, hours: float) -> tuple[int, int | None]:
        step = self.config.interval_s
        warm = self.config.warmup_days + (3 if kind == "abnormal" else 0)
        # a fault needs time to show before the scenario ends (a stuck water meter a few days)
        room = {"stuck": 3 * DAY, "leak": DAY, "silent": DAY}.get(kind, 6 * 3600)
        latest = self.end_s - max(int(hours * 3600) if kind not in OPEN_ENDED else 0, room)
        first = self.start_s + warm * DAY
        start = int(self.rng.integers(first, max(first + step, latest)))
        start = self.start_s + (start - self.start_s) // step * step
        if hours <= 0:
            return start, start if kind in ("decreasing", "spike") else None
        if kind in OPEN_ENDED and self.rng.random() < 0.5:
            return start, None
        return start, min(self.end_s, start + int(hours * 3600) // step * step)

    def pick(self, level: str, resources: tuple[str, ...], kind: str) -> int | None:
        candidates = [
            n for n, m in enumerate(self.city.meters)
            if m.level == level and m.resource in resources and m.id not in self.taken
            and self._usable(m.id, kind)
        ]  # fmt: skip
        if not candidates:
            return None
        row = int(self.rng.choice(candidates))
        self.taken.add(self.city.ids[row])
        return row

    def _usable(self, meter_id: str, kind: str) -> bool:
        """Apartments that go away are not made stuck or reversed (nothing would show)."""
        apartment = self.apartment_of.get(meter_id)
        if apartment is None or kind not in ("stuck", "reverse_flow", "abnormal", "burst"):
            return True
        return bool(self.city.vacation[apartment, 0] < 0)

    def meter_faults(self) -> list[Fault]:
        out = []
        for kind, level, resources, per_thousand, size, hours in PLAN:
            for _ in range(self.count(per_thousand)):
                row = self.pick(level, resources, kind)
                if row is None:
                    break
                meter = self.city.meters[row]
                duration = float(self.rng.uniform(*hours)) if hours[1] > 0 else 0.0
                start, end = self.when(kind, duration)
                value = (
                    float(np.exp(self.rng.uniform(np.log(size[0]), np.log(size[1]))))
                    if size[1]
                    else 0.0
                )
                if kind == "decreasing" and self.rng.random() < 0.4:
                    value = 1.0  # a reset to zero
                finish = _moment(end) if end else None
                out.append(Fault(kind, (meter.id,), meter.group, meter.resource, meter.level,
                                 _moment(start), finish, round(value, 4)))  # fmt: skip
        return out

    def outages(self) -> list[Fault]:
        out: list[Fault] = []
        busy: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for _ in range(self.count(OUTAGES)):
            resource = str(self.rng.choice(OUTAGE_RESOURCES))
            group = str(self.rng.choice(self.city.districts))
            start, end = self.when("outage", float(self.rng.uniform(1 / 3, 6)))
            end = end or start + 3600
            shift = int(self.rng.integers(0, self.config.interval_s))  # not on the reading grid
            start, end = start + shift, end + shift
            spans = busy.setdefault((group, resource), [])
            if any(start < e + DAY and s < end + DAY for s, e in spans):
                continue
            spans.append((start, end))
            members = tuple(
                m.id for m in self.city.meters if m.group == group and m.resource == resource
            )
            out.append(Fault("outage", members, group, resource, "district", _moment(start),
                             _moment(end), 0.0))  # fmt: skip
        return out


def plan_faults(city: City, config: Any, start_s: int) -> list[Fault]:
    """The faults of a scenario, in start order."""
    planner = _Planner(city, config, start_s)
    faults = planner.meter_faults() + planner.outages()
    return sorted(faults, key=lambda f: (f.start, f.kind, f.meter_ids[0] if f.meter_ids else ""))
