"""The generated city of a scenario: buildings, apartments and meters in their hierarchy, and
the true consumption of every meter for a day (apartments → building input → district)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qala.utilities import profiles as pf
from qala.utilities.detect_types import Bools, Floats, Ints, Meter
from qala.utilities.scenario_faults import Fault

CODES = {"cold_water": "CW", "hot_water": "HW", "heat": "HT", "electricity": "EL", "gas": "GS"}
APARTMENT_RESOURCES = ("cold_water", "hot_water", "electricity", "gas")
RESOLUTION = {
    ("electricity", "apartment"): 0.01,
    ("electricity", "building"): 0.01,
    ("electricity", "district"): 0.1,
    ("heat", "building"): 0.0001,
    ("heat", "district"): 0.001,
}
ERROR = {"apartment": 0.005, "building": 0.003, "district": 0.002}
START_INDEX = {"cold_water": 400.0, "hot_water": 250.0, "heat": 40.0, "electricity": 15_000.0,
               "gas": 900.0}  # fmt: skip
LEVEL_SIZE = {"apartment": 1.0, "building": 60.0, "district": 2_000.0}
DAILY_PER_SCALE = {"cold_water": 0.25, "hot_water": 0.16, "gas": 0.5, "electricity": 7.0}
CENTRE = (52.35, 71.89)


@dataclass(frozen=True)
class Building:
    """A residential building (жилой дом / тұрғын үй)."""

    id: str
    district: str
    apartments: int
    floors: int
    residents: int
    has_gas: bool
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Layout:
    """Rows of one resource's meters: apartments (grouped by building), buildings, districts."""

    apt_rows: Ints
    apt_index: Ints  # apartment number of each apartment meter
    apt_starts: Ints  # first position of each building's block in apt_rows
    apt_buildings: Ints  # building of each block
    bld_rows: Ints  # per building, -1 when the building has no such meter
    dst_rows: Ints  # per district


@dataclass
class City:
    """Everything generated about the city except the faults."""

    buildings: tuple[Building, ...]
    districts: tuple[str, ...]
    meters: tuple[Meter, ...]
    ids: tuple[str, ...]
    resolution: Floats
    error: Floats
    layouts: dict[str, Layout]
    apt_building: Ints
    scale: Floats  # household size factor per apartment
    habit: dict[str, Floats]
    vacation: Ints  # per apartment: first and last+1 scenario day away (-1: none)
    dishwasher: Bools
    heat_coefficient: Floats  # Gcal/h per kelvin per building
    loss: dict[str, Floats]  # per building, share of mean use lost between the meters
    district_loss: dict[str, Floats]
    building_district: Ints

    def initial_index(self, rng: np.random.Generator) -> Floats:
        """Register values at the start of the scenario."""
        base = np.array([START_INDEX[m.resource] * LEVEL_SIZE[m.level] for m in self.meters])
        return np.asarray(base * rng.uniform(0.2, 2.0, base.size), dtype=np.float64)

    def expected_daily(self, resource: str) -> Floats:
        """Mean daily use per building of ``resource`` (what loss shares refer to)."""
        per_apartment = DAILY_PER_SCALE.get(resource, 0.0) * self.scale
        total = np.bincount(self.apt_building, per_apartment, minlength=len(self.buildings))
        return np.asarray(total, dtype=np.float64)

    def powerless(self, outages: list[tuple[Fault, Any]], times: Ints) -> Bools:
        """Readings lost because an electricity outage took the meters' power."""
        missing = np.zeros((len(self.meters), times.size), dtype=bool)
        for fault, mask in outages:
            if fault.resource != "electricity":
                continue
            rows = np.array(
                [
                    n
                    for n, m in enumerate(self.meters)
                    if m.resource == "electricity"
                    and m.group == fault.group
                    and m.level != "district"
                ],
                dtype=np.int64,
            )
            missing[np.ix_(rows, np.flatnonzero(mask))] = True
        return missing

    def true_flows(
        self, seed: int, day: int, cal: pf.Calendar, step: int, physical: list[tuple[Fault, Any]]
    ) -> Floats:
        """What really flowed through every meter in each step of a day."""
        flows = np.zeros((len(self.meters), cal.times.size))
        rows = {m.id: n for n, m in enumerate(self.meters)}
        for number, resource in enumerate(pf.RESOURCES):
            rng = np.random.default_rng([seed, day, number])
            faults = [(f, mask) for f, mask in physical if f.resource == resource]
            self._resource(flows, resource, rng, day, cal, step, faults, rows)
        return flows

    def _resource(
        self, flows: Floats, resource: str, rng: np.random.Generator, day: int,
        cal: pf.Calendar, step: int, faults: list[tuple[Fault, Any]], rows: dict[str, int],
    ) -> None:  # fmt: skip
        lay = self.layouts[resource]
        apt = self._apartments(resource, rng, day, cal, step, lay)
        sizes = np.array([b.apartments for b in self.buildings], dtype=np.float64)
        own = pf.common_use(rng, cal, resource, sizes, step)
        if resource == "heat":
            own += pf.heat_use(rng, cal, self.heat_coefficient, step)
        if resource in self.loss:
            rate = self.loss[resource] * self.expected_daily(resource) / 24 * step / 3600
            own += rate[:, None] * rng.lognormal(0.0, 0.1, (rate.size, 1))
        dst_own = np.zeros((len(self.districts), cal.times.size))
        supply = np.ones((len(self.districts), cal.times.size))
        where = {int(r): ("apartment", k) for k, r in enumerate(lay.apt_rows)}
        where.update({int(r): ("building", b) for b, r in enumerate(lay.bld_rows) if r >= 0})
        where.update({int(r): ("district", d) for d, r in enumerate(lay.dst_rows) if r >= 0})
        for fault, mask in faults:
            if fault.kind == "outage":
                supply[self.districts.index(fault.group or ""), mask] = 0.0
                continue
            level, k = where[rows[fault.meter_ids[0]]]
            target = {"apartment": apt, "building": own, "district": dst_own}[level]
            if fault.kind == "abnormal":
                target[k, mask] *= fault.size
            else:
                target[k, mask] += fault.size * step / 3600
        apt_district = self.building_district[lay.apt_buildings]
        blocks = np.repeat(
            np.arange(lay.apt_starts.size), np.diff(np.r_[lay.apt_starts, lay.apt_rows.size])
        )
        apt *= supply[apt_district[blocks]] if apt.size else 1.0
        own *= supply[self.building_district]
        total = own.copy()
        if apt.size:
            total[lay.apt_buildings] += np.add.reduceat(apt, lay.apt_starts, axis=0)
            flows[lay.apt_rows] = apt
        metered = lay.bld_rows >= 0
        flows[lay.bld_rows[metered]] = total[metered]
        district_total = np.zeros_like(dst_own)
        np.add.at(district_total, self.building_district, total)
        share = self.district_loss.get(resource, np.zeros(len(self.districts)))
        mean = np.bincount(self.building_district, self.expected_daily(resource) / 24 * step / 3600,
                           minlength=len(self.districts))  # fmt: skip
        losses = share[:, None] * (0.5 * district_total + 0.5 * mean[:, None])
        head = lay.dst_rows >= 0
        flows[lay.dst_rows[head]] = ((district_total + dst_own + losses) * supply)[head]

    def _apartments(
        self, resource: str, rng: np.random.Generator, day: int, cal: pf.Calendar, step: int,
        lay: Layout,
    ) -> Floats:  # fmt: skip
        index = lay.apt_index
        if index.size == 0:
            return np.zeros((0, cal.times.size))
        scale = self.scale[index] * self.habit[resource][index]
        if resource in pf.WATER:
            use = pf.water_use(rng, cal, scale, step, hot=resource == "hot_water")
            if resource == "cold_water":
                use += pf.night_dishwasher(rng, cal, self.dishwasher[index], step)
        elif resource == "electricity":
            use = pf.electricity_use(rng, cal, scale, step)
        else:
            use = pf.gas_use(rng, cal, scale, step)
        away = (self.vacation[index, 0] <= day) & (day < self.vacation[index, 1])
        use[away] *= 0.3 if resource == "electricity" else 0.0
        return use
