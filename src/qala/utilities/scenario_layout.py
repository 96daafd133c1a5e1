"""Lays out a generated city: districts, buildings, households and the meters of each level."""

from __future__ import annotations

import numpy as np

from qala.utilities import profiles as pf
from qala.utilities.detect_types import Meter
from qala.utilities.scenario_city import (
    APARTMENT_RESOURCES,
    CENTRE,
    CODES,
    ERROR,
    RESOLUTION,
    Building,
    City,
    Layout,
)

RESIDENTS = (1, 2, 3, 4, 5)
RESIDENT_SHARES = (0.2, 0.3, 0.25, 0.17, 0.08)


def _buildings(rng: np.random.Generator, count: int, districts: int) -> list[Building]:
    out = []
    for n in range(count):
        district = n * districts // count
        apartments = int(rng.integers(12, 61))
        floors = 5 if apartments <= 40 else 9
        residents = int(rng.choice(RESIDENTS, apartments, p=RESIDENT_SHARES).sum())
        angle = 2 * np.pi * district / districts
        out.append(
            Building(
                id=f"B{n + 1:03d}",
                district=f"D{district + 1:02d}",
                apartments=apartments,
                floors=floors,
                residents=residents,
                has_gas=bool(rng.random() < 0.3),
                latitude=round(CENTRE[0] + 0.012 * np.sin(angle) + rng.normal(0, 0.003), 5),
                longitude=round(CENTRE[1] + 0.02 * np.cos(angle) + rng.normal(0, 0.005), 5),
            )
        )
    return out


def _meter(mid: str, resource: str, level: str, group: str, building: str | None,
           parent: str | None) -> Meter:  # fmt: skip
    premises = mid.rsplit("-", 1)[0] if level == "apartment" else None
    return Meter(
        premises=premises,
        id=mid,
        resource=resource,
        level=level,
        group=group,
        building_id=building,
        parent_id=parent,
        resolution=RESOLUTION.get((resource, level), 0.001),
    )


def _resources(building: Building) -> tuple[str, ...]:
    return tuple(r for r in APARTMENT_RESOURCES if r != "gas" or building.has_gas)


def build_city(seed: int, count: int, districts: int = 0) -> City:
    """Generate the buildings, households and meters of a city (deterministic from ``seed``)."""
    rng = np.random.default_rng([seed, 1])
    districts = districts or max(3, round(count / 8))
    houses = _buildings(rng, count, districts)
    names = tuple(f"D{d + 1:02d}" for d in range(districts))
    meters: list[Meter] = []
    apt_building: list[int] = []
    apt_of_meter: dict[int, int] = {}
    for b, house in enumerate(houses):
        for k in range(house.apartments):
            apt_building.append(b)
            for resource in _resources(house):
                apt_of_meter[len(meters)] = len(apt_building) - 1
                meters.append(_meter(f"{house.id}-A{k + 1:03d}-{CODES[resource]}", resource,
                                     "apartment", house.district, house.id,
                                     f"{house.id}-{CODES[resource]}"))  # fmt: skip
        for resource in (*_resources(house), "heat"):
            meters.append(_meter(f"{house.id}-{CODES[resource]}", resource, "building",
                                 house.district, house.id,
                                 f"{house.district}-{CODES[resource]}"))  # fmt: skip
    for name in names:
        for resource in pf.RESOURCES:
            meters.append(
                _meter(f"{name}-{CODES[resource]}", resource, "district", name, None, None)
            )
    used = {m.parent_id for m in meters}
    meters = [m for m in meters if m.level != "district" or m.id in used]
    ids = tuple(m.id for m in meters)
    apartments = len(apt_building)
    residents = rng.choice(RESIDENTS, apartments, p=RESIDENT_SHARES)
    return City(
        buildings=tuple(houses),
        districts=names,
        meters=tuple(meters),
        ids=ids,
        resolution=np.array([m.resolution for m in meters]),
        error=1.0 + rng.normal(0.0, [ERROR[m.level] for m in meters]),
        layouts={r: _layout(meters, r, apt_of_meter, houses, names) for r in pf.RESOURCES},
        apt_building=np.array(apt_building, dtype=np.int64),
        scale=(residents / 2.6) ** 0.8 * rng.lognormal(0.0, 0.25, apartments),
        habit={r: rng.lognormal(0.0, 0.2, apartments) for r in APARTMENT_RESOURCES},
        vacation=_vacations(rng, apartments),
        dishwasher=rng.random(apartments) < 0.08,
        heat_coefficient=np.array([8e-5 * h.apartments for h in houses])
        * rng.lognormal(0.0, 0.15, count),
        loss={
            "cold_water": rng.uniform(0.005, 0.03, count),
            "hot_water": rng.uniform(0.003, 0.015, count),
            "gas": rng.uniform(0.001, 0.003, count),
        },
        district_loss={
            "cold_water": rng.uniform(0.03, 0.08, districts),
            "hot_water": rng.uniform(0.03, 0.08, districts),
            "electricity": rng.uniform(0.03, 0.05, districts),
            "heat": rng.uniform(0.08, 0.12, districts),
            "gas": rng.uniform(0.003, 0.008, districts),
        },
        building_district=np.array([names.index(h.district) for h in houses], dtype=np.int64),
    )


def _vacations(rng: np.random.Generator, apartments: int) -> np.ndarray:
    """About one household in six goes away once for 3–10 days (days −10 … 60)."""
    away = np.full((apartments, 2), -1, dtype=np.int64)
    chosen = np.flatnonzero(rng.random(apartments) < 0.16)
    first = rng.integers(-10, 60, chosen.size)
    away[chosen, 0] = first
    away[chosen, 1] = first + rng.integers(3, 11, chosen.size)
    return away


def _layout(meters: list[Meter], resource: str, apt_of_meter: dict[int, int],
            houses: list[Building], names: tuple[str, ...]) -> Layout:  # fmt: skip
    rows = {m.id: n for n, m in enumerate(meters)}
    apt_rows = np.array(
        [n for n, m in enumerate(meters) if m.resource == resource and m.level == "apartment"],
        dtype=np.int64,
    )
    building_of = {h.id: b for b, h in enumerate(houses)}
    owners = np.array([building_of[meters[r].building_id or ""] for r in apt_rows], dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]) if owners.size else owners
    return Layout(
        apt_rows=apt_rows,
        apt_index=np.array([apt_of_meter[int(r)] for r in apt_rows], dtype=np.int64),
        apt_starts=starts.astype(np.int64),
        apt_buildings=owners[starts] if owners.size else owners,
        bld_rows=np.array(
            [rows.get(f"{h.id}-{CODES[resource]}", -1) for h in houses], dtype=np.int64
        ),
        dst_rows=np.array([rows.get(f"{d}-{CODES[resource]}", -1) for d in names], dtype=np.int64),
    )
