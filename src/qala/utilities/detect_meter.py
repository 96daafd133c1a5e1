"""Meter faults (неисправности приборов / құрал ақаулары): what one meter's own readings show.

Each reading is checked against the previous one: negative index, impossible jumps up
(spikes) or down (a decreasing index), steady backward counting (reverse flow, tamper), holes
longer than a few intervals (gaps). An index that stops moving is judged once an hour by
``check_stuck`` with the help of the hierarchy: a meter whose parent still sees the
consumption it no longer counts, or whose children keep consuming, is stuck; a quiet
apartment whose building shows nothing missing is just empty.
"""

from __future__ import annotations

import numpy as np

from qala.utilities.detect_book import Book
from qala.utilities.detect_state import MeterTable, State
from qala.utilities.detect_types import Bools, DetectorConfig, Floats, Ints, quiet_nan

CONFIRM = 3  # consistent implausible readings after which the new level is accepted


def _full(table: MeterTable, meters: Ints, values: Bools | bool) -> Bools:
    out = np.zeros(table.size, dtype=bool)
    out[meters] = values
    return out


def in_outage(table: MeterTable, state: State, meters: Ints, since: Ints | None = None) -> Bools:
    """Whether each meter's group has an outage open (or had one ending after ``since``)."""
    group = table.group[meters]
    has = group >= 0
    out = np.zeros(meters.size, dtype=bool)
    out[has] = state.group_flag[group[has]]
    if since is not None:
        out[has] |= state.group_last_end[group[has]] >= since[has]
    return out


def apply_round(
    table: MeterTable,
    state: State,
    book: Book,
    cfg: DetectorConfig,
    meters: Ints,
    times: Ints,
    values: Floats,
) -> None:
    """Take one reading per meter (``meters`` unique) and update state and findings."""
    seen = state.last_seen[meters].copy()
    state.last_seen[meters] = np.maximum(seen, times)
    book.settle("silent", _full(table, meters, True), int(times.max()), _full(table, meters, True))
    keep = np.isfinite(values) & (times > state.last_t[meters])
    meters, times, values, seen = meters[keep], times[keep], values[keep], seen[keep]
    if meters.size == 0:
        return
    res = table.resolution[meters]
    negative = values < -0.5 * res
    for n in np.flatnonzero(negative):
        book.open_meter(
            "negative", int(meters[n]), int(times[n]), int(times[n]), float(-values[n]),
            {"observed": float(values[n]), "threshold": 0.0},
        )  # fmt: skip
    book.settle("negative", _full(table, meters, ~negative), int(times.max()),
                _full(table, meters, True))  # fmt: skip
    keep = ~negative
    meters, times, values, seen = meters[keep], times[keep], values[keep], seen[keep]
    first = state.last_t[meters] < 0
    _initialise(table, state, meters[first], times[first], values[first])
    keep = ~first
    meters, times, values, seen = meters[keep], times[keep], values[keep], seen[keep]
    if meters.size:
        _gaps(table, state, book, cfg, meters, times, times - seen)
        _step(table, state, book, cfg, meters, times, values)


def _initialise(table: MeterTable, state: State, meters: Ints, times: Ints, values: Floats) -> None:
    state.last_t[meters] = times
    state.last_v[meters] = values
    state.last_change[meters] = times
    _snapshot(table, state, meters)


def _snapshot(table: MeterTable, state: State, meters: Ints) -> None:
    """Remember the hourly counters at the moment the index last moved (for stuck checks)."""
    parent = table.parent[meters]
    has = parent >= 0
    snap = np.zeros((meters.size, 10))
    snap[has, 0] = state.cum_dev[parent[has]]
    snap[has, 1] = state.cum_dev_night[parent[has]]
    snap[:, 2] = state.cum_exp[meters]
    snap[:, 3] = state.cum_exp_night[meters]
    snap[:, 4] = state.cum_hours[meters]
    snap[:, 5] = state.cum_night_hours[meters]
    snap[:, 6] = state.cum_child[meters]
    snap[:, 7] = state.prem_used[meters]
    snap[:, 8] = state.prem_exp[meters]
    snap[:, 9] = state.cum_exp_n[meters]
    if meters.size and (table.children[meters] > 0).any():
        # the children's use in the open hour is added to cum_child when the hour closes
        child = np.flatnonzero(table.parent >= 0)
        open_hour = np.bincount(table.parent[child], state.acc_hour[child], minlength=table.size)
        snap[:, 6] += open_hour[meters]
    state.snap[meters] = snap


def _step(
    table: MeterTable,
    state: State,
    book: Book,
    cfg: DetectorConfig,
    meters: Ints,
    times: Ints,
    values: Floats,
) -> None:
    now = int(times.max())
    res = table.resolution[meters]
    dt = times - state.last_t[meters]
    dv = values - state.last_v[meters]
    limit = table.max_rate[meters] * dt / 3600 + 2 * res
    up, down = dv > limit, dv < -limit
    pending = np.isfinite(state.pend_v[meters])
    jump = dv - (state.pend_v[meters] - state.last_v[meters])
    follows = pending & (up | down) & (jump >= -res) & (jump <= limit)
    for n in np.flatnonzero((up | down) & ~follows):
        kind = "spike" if up[n] else "decreasing"
        book.open_meter(
            kind, int(meters[n]), int(times[n]), int(times[n]),
            float(abs(dv[n]) / max(limit[n], 1e-9)),
            {"observed": float(values[n]), "baseline": float(state.last_v[meters[n]]),
             "threshold": float(limit[n])},
        )  # fmt: skip
    implausible = up | down
    state.pend_n[meters] = np.where(follows, state.pend_n[meters] + 1, np.where(implausible, 1, 0))
    state.pend_v[meters] = np.where(implausible, values, np.nan)
    rebase = implausible & (state.pend_n[meters] >= CONFIRM)
    ok = ~implausible | rebase
    book.settle("spike", _full(table, meters, ~implausible), now, _full(table, meters, True))
    book.settle("decreasing", _full(table, meters, ~implausible), now, _full(table, meters, True))
    state.pend_v[meters[rebase]] = np.nan
    state.pend_n[meters[rebase]] = 0
    meters, times, values, dt, dv, res = meters[ok], times[ok], values[ok], dt[ok], dv[ok], res[ok]
    dv = np.where(rebase[ok], 0.0, dv)
    if meters.size == 0:
        return
    _backward(table, state, book, meters, times, dv, res)
    spread = dt > 2 * table.interval[meters]
    state.bad_half[meters[spread]] = True
    state.bad_hour[meters[spread]] = True
    use = np.clip(dv, 0.0, None)
    moved = np.abs(dv) > 0.5 * res
    state.last_change[meters[moved]] = times[moved]
    book.settle("stuck", _full(table, meters, moved), now, _full(table, meters, moved))
    state.acc_half[meters] += use
    state.acc_hour[meters] += use
    state.n_half[meters] += 1
    state.n_hour[meters] += 1
    _snapshot(table, state, meters[moved])  # after the round's use is in the open hour
    state.last_t[meters] = times
    state.last_v[meters] = values
    state.last_dv[meters] = dv
    learn = ~in_outage(table, state, meters)
    hour = (times - 1 + cfg.utc_offset_s) % 86_400 // 3600
    rate = state.zero_rate[meters, hour]
    state.zero_rate[meters, hour] = np.where(learn, 0.95 * rate + 0.05 * ~moved, rate)
    state.last_dt[meters] = dt


def _backward(
    table: MeterTable, state: State, book: Book, meters: Ints, times: Ints, dv: Floats,
    res: Floats,
) -> None:  # fmt: skip
    """Count small backward steps; several of them mean the meter runs in reverse."""
    back = dv < -0.5 * res
    stale = times - state.neg_last[meters] > 6 * 3600
    reset = back & stale
    state.neg_steps[meters[reset]] = 0
    state.neg_sum[meters[reset]] = 0.0
    state.neg_steps[meters[back]] += 1
    state.neg_sum[meters[back]] -= dv[back]
    state.neg_last[meters[back]] = times[back]
    hit = back & (state.neg_steps[meters] >= 3) & (state.neg_sum[meters] >= 3 * res)
    for n in np.flatnonzero(hit):
        m = int(meters[n])
        book.open_meter(
            "reverse_flow", m, int(times[n]), int(times[n]), float(state.neg_sum[m]),
            {"observed": -float(state.neg_sum[m]), "threshold": float(3 * res[n]),
             "backward_steps": int(state.neg_steps[m])},
        )  # fmt: skip
    calm = _full(table, meters, stale & ~back)
    book.settle("reverse_flow", calm, int(times.max()), _full(table, meters, True))


def _gaps(
    table: MeterTable, state: State, book: Book, cfg: DetectorConfig, meters: Ints,
    times: Ints, dt: Ints,
) -> None:  # fmt: skip
    """A hole of several intervals in what a meter sent (unless its group had an outage);
    ``dt`` is the time since the meter's previous reading of any kind."""
    hole = dt > cfg.gap_factor * table.interval[meters]
    if hole.any():
        start = times - dt
        excused = in_outage(table, state, meters, start - table.interval[meters])
        for n in np.flatnonzero(hole & ~excused):
            book.open_meter(
                "gap", int(meters[n]), int(start[n]), int(times[n]), float(dt[n] / 3600),
                {"gap_s": int(dt[n]),
                 "threshold": float(cfg.gap_factor * table.interval[meters[n]])},
            )  # fmt: skip
    book.settle("gap", _full(table, meters, ~hole), int(times.max()), _full(table, meters, True))


def check_stuck(table: MeterTable, state: State, book: Book, cfg: DetectorConfig, now: int) -> None:
    """Once an hour: meters whose index has not moved while it should have."""
    run_h = (now - state.last_change) / 3600
    reporting = (state.last_change >= 0) & (now - state.last_t <= 2 * table.interval)
    candidate = reporting & (run_h >= 1.0) & ~book.is_open("stuck") & ~book.is_open("reverse_flow")
    meters = np.flatnonzero(candidate)
    if meters.size == 0:
        return
    meters = meters[~in_outage(table, state, meters, state.last_change[meters])]
    parent = table.parent[meters]
    upstream = (book.is_open("leak") | book.is_open("burst"))[np.where(parent >= 0, parent, 0)]
    meters = meters[~(upstream & (parent >= 0))]  # a leak above explains what goes missing
    res = table.resolution[meters]
    warm = state.prof_n[meters] >= 48
    with quiet_nan():
        floor = np.nanmin(state.prof[meters], axis=1)
    always_on = warm & (floor >= 4 * res)
    run = run_h[meters]
    has_parent = table.parent[meters] >= 0
    has_children = table.children[meters] > 0
    root = ~has_parent & ~has_children & always_on & (run >= cfg.stuck_always_on_h)
    snap = state.snap[meters]
    children_used = state.cum_child[meters] - snap[:, 6]
    fed = has_children & (children_used >= 20 * res)
    missing, expected, noise = _missing(table, state, meters, snap)
    # the building saw some of it go missing, or two days' worth is missing already
    confirmed = (missing >= 0.3 * expected) | (
        own_hours_of(state, meters, snap) >= 2 * cfg.stuck_household_hours
    )
    least = np.where(always_on, cfg.stuck_always_on_h, cfg.stuck_intermittent_h)
    home = table.premises[meters] >= 0
    own_hours = state.cum_exp_n[meters] - snap[:, 9]
    others_expected = state.prem_exp[meters] - snap[:, 8] - own_hours
    others_used = state.prem_used[meters] - snap[:, 7]
    at_home = (
        warm
        & home
        & (run >= least)
        & (own_hours >= cfg.stuck_household_hours)
        & (expected >= 10 * res)
        & (others_expected >= 3.0)
        & (others_used >= 0.5 * others_expected)
        & confirmed
    )
    quiet = (
        warm
        & has_parent
        & ~home
        & ~has_children
        & (run >= least)
        & (expected >= np.maximum(30 * res, noise))
        & (missing >= 0.5 * expected)
        & (missing >= noise)
    )
    for n in np.flatnonzero(root | fed | quiet | at_home):
        m = int(meters[n])
        book.open_meter(
            "stuck", m, int(state.last_change[m]), now, float(run_h[m]),
            {"hours_unchanged": round(float(run_h[m]), 1), "observed": float(state.last_v[m]),
             "expected": round(float(expected[n]), 4), "unaccounted": round(float(missing[n]), 4),
             "children_used": round(float(children_used[n]), 4),
             "household_use_share": round(float(others_used[n] / max(others_expected[n], 1e-9)), 2)
             if home[n] else None},
        )  # fmt: skip


def own_hours_of(state: State, meters: Ints, snap: Floats) -> Floats:
    """Expected use since the index stopped, in units of the meter's mean hour."""
    return np.asarray(state.cum_exp_n[meters] - snap[:, 9], dtype=np.float64)


def _missing(
    table: MeterTable, state: State, meters: Ints, snap: Floats
) -> tuple[Floats, Floats, Floats]:
    """Since the index stopped: how much the parent saw go unaccounted (beyond its usual
    unaccounted flow), how much this meter was expected to use, and the noise of that
    comparison (from how far whole days of the parent's unaccounted flow usually stray)."""
    parent = table.parent[meters]
    safe = np.where(parent >= 0, parent, 0)
    hours = state.cum_hours[meters] - snap[:, 4]
    missing = np.where(parent >= 0, state.cum_dev[safe] - snap[:, 0], 0.0)
    expected = state.cum_exp[meters] - snap[:, 2]
    scale = np.nan_to_num(state.uscale[safe], nan=np.inf)
    span = np.maximum(hours, 1.0)
    hourly = 3 * scale * np.sqrt(span) + 0.25 * scale * span  # slow drifts add up linearly
    # once whole days are known, their spread is the better yardstick (hourly noise cancels)
    daily = 3 * state.dscale[safe] * np.sqrt(np.maximum(span, 24.0) / 24)
    noise = np.where(np.isfinite(daily), daily, hourly)
    return missing, expected, noise
