"""Abnormal consumption (аномальное потребление / қалыптан тыс тұтыну), judged once a day.

A day's total is compared with the meter's own recent level (median of its last 28 days) and,
to take away what every meter shares that day (a cold snap, a holiday, a weekend), divided by
the median of the same ratio over its peers (same resource and level in the district, or city
wide when the district has few). The log of what remains is scored with a robust z-score
against the meter's own history of such residuals (median and MAD), so a meter's habits set
its own tolerance. Apartments are flagged only upwards (an empty flat is normal life).
"""

from __future__ import annotations

import numpy as np

from qala.utilities.detect_book import Book
from qala.utilities.detect_flow import MAD_TO_SIGMA, push
from qala.utilities.detect_state import MeterTable, State
from qala.utilities.detect_types import DetectorConfig, Floats, Ints, quiet_nan

MIN_PEERS = 5


def robust_z(values: Floats, history: Floats) -> Floats:
    """Robust z-score of each row's value against that row's history (median, MAD)."""
    with quiet_nan():
        centre = np.nanmedian(history, axis=1)
        mad = np.nanmedian(np.abs(history - centre[:, None]), axis=1)
    return np.asarray((values - centre) / (MAD_TO_SIGMA * mad + 0.05), dtype=np.float64)


def usual_level(history: Floats) -> tuple[Floats, Ints]:
    """A meter's usual daily use: the median of its days that were not near-empty (days away
    below 30 % of a high day do not set the level), and how many such days there were."""
    with quiet_nan():
        high = np.nanpercentile(history, 90, axis=1)
        kept = np.where(history >= 0.3 * high[:, None], history, np.nan)
        level = np.nanmedian(kept, axis=1)
    return np.asarray(level, dtype=np.float64), np.sum(np.isfinite(kept), axis=1).astype(np.int64)


def peer_keys(table: MeterTable) -> Ints:
    """Peer group of each meter: its district and level, or city-wide for small groups."""
    resources = sorted(set(table.resources))
    resource = np.array([resources.index(r) for r in table.resources], dtype=np.int64)
    city = 1_000_000 + resource * 3 + table.level
    local = np.where(table.group >= 0, table.group * 3 + table.level, city)
    counts = np.bincount(local - local.min(), minlength=1)[local - local.min()]
    return np.where(counts >= MIN_PEERS, local, city)


def peer_median(keys: Ints, values: Floats) -> Floats:
    """Median of ``values`` over each meter's peers (ignoring NaN)."""
    out = np.full(values.size, np.nan)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    bounds = np.flatnonzero(np.diff(sorted_keys)) + 1
    for rows in np.split(order, bounds):
        chosen = values[rows]
        chosen = chosen[np.isfinite(chosen)]
        if chosen.size:
            out[rows] = np.median(chosen)
    return out


def close_day(
    table: MeterTable, state: State, book: Book, cfg: DetectorConfig, keys: Ints, now: int
) -> None:
    """Score the day that just ended and update the daily history."""
    full = state.day_hours >= 20
    total = np.where(full, state.day_acc * 24 / np.maximum(state.day_hours, 1), np.nan)
    eps = 24 * table.resolution
    level, active = usual_level(state.day_hist)
    ratio = (total + eps) / (level + eps)
    usable = full & (active >= 7) & np.isfinite(ratio)
    peers = peer_median(keys, np.where(usable, ratio, np.nan))
    relative = ratio / peers
    residual = np.log(relative)
    z = robust_z(residual, state.res_hist)
    history = np.sum(np.isfinite(state.res_hist), axis=1)
    judged = usable & np.isfinite(z) & (state.day_n >= cfg.abnormal_min_days) & (history >= 7)
    high = judged & (z >= cfg.abnormal_z) & (relative >= cfg.abnormal_ratio)
    low = judged & (table.level > 0) & (z <= -cfg.abnormal_z) & (relative <= cfg.abnormal_low_ratio)
    for m in np.flatnonzero((high | low) & ~book.is_open("abnormal")):
        book.open_meter(
            "abnormal", int(m), now - 86_400, now, float(abs(z[m])),
            {"method": "robust_z_vs_own_level_and_peers", "direction": "high" if high[m] else "low",
             "observed": round(float(total[m]), 4), "baseline": round(float(level[m]), 4),
             "peer_factor": round(float(peers[m]), 3), "z": round(float(z[m]), 2),
             "threshold": cfg.abnormal_z},
        )  # fmt: skip
    calm = judged & (np.abs(z) < cfg.abnormal_z / 2)
    book.settle("abnormal", calm, now, judged)
    flagged = book.is_open("abnormal")
    learn = np.flatnonzero(full & ~flagged)
    push(state.day_hist, total[learn], learn)
    state.day_n[learn] += 1
    scored = np.flatnonzero(usable & ~flagged & np.isfinite(residual))
    push(state.res_hist, residual[scored], scored)
    state.day_acc[:] = 0.0
    state.day_hours[:] = 0
