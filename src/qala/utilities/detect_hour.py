"""The hourly step of the detector: hourly consumption and unaccounted flow, the per-meter
profiles and counters the other checks rely on, then the hourly checks themselves."""

from __future__ import annotations

import numpy as np

from qala.utilities.detect_book import Book
from qala.utilities.detect_flow import correct_for_stuck, ewma, hourly, leaks_and_bursts
from qala.utilities.detect_meter import check_stuck
from qala.utilities.detect_state import MeterTable, State
from qala.utilities.detect_types import Bools, DetectorConfig, Floats, quiet_nan

SCALE_ALPHA = 0.05
UPROF_ALPHA = 0.05  # slow, so a stuck child's missing use is not learnt away within days


def close_hour(
    table: MeterTable,
    state: State,
    book: Book,
    cfg: DetectorConfig,
    end: int,
    hour: int,
    rest: bool,
    night: bool,
) -> None:
    """Close the hour ending at ``end`` (``hour``: its local hour of day, 0–23; ``rest``: a
    weekend or holiday; ``night``: inside the night window)."""
    used, valid, unaccounted = hourly(table, state)
    u = correct_for_stuck(table, state, book, unaccounted, hour)
    hb = end // 3600 - 1
    state.hours[:, hb % 24] = used
    book.last_hour = hb
    slot = hour + (24 if rest else 0)
    _counters(state, u, hour, slot, night)
    _household(table, state, used, hour)
    unusual = leaks_and_bursts(table, state, book, cfg, used, valid, u, hour, slot, end, night)
    _learn(table, state, book, cfg, used, valid, u, hour, slot, unusual)
    check_stuck(table, state, book, cfg, end)
    state.day_acc += np.nan_to_num(used)
    state.day_hours += valid
    state.acc_hour[:] = 0.0
    state.bad_hour[:] = False
    state.n_hour[:] = 0


def _counters(state: State, u: Floats, hour: int, slot: int, night: bool) -> None:
    """Cumulative expected use and unaccounted deviation, for the stuck-meter check."""
    expected = np.nan_to_num(state.prof[:, hour])
    deviation = np.nan_to_num(u - state.uprof[:, slot])
    state.cum_exp += expected
    state.cum_dev += deviation
    state.day_dev += deviation
    state.cum_hours += 1.0
    if night:
        state.cum_exp_night += expected
        state.cum_dev_night += deviation
        state.cum_night_hours += 1.0


def _household(table: MeterTable, state: State, used: Floats, hour: int) -> None:
    """Use and expected use of every meter in units of its own mean hour, summed per premises,
    so one meter that stops while its household goes on using the others stands out."""
    with quiet_nan():
        mean = np.nanmean(state.prof, axis=1)
    known = np.isfinite(mean) & (mean > 0)
    scale = np.where(known, mean, 1.0)
    state.cum_used_n += np.where(known, np.nan_to_num(used) / scale, 0.0)
    state.cum_exp_n += np.where(known, np.nan_to_num(state.prof[:, hour]) / scale, 0.0)
    has = table.premises >= 0
    if has.any():
        size = int(table.premises.max()) + 1
        used_total = np.bincount(table.premises[has], state.cum_used_n[has], minlength=size)
        exp_total = np.bincount(table.premises[has], state.cum_exp_n[has], minlength=size)
        state.prem_used[has] = used_total[table.premises[has]]
        state.prem_exp[has] = exp_total[table.premises[has]]


def _learn(
    table: MeterTable,
    state: State,
    book: Book,
    cfg: DetectorConfig,
    used: Floats,
    valid: Bools,
    u: Floats,
    hour: int,
    slot: int,
    unusual: Bools,
) -> None:
    """Update the hourly profiles with ordinary hours only (not stuck, leaking or bursting)."""
    troubled = book.is_open("stuck") | book.is_open("burst") | book.is_open("leak") | unusual
    own = valid & ~troubled & ~book.is_open("abnormal")
    spread = np.abs(used - state.prof[:, hour])
    state.scale = ewma(state.scale, spread, SCALE_ALPHA, own & np.isfinite(spread))
    state.prof[:, hour] = ewma(state.prof[:, hour], used, cfg.profile_alpha, own)
    state.prof_n += own
    parent = np.isfinite(u) & ~troubled
    uspread = np.abs(u - state.uprof[:, slot])
    floor = table.resolution
    state.uscale = ewma(
        state.uscale, np.maximum(uspread, floor), SCALE_ALPHA, parent & np.isfinite(uspread)
    )
    state.uprof[:, slot] = ewma(state.uprof[:, slot], u, UPROF_ALPHA, parent)


def close_day_noise(table: MeterTable, state: State) -> None:
    """Learn how far a parent's unaccounted flow strays from its profile over a whole day (the
    noise a stuck child's missing use must stand out from)."""
    parents = table.children > 0
    size = np.maximum(np.abs(state.day_dev), 10 * table.resolution)
    state.dscale = ewma(state.dscale, size, 0.1, parents)
    state.day_dev[:] = 0.0
