"""Bookkeeping of open problems: turns detector signals into findings once per ongoing problem
(one merge key each) and into ``Cleared`` when the signal has stayed normal long enough."""

from __future__ import annotations

from typing import Any

import numpy as np

from qala.utilities.detect_state import MeterTable, State
from qala.utilities.detect_types import Bools, Cleared, Event, Finding, to_datetime

# Per-meter kinds, in the order of their bits in ``State.flags`` and columns of normal_since.
METER_KINDS = (
    "leak",
    "burst",
    "stuck",
    "negative",
    "decreasing",
    "gap",
    "spike",
    "reverse_flow",
    "abnormal",
    "silent",
)
BITS = {kind: 1 << n for n, kind in enumerate(METER_KINDS)}
# How long a signal must look normal before the problem is cleared, seconds.
CLEAR_AFTER = {
    "leak": 0,
    "burst": 0,
    "stuck": 0,
    "negative": 3600,
    "decreasing": 6 * 3600,
    "gap": 6 * 3600,
    "spike": 6 * 3600,
    "reverse_flow": 6 * 3600,
    "abnormal": 0,
    "silent": 0,
    "outage": 600,
}


FIXED_SEVERITY = {"outage": "critical", "reverse_flow": "high", "abnormal": "medium"}


def severity_of(kind: str, score: float, level: int) -> str:
    """Severity of a problem from its kind, its score (a leak's flow per hour) and the meter
    level (0 apartment, 1 building, 2 district)."""
    if kind in FIXED_SEVERITY:
        return FIXED_SEVERITY[kind]
    if kind == "burst":
        return "critical" if level > 0 else "high"
    if kind == "leak":
        if level == 2 or score >= 0.05:
            return "high"
        return "medium" if level == 1 or score >= 0.01 else "low"
    if kind in ("silent", "stuck"):
        return "high" if level > 0 else "medium"
    return "low"


def rounded(value: float, digits: int = 4) -> float | None:
    """A JSON-safe float (None for NaN)."""
    return None if not np.isfinite(value) else round(float(value), digits)


class Book:
    """Open problems and the events produced since the last drain."""

    def __init__(self, table: MeterTable, state: State) -> None:
        self.table = table
        self.state = state
        self.active: dict[str, dict[str, Any]] = {}
        self.events: list[Event] = []
        self.last_hour = -1  # hour bin of the newest closed hour, for series excerpts

    def series(self, meter: int, hours: int = 12) -> list[list[Any]]:
        """The meter's last ``hours`` hourly consumptions as [[iso_time, value], ...]."""
        if self.last_hour < 0:
            return []
        out = []
        for hb in range(self.last_hour - hours + 1, self.last_hour + 1):
            value = self.state.hours[meter, hb % 24]
            out.append([to_datetime((hb + 1) * 3600).isoformat(), rounded(value)])
        return out

    def open_meter(
        self, kind: str, meter: int, start: int, at: int, score: float, evidence: dict[str, Any]
    ) -> None:
        """Report ``kind`` on one meter unless it is already open."""
        if self.state.flags[meter] & BITS[kind]:
            return
        self.state.flags[meter] |= BITS[kind]
        self.state.normal_since[meter, METER_KINDS.index(kind)] = np.nan
        meter_id = self.table.ids[meter]
        group = self.table.group[meter]
        self._open(
            kind=kind,
            key=f"{kind}:{meter_id}",
            meter_ids=(meter_id,),
            group=self.table.groups[group][0] if group >= 0 else None,
            start=start,
            at=at,
            severity=severity_of(kind, score, int(self.table.level[meter])),
            score=score,
            evidence={**evidence, "series": self.series(meter)},
        )

    def open_group(self, group: int, start: int, at: int, score: float, evidence: Any) -> None:
        """Report an outage of a (group, resource)."""
        name, resource = self.table.groups[group]
        members = np.flatnonzero(self.table.group == group)
        self._open(
            kind="outage",
            key=f"outage:{name}:{resource}",
            meter_ids=tuple(self.table.ids[m] for m in members),
            group=name,
            start=start,
            at=at,
            severity="critical",
            score=score,
            evidence={"resource": resource, **evidence},
        )

    def _open(self, **fields: Any) -> None:
        key = fields["key"]
        if key in self.active:
            return
        self.active[key] = {"kind": fields["kind"], "start": fields["start"], "at": fields["at"]}
        start, at = fields.pop("start"), fields.pop("at")
        self.events.append(Finding(**fields, start=to_datetime(start), detected_at=to_datetime(at)))

    def close(self, key: str, at: int) -> None:
        """Clear an open problem."""
        if self.active.pop(key, None) is not None:
            self.events.append(Cleared(key=key, at=to_datetime(at)))

    def settle(self, kind: str, normal: Bools, now: int, known: Bools | None = None) -> None:
        """Clear ``kind`` on meters where it is open and the signal has been normal for its
        clear-after time; ``normal`` says which meters look normal now, among the ``known``
        ones (the others keep their timers)."""
        bit, column = BITS[kind], METER_KINDS.index(kind)
        open_ = (self.state.flags & bit) != 0
        if known is not None:
            open_ &= known
        if not open_.any():
            return
        since = self.state.normal_since[:, column]
        since[open_ & ~normal] = np.nan
        fresh = open_ & normal & np.isnan(since)
        since[fresh] = now
        done = np.flatnonzero(open_ & normal & (now - since >= CLEAR_AFTER[kind]))
        for meter in done:
            self.state.flags[meter] &= ~bit
            since[meter] = np.nan
            self.close(f"{kind}:{self.table.ids[meter]}", now)

    def drain(self) -> list[Event]:
        """The events produced since the last drain."""
        events, self.events = self.events, []
        return events

    def is_open(self, kind: str) -> Bools:
        """Which meters have ``kind`` open."""
        return np.asarray((self.state.flags & BITS[kind]) != 0, dtype=bool)
