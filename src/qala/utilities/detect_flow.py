"""Leaks and bursts (утечки и порывы / ағып кету мен жарылу) from consumption bins.

Apartment water: a leak is flow that never stops. At night a household's half-hours are
mostly at zero; ``apartment_leak_bins`` consecutive night half-hours with flow above the
meter's own baseline of nightly minima is a leak (minimum night flow), and so is 24 h without
one zero hour ("never zero"). Building and district water: the *unaccounted* flow, input
minus the sum of the meters below, is the background loss; its night minimum over
``parent_leak_hours`` against the rolling median of past nightly minima (plus k·MAD) shows a
new leak between the meters. A burst is a sustained step far above the hourly profile.
"""

from __future__ import annotations

import numpy as np

from qala.utilities.detect_book import Book
from qala.utilities.detect_state import MeterTable, State
from qala.utilities.detect_types import Bools, DetectorConfig, Floats, Ints, quiet_nan

MAD_TO_SIGMA = 1.4826


def night_baseline(history: Floats, count: Ints, floor: Floats, k: float) -> tuple[Floats, Floats]:
    """Baseline (median of past nightly minima) and threshold above it (k robust sigmas, at
    least ``floor``) per row; rows with fewer than three nights get baseline 0."""
    with quiet_nan():
        base = np.nanmedian(history, axis=1)
        mad = np.nanmedian(np.abs(history - base[:, None]), axis=1)
    enough = count >= 3
    base = np.where(enough & np.isfinite(base), base, 0.0)
    spread = np.where(enough & np.isfinite(mad), k * MAD_TO_SIGMA * mad, 0.0)
    return base, np.maximum(floor, spread)


def rolling_min(ring: Floats, width: int) -> Floats:
    """Minimum of the last ``width`` values of each row (NaN if one is unknown)."""
    return np.asarray(ring[:, -width:].min(axis=1), dtype=np.float64)


def push(ring: Floats, values: Floats, rows: Ints) -> None:
    """Append ``values`` to the rows of a ring kept in time order (oldest first)."""
    ring[rows, :-1] = ring[rows, 1:]
    ring[rows, -1] = values


def _open_leaks(
    book: Book, meters: Ints, nmin: Floats, base: Floats, thr: Floats, start: int, now: int,
    method: str,
) -> None:  # fmt: skip
    for n in np.flatnonzero(nmin - base > thr):
        book.open_meter(
            "leak", int(meters[n]), start, now, float(nmin[n] - base[n]),
            {"method": method, "baseline": round(float(base[n]), 4),
             "observed": round(float(nmin[n]), 4), "threshold": round(float(thr[n]), 4)},
        )  # fmt: skip


def close_half(
    table: MeterTable, state: State, book: Book, cfg: DetectorConfig, end: int, night: bool
) -> None:
    """Close the half-hour ending at ``end``: apartment night-flow leaks and leak clearing."""
    res = table.resolution
    valid = (state.n_half > 0) & ~state.bad_half
    flow = state.acc_half
    zero = valid & (flow <= 0.5 * res)
    state.zero_bins = np.where(zero, state.zero_bins + 1, np.where(valid, 0, state.zero_bins))
    state.nz_hours = np.where(valid & ~zero, state.nz_hours + 1, np.where(valid, 0, state.nz_hours))
    apartments = np.flatnonzero(table.water & (table.level == 0))
    _never_zero(state, book, cfg, apartments, end)
    series = np.where(valid & night, flow * 2.0, np.nan)[apartments]
    push(state.night_ring, series, apartments)
    width = cfg.apartment_leak_bins
    nmin = rolling_min(state.night_ring[apartments], width)
    known = np.isfinite(nmin)
    state.night_min[apartments[known]] = np.fmin(state.night_min[apartments[known]], nmin[known])
    base = state.night_base[apartments]
    thr = np.maximum(1.8 * res[apartments], state.night_spread[apartments])
    hit = known & ~book.is_open("leak")[apartments]
    _open_leaks(book, apartments[hit], nmin[hit], base[hit], thr[hit], end - width * 1800, end,
                "night_flow")  # fmt: skip
    stopped = np.zeros(table.size, dtype=bool)
    stopped[apartments] = state.zero_bins[apartments] >= 2
    book.settle("leak", stopped, end, stopped)
    state.acc_half[:] = 0.0
    state.bad_half[:] = False
    state.n_half[:] = 0


def _never_zero(state: State, book: Book, cfg: DetectorConfig, apartments: Ints, end: int) -> None:
    """An apartment whose water never stopped for a whole half-hour in 24 h."""
    bins = 2 * cfg.never_zero_hours
    hit = apartments[(state.nz_hours[apartments] >= bins) & ~book.is_open("leak")[apartments]]
    for m in hit:
        lowest = float(np.nanmin(state.hours[m]))
        book.open_meter(
            "leak", int(m), end - int(state.nz_hours[m]) * 1800, end, lowest,
            {"method": "never_zero", "half_hours_with_flow": int(state.nz_hours[m]),
             "observed": round(lowest, 4), "threshold": 0.0},
        )  # fmt: skip


def end_night(table: MeterTable, state: State, book: Book, cfg: DetectorConfig) -> None:
    """At the end of the night window: keep each meter's nightly minimum (unless a leak is
    open, so a leak does not become the baseline), renew the baselines and start afresh."""
    keep = np.flatnonzero(np.isfinite(state.night_min) & ~book.is_open("leak"))
    push(state.night_hist, state.night_min[keep], keep)
    state.night_n[keep] += 1
    state.night_min[:] = np.nan
    state.night_base, state.night_spread = night_baseline(
        state.night_hist, state.night_n, np.zeros(table.size), cfg.leak_mad_k
    )


def hourly(table: MeterTable, state: State) -> tuple[Floats, Bools, Floats]:
    """This hour's consumption per meter, whether it is known, and the unaccounted flow of
    every parent meter (input minus the children; NaN when a child is unknown)."""
    valid = (state.n_hour > 0) & ~state.bad_hour
    used = np.where(valid, state.acc_hour, np.nan)
    child = np.flatnonzero(table.parent >= 0)
    parents = table.parent[child]
    total = np.bincount(parents, np.nan_to_num(used[child]), minlength=table.size)
    unknown = np.bincount(parents, ~valid[child], minlength=table.size) > 0
    unaccounted = np.where((table.children > 0) & valid & ~unknown, used - total, np.nan)
    state.cum_child += np.where(table.children > 0, total, 0.0)
    return used, valid, unaccounted


def correct_for_stuck(table: MeterTable, state: State, book: Book, u: Floats, hour: int) -> Floats:
    """Add back to a parent the expected use of its children already known to be stuck."""
    stuck = np.flatnonzero(book.is_open("stuck") & (table.parent >= 0))
    if stuck.size == 0:
        return u
    expected = np.nan_to_num(state.prof[stuck, hour])
    return u - np.bincount(table.parent[stuck], expected, minlength=table.size)


def ewma(current: Floats, new: Floats, alpha: float, rows: Bools) -> Floats:
    """Exponentially weighted average, started by the first value."""
    fresh = rows & np.isnan(current)
    mixed = rows & ~np.isnan(current)
    out = current.copy()
    out[fresh] = new[fresh]
    out[mixed] = (1 - alpha) * current[mixed] + alpha * new[mixed]
    return out


def leaks_and_bursts(
    table: MeterTable, state: State, book: Book, cfg: DetectorConfig, used: Floats,
    valid: Bools, u: Floats, hour: int, slot: int, end: int, night: bool,
) -> Bools:  # fmt: skip
    """Hourly water checks; returns where the hour stood out (so profiles skip it)."""
    parents = np.flatnonzero(table.water & (table.children > 0))
    push(state.night_ring, np.where(night, u[parents], np.nan), parents)
    width = cfg.parent_leak_hours
    nmin = rolling_min(state.night_ring[parents], width)
    known = np.isfinite(nmin)
    state.night_min[parents[known]] = np.fmin(state.night_min[parents[known]], nmin[known])
    floor = np.where(table.level[parents] == 2, cfg.leak_abs[1], cfg.leak_abs[0])
    base = state.night_base[parents]
    thr = np.maximum(floor, state.night_spread[parents])
    ready = known & (state.night_n[parents] >= 3)
    hit = ready & ~book.is_open("leak")[parents]
    _open_leaks(book, parents[hit], nmin[hit], base[hit], thr[hit], end - width * 3600, end,
                "minimum_night_flow")  # fmt: skip
    calm = np.zeros(table.size, dtype=bool)
    calm[parents] = ready & (nmin - base <= thr / 2)
    book.settle("leak", calm, end, calm)
    return _bursts(table, state, book, cfg, used, u, hour, slot, end)


def _bursts(
    table: MeterTable, state: State, book: Book, cfg: DetectorConfig, used: Floats, u: Floats,
    hour: int, slot: int, end: int,
) -> Bools:  # fmt: skip
    apartment = table.water & (table.level == 0)
    parent = table.water & (table.children > 0)
    series = np.where(apartment, used, np.where(parent, u, np.nan))
    base = np.where(apartment, state.prof[:, hour], state.uprof[:, slot])
    scale = np.where(apartment, state.scale, state.uscale)
    floor = np.asarray(cfg.burst_abs)[np.minimum(table.level, 2)]
    thr = np.maximum(floor, cfg.burst_scale_k * np.nan_to_num(scale, nan=np.inf))
    dev = series - base
    known = np.isfinite(dev) & (state.prof_n >= 48)
    high = known & (dev > thr)
    state.burst_run = np.where(high, state.burst_run + 1, np.where(known, 0, state.burst_run))
    need = np.where(apartment, cfg.burst_hours[0], cfg.burst_hours[1])
    hit = np.flatnonzero(high & (state.burst_run >= need) & ~book.is_open("burst"))
    for m in hit:
        book.open_meter(
            "burst", int(m), end - int(state.burst_run[m]) * 3600, end, float(dev[m]),
            {"baseline": round(float(base[m]), 4), "observed": round(float(series[m]), 4),
             "threshold": round(float(thr[m]), 4)},
        )  # fmt: skip
    calm = known & (dev < thr / 2)
    book.settle("burst", calm, end, known)
    return np.asarray(known & (dev > thr / 2), dtype=bool)
