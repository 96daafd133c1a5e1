"""The detector's memory: fixed facts about the meters (hierarchy, groups) and the small
per-meter state that every new reading updates, savable as JSON so a restart loses nothing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from qala.utilities.detect_types import LEVELS, Bools, Floats, Ints, Meter

WATER = ("cold_water", "hot_water")

NIGHTS = 14  # nightly minima kept for the baseline
DAYS = 28  # daily totals and residuals kept for the abnormal-consumption baseline
NIGHT_RING = 6  # last night-series values (half-hours or hours) for the rolling minimum


@dataclass(frozen=True)
class MeterTable:
    """Static per-meter arrays derived once from the meter list."""

    ids: tuple[str, ...]
    level: Ints  # 0 apartment, 1 building, 2 district
    water: Bools
    parent: Ints  # position of the parent meter, -1 when none
    children: Ints  # number of children
    group: Ints  # position of (group, resource) in ``groups``, -1 when no group
    premises: Ints  # position of the meter's premises, -1 when alone
    groups: tuple[tuple[str, str], ...]
    interval: Ints
    resolution: Floats
    max_rate: Floats
    resources: tuple[str, ...]

    @classmethod
    def build(cls, meters: Sequence[Meter]) -> MeterTable:
        """Index the meters; unknown parents are ignored (the meter is treated as a root)."""
        position = {meter.id: n for n, meter in enumerate(meters)}
        if len(position) != len(meters):
            raise ValueError("meter ids must be unique")
        group_keys: dict[tuple[str, str], int] = {}
        group = np.full(len(meters), -1, dtype=np.int64)
        for n, meter in enumerate(meters):
            if meter.group is not None:
                group[n] = group_keys.setdefault((meter.group, meter.resource), len(group_keys))
        parent = np.array(
            [position.get(m.parent_id, -1) if m.parent_id else -1 for m in meters], dtype=np.int64
        )
        children = np.bincount(parent[parent >= 0], minlength=len(meters)).astype(np.int64)
        # water meters of one apartment (cold and hot) are used together: each vouches that
        # the household is at home when the other stops
        names: dict[str, int] = {}
        wet = [m.premises if m.resource in WATER else None for m in meters]
        for name in wet:
            if name:
                names[name] = names.get(name, 0) + 1
        shared = {name: n for n, name in enumerate(k for k, v in names.items() if v > 1)}
        premises = np.array([shared.get(name or "", -1) for name in wet], dtype=np.int64)
        return cls(
            ids=tuple(m.id for m in meters),
            level=np.array([LEVELS.index(m.level) for m in meters], dtype=np.int64),
            water=np.array([m.resource in ("cold_water", "hot_water") for m in meters]),
            parent=parent,
            children=children,
            group=group,
            premises=premises,
            groups=tuple(group_keys),
            interval=np.array([m.interval_s for m in meters], dtype=np.int64),
            resolution=np.array([m.resolution for m in meters], dtype=np.float64),
            max_rate=np.array([m.physical_max() for m in meters], dtype=np.float64),
            resources=tuple(m.resource for m in meters),
        )

    @property
    def size(self) -> int:
        """Number of meters."""
        return len(self.ids)


def _f(n: int, value: float = np.nan, *shape: int) -> Floats:
    return np.full((n, *shape), value, dtype=np.float64)


def _i(n: int, value: int = -1) -> Ints:
    return np.full(n, value, dtype=np.int64)


@dataclass
class State:
    """Mutable per-meter (and per-group) arrays; every field is a numpy array."""

    last_t: Ints  # time of the last accepted reading
    last_v: Floats  # its index
    last_seen: Ints  # time of the last reading of any kind
    last_dv: Floats  # consumption of the last accepted step
    last_dt: Ints
    zero_rate: Floats  # how often a step shows no flow, by local hour (EWMA)
    last_change: Ints  # last time the index moved
    pend_v: Floats  # an implausible reading waiting for confirmation
    pend_n: Ints
    neg_steps: Ints  # backward steps lately (reverse flow)
    neg_sum: Floats
    neg_last: Ints
    acc_half: Floats  # consumption in the open half-hour and hour
    acc_hour: Floats
    bad_half: Bools  # the open bin holds a gap, so it cannot be judged
    bad_hour: Bools
    n_half: Ints
    n_hour: Ints
    hours: Floats  # ring of the last 24 hourly consumptions (NaN unknown)
    nz_hours: Ints  # consecutive half-hours with flow
    night_ring: Floats  # last night-series values
    night_min: Floats  # lowest rolling minimum of the current night
    night_hist: Floats  # ring of nightly minima
    night_n: Ints
    night_base: Floats  # baseline of the nightly minima and its robust spread (k·MAD)
    night_spread: Floats
    zero_bins: Ints  # consecutive half-hours without flow
    prof: Floats  # hourly profile by local hour (EWMA)
    prof_n: Ints
    scale: Floats  # typical absolute deviation from the profile
    uprof: Floats  # profile of the unaccounted flow (parents), by rest day × local hour
    uscale: Floats
    day_dev: Floats  # parents: today's summed unaccounted deviation
    dscale: Floats  # parents: typical size of a day's summed deviation
    burst_run: Ints
    calm_run: Ints
    cum_dev: Floats  # parents: cumulative unaccounted deviation, all hours and night hours
    cum_dev_night: Floats
    cum_exp: Floats  # expected own consumption, all hours and night hours
    cum_exp_night: Floats
    cum_hours: Floats
    cum_night_hours: Floats
    cum_child: Floats  # parents: children's consumption
    cum_used_n: Floats  # own use and expected use in units of the meter's mean hour
    cum_exp_n: Floats
    prem_used: Floats  # the same summed over the meter's premises
    prem_exp: Floats
    snap: Floats  # counters when the index last moved (see detect_meter._snapshot)
    day_acc: Floats
    day_hours: Ints
    day_hist: Floats
    res_hist: Floats
    day_n: Ints
    flags: Ints  # bit set of active per-meter problems (see detect_book.BITS)
    normal_since: Floats  # per (meter, kind): since when the signal is normal again (NaN: not)
    group_flag: Bools  # outage active per group
    group_since: Ints  # outage start per group
    group_normal: Ints  # since when the group looks normal again (-1: not)
    group_last_end: Ints  # end of the group's last outage
    group_evidence: Floats  # log10 chance of the zeros seen so far in a row, if all were normal
    group_step: Ints  # the reading step last added to the evidence

    @classmethod
    def empty(cls, table: MeterTable, kinds: int) -> State:
        """Fresh state for ``table``."""
        n, g = table.size, len(table.groups)
        return cls(
            last_t=_i(n),
            last_v=_f(n),
            last_seen=_i(n),
            last_dv=_f(n, 0.0),
            last_dt=_i(n, 0),
            zero_rate=_f(n, 1.0, 24),
            last_change=_i(n),
            pend_v=_f(n),
            pend_n=_i(n, 0),
            neg_steps=_i(n, 0),
            neg_sum=_f(n, 0.0),
            neg_last=_i(n),
            acc_half=_f(n, 0.0),
            acc_hour=_f(n, 0.0),
            bad_half=np.zeros(n, dtype=bool),
            bad_hour=np.zeros(n, dtype=bool),
            n_half=_i(n, 0),
            n_hour=_i(n, 0),
            hours=_f(n, np.nan, 24),
            nz_hours=_i(n, 0),
            night_ring=_f(n, np.nan, NIGHT_RING),
            night_min=_f(n),
            night_hist=_f(n, np.nan, NIGHTS),
            night_n=_i(n, 0),
            night_base=_f(n, 0.0),
            night_spread=_f(n, 0.0),
            zero_bins=_i(n, 0),
            prof=_f(n, np.nan, 24),
            prof_n=_i(n, 0),
            scale=_f(n),
            uprof=_f(n, np.nan, 48),
            uscale=_f(n),
            day_dev=_f(n, 0.0),
            dscale=_f(n),
            burst_run=_i(n, 0),
            calm_run=_i(n, 0),
            cum_dev=_f(n, 0.0),
            cum_dev_night=_f(n, 0.0),
            cum_exp=_f(n, 0.0),
            cum_exp_night=_f(n, 0.0),
            cum_hours=_f(n, 0.0),
            cum_night_hours=_f(n, 0.0),
            cum_child=_f(n, 0.0),
            cum_used_n=_f(n, 0.0),
            cum_exp_n=_f(n, 0.0),
            prem_used=_f(n, 0.0),
            prem_exp=_f(n, 0.0),
            snap=_f(n, 0.0, 10),
            day_acc=_f(n, 0.0),
            day_hours=_i(n, 0),
            day_hist=_f(n, np.nan, DAYS),
            res_hist=_f(n, np.nan, DAYS),
            day_n=_i(n, 0),
            flags=_i(n, 0),
            normal_since=_f(n, np.nan, kinds),
            group_flag=np.zeros(g, dtype=bool),
            group_since=_i(g),
            group_normal=_i(g),
            group_last_end=_i(g),
            group_evidence=_f(g, 0.0),
            group_step=_i(g),
        )

    def to_json(self) -> dict[str, Any]:
        """Arrays as nested lists (NaN as null) with their dtype."""
        out: dict[str, Any] = {}
        for item in fields(self):
            array: np.ndarray[Any, Any] = getattr(self, item.name)
            data = array.tolist()
            if array.dtype.kind == "f":
                data = [None if math.isnan(v) else v for v in array.ravel().tolist()]
                data = np.array(data, dtype=object).reshape(array.shape).tolist()
            out[item.name] = {"dtype": array.dtype.str, "data": data}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], table: MeterTable, kinds: int) -> State:
        """Rebuild a saved state; it must have been saved for the same meters."""
        state = cls.empty(table, kinds)
        for item in fields(cls):
            saved = data[item.name]
            array = np.array(saved["data"], dtype=object)
            if array.dtype == object:
                array = np.where(array == None, np.nan, array)  # noqa: E711
            restored = array.astype(np.dtype(saved["dtype"]))
            if restored.shape != getattr(state, item.name).shape:
                raise ValueError(f"saved state does not match the meters: {item.name}")
            setattr(state, item.name, restored)
        return state
