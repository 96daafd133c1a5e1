"""Plain data the detectors take and give: meters, readings, findings and the tuning knobs."""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

LEVELS = ("apartment", "building", "district")
KINDS = (
    "leak",
    "burst",
    "outage",
    "stuck",
    "negative",
    "decreasing",
    "gap",
    "spike",
    "reverse_flow",
    "abnormal",
    "silent",
)
SEVERITIES = ("low", "medium", "high", "critical")

# Physical maximum flow per hour when a meter does not say (DN15 apartment water meter is
# Qmax 3.1 m³/h; a 15 kW apartment supply; a building input is ten times that, a district 100×).
MAX_RATE = {
    "cold_water": 3.2,
    "hot_water": 3.2,
    "heat": 0.5,
    "electricity": 15.0,
    "gas": 2.5,
}
LEVEL_FACTOR = {"apartment": 1.0, "building": 40.0, "district": 400.0}


@dataclass(frozen=True)
class Meter:
    """A meter (прибор учёта / есептеу құралы) as the detectors see it.

    ``level`` is apartment (individual), building (common-house input) or district
    (district / substation / feeder head); ``parent_id`` points one level up, so an apartment's
    parent is its building's input meter of the same resource. ``resolution`` is the smallest
    step of the register; ``max_rate`` the physically possible maximum per hour (0: a default
    by resource and level); ``premises`` groups the meters of one apartment, so a household
    still using its other resources shows it is at home.
    """

    id: str
    resource: str
    level: str
    group: str | None = None
    building_id: str | None = None
    parent_id: str | None = None
    interval_s: int = 300
    resolution: float = 0.001
    max_rate: float = 0.0
    premises: str | None = None  # the apartment or account the meter serves

    def physical_max(self) -> float:
        """Maximum believable consumption per hour."""
        if self.max_rate > 0:
            return self.max_rate
        return MAX_RATE.get(self.resource, 10.0) * LEVEL_FACTOR.get(self.level, 1.0)


@dataclass(frozen=True)
class Reading:
    """One reading as meters send it: the cumulative register index at a time."""

    meter_id: str
    time: dt.datetime
    value: float


@dataclass(frozen=True)
class ReadingArrays:
    """Many readings as arrays: positions in the detector's meter list, UTC epoch seconds and
    cumulative index values (the fast path for simulators and benchmarks)."""

    meter: Ints
    time: Ints
    value: Floats


@dataclass(frozen=True)
class Finding:
    """A detected problem; the same ongoing problem always carries the same ``key``."""

    kind: str
    key: str
    meter_ids: tuple[str, ...]
    group: str | None
    start: dt.datetime
    detected_at: dt.datetime
    severity: str
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "type": "finding",
            "kind": self.kind,
            "key": self.key,
            "meter_ids": list(self.meter_ids),
            "group": self.group,
            "start": self.start.isoformat(),
            "detected_at": self.detected_at.isoformat(),
            "severity": self.severity,
            "score": self.score,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Cleared:
    """The problem under ``key`` is over: the signal returned to normal at ``at``."""

    key: str
    at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"type": "cleared", "key": self.key, "at": self.at.isoformat()}


Event = Finding | Cleared


@dataclass(frozen=True)
class DetectorConfig:
    """Thresholds of every detector; the defaults are what the benchmark measures."""

    # silence and gaps
    late_factor: float = 1.5  # a reading is late after this many intervals (+ latency)
    latency_s: int = 0  # allowance for delivery delay
    gap_factor: float = 3.0  # a gap is a hole longer than this many intervals
    silent_after_s: int = 2 * 3600  # one meter silent this long is a finding
    # outages
    outage_building_share: float = 0.5  # buildings of the group at zero or late, with the head
    outage_silent_share: float = 0.6  # meters of the group late at once
    outage_min_meters: int = 3
    outage_evidence: float = 5.0  # -log10 chance of the group's zeros under normal life
    # leaks (night window in local hours, end exclusive)
    night_from_h: int = 0
    night_until_h: int = 6
    apartment_leak_bins: int = 6  # consecutive half-hours with flow at night
    parent_leak_hours: int = 2
    leak_abs: tuple[float, float] = (0.008, 0.05)  # building, district (m³/h)
    leak_mad_k: float = 5.0
    never_zero_hours: int = 24
    # bursts
    burst_abs: tuple[float, float, float] = (0.25, 0.3, 2.0)  # apartment, building, district
    burst_scale_k: float = 8.0
    burst_hours: tuple[int, int] = (3, 2)  # apartment, parents
    # stuck
    stuck_always_on_h: float = 3.0
    stuck_intermittent_h: float = 12.0
    stuck_household_hours: float = 24.0  # a day's worth of the meter's usual use missing
    # abnormal (daily)
    abnormal_z: float = 5.0
    abnormal_ratio: float = 1.6
    abnormal_low_ratio: float = 0.5
    abnormal_min_days: int = 14
    # smoothing of the per-meter hourly profile (share of the newest day)
    profile_alpha: float = 0.1
    utc_offset_s: int = 5 * 3600


def to_datetime(seconds: int | float | np.integer[Any]) -> dt.datetime:
    """UTC datetime of epoch seconds."""
    return dt.datetime.fromtimestamp(int(seconds), tz=dt.UTC)


def to_seconds(moment: dt.datetime) -> int:
    """Epoch seconds of an aware datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


@contextlib.contextmanager
def quiet_nan() -> Iterator[None]:
    """Silence numpy's warnings about rows with no known value yet (they give NaN, as meant)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
