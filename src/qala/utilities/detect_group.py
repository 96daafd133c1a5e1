"""Outages (отключения / ажыратулар) and silent meters: what a whole group shows at once.

A group is one district or feeder and one resource. It is out when its head (district or
feeder meter) reads zero flow while at least half of its building input meters read zero or
stop reporting too, or when most of its meters stop reporting at the same moment. One meter
that goes quiet is a silent meter, never an outage.
"""

from __future__ import annotations

import numpy as np

from qala.utilities.detect_book import Book
from qala.utilities.detect_state import MeterTable, State
from qala.utilities.detect_types import Bools, DetectorConfig, Floats, Ints

RECENT_S = 3600  # "at once": went quiet within the last hour
ALIVE_S = 86_400  # meters silent longer than this no longer count as members
LATE_WEIGHT = -1.0  # a meter of the group overdue counts as a one-in-ten event


def _count(groups: Ints, mask: Bools, size: int) -> Floats:
    chosen = groups[mask]
    return np.bincount(chosen[chosen >= 0], minlength=size).astype(np.float64)


def late_meters(table: MeterTable, state: State, cfg: DetectorConfig, now: int) -> Bools:
    """Meters whose next reading is overdue."""
    allowance = cfg.late_factor * table.interval + cfg.latency_s
    return (state.last_seen >= 0) & (now - state.last_seen > allowance)


def check_groups(
    table: MeterTable, state: State, book: Book, cfg: DetectorConfig, now: int
) -> None:
    """Open and clear outages for every group at data time ``now``.

    Zero flow is weighed by how often each meter shows zero at this hour: the evidence is the
    log10 chance that every head and building meter of the group read zero (or went late) in
    the same steps if nothing were wrong, summed over consecutive steps; a gas or water meter
    that often rests at night weighs little, a district head that never stops weighs a lot.
    """
    size = len(table.groups)
    if size == 0:
        return
    late = late_meters(table, state, cfg, now)
    res = table.resolution
    recent = (state.last_t >= 0) & ~late
    zero = recent & (state.last_dv <= 0.5 * res) & (state.last_dt <= 2 * table.interval)
    hour = (now - 1 + cfg.utc_offset_s) % 86_400 // 3600
    chance = np.clip(state.zero_rate[:, hour], 0.002, 1.0)
    weight = np.where(zero, np.log10(chance), np.where(late, LATE_WEIGHT, 0.0))
    head = table.level == 2
    building = table.level == 1
    g = table.group
    off = zero | late
    heads = _count(g, head, size)
    heads_off = _count(g, head & off, size)
    buildings = _count(g, building, size)
    buildings_off = _count(g, building & off, size)
    with np.errstate(all="ignore"):
        share_off = np.where(buildings > 0, buildings_off / buildings, 0.0)
    down = (heads_off == heads) & (share_off >= cfg.outage_building_share) & (buildings + heads > 0)
    member = (g >= 0) & (head | building)
    step_weight = np.bincount(g[member], weight[member], minlength=size)
    step = now // int(table.interval.min())
    new_step = state.group_step != step
    state.group_evidence = np.where(
        down, state.group_evidence + np.where(new_step, step_weight, 0.0), 0.0
    )
    state.group_step[:] = step
    cut = down & (state.group_evidence <= -cfg.outage_evidence)
    heads_flow = _count(g, head & recent & ~zero, size)
    alive = (state.last_seen >= 0) & (now - state.last_seen <= ALIVE_S)
    members = _count(g, alive, size)
    quiet = _count(g, alive & late & (now - state.last_seen <= RECENT_S), size)
    silent = quiet >= np.maximum(cfg.outage_min_meters, cfg.outage_silent_share * members)
    for group in np.flatnonzero((cut | silent) & ~state.group_flag):
        start = _start(table, state, int(group), now)
        state.group_flag[group] = True
        state.group_since[group] = start
        state.group_normal[group] = -1
        book.open_group(
            int(group), start, now,
            float(max(share_off[group], quiet[group] / max(members[group], 1))),
            {"mode": "zero_flow" if cut[group] else "silent",
             "buildings_off": int(buildings_off[group]), "buildings": int(buildings[group]),
             "meters_silent": int(quiet[group]), "meters": int(members[group])},
        )  # fmt: skip
    flowing = (heads_flow > 0) | ((heads == 0) & ~down)
    normal = flowing & (quiet < 0.2 * np.maximum(members, 1))
    _settle_groups(table, state, book, normal, now)


def _start(table: MeterTable, state: State, group: int, now: int) -> int:
    """When the outage began: the start of the head's zero interval, or the last reading."""
    heads = np.flatnonzero((table.group == group) & (table.level == 2) & (state.last_t >= 0))
    if heads.size:
        return int(min(now, (state.last_t[heads] - state.last_dt[heads]).min()))
    members = np.flatnonzero((table.group == group) & (state.last_seen >= 0))
    return int(state.last_seen[members].max()) if members.size else now


def _settle_groups(table: MeterTable, state: State, book: Book, normal: Bools, now: int) -> None:
    active = state.group_flag
    state.group_normal[active & ~normal] = -1
    fresh = active & normal & (state.group_normal < 0)
    state.group_normal[fresh] = now
    done = np.flatnonzero(active & normal & (now - state.group_normal >= 600))
    for group in done:
        name, resource = table.groups[group]
        state.group_flag[group] = False
        state.group_last_end[group] = now
        state.group_normal[group] = -1
        book.close(f"outage:{name}:{resource}", now)


def check_silent(
    table: MeterTable, state: State, book: Book, cfg: DetectorConfig, now: int
) -> None:
    """One meter quiet for ``silent_after_s`` (and not part of an outage)."""
    quiet = (state.last_seen >= 0) & (now - state.last_seen >= cfg.silent_after_s)
    group = table.group
    excused = np.zeros(table.size, dtype=bool)
    has = group >= 0
    excused[has] = state.group_flag[group[has]]
    for m in np.flatnonzero(quiet & ~excused & ~book.is_open("silent")):
        book.open_meter(
            "silent", int(m), int(state.last_seen[m]), now,
            float((now - state.last_seen[m]) / 3600),
            {"last_reading": int(state.last_seen[m]), "threshold": cfg.silent_after_s},
        )  # fmt: skip
