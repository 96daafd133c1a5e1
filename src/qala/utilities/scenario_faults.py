"""Labelled faults of a generated scenario: what is injected where and when (the ground truth),
and how faults of the meters themselves bend the readings they send."""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qala.utilities.detect_types import Floats, Ints, to_seconds

# Faults that change what flows (physics) and faults that change what a meter reports.
PHYSICAL = ("leak", "burst", "outage", "abnormal")
REPORTING = ("stuck", "negative", "decreasing", "gap", "spike", "reverse_flow", "silent")
INSTANT = ("decreasing", "spike")


@dataclass(frozen=True)
class Fault:
    """One injected fault (the ground truth the detectors are measured against)."""

    kind: str
    meter_ids: tuple[str, ...]
    group: str | None
    resource: str
    level: str
    start: dt.datetime
    end: dt.datetime | None  # None: lasts past the end of the scenario
    size: float = 0.0  # leak or burst flow per hour, abnormal factor, share of a drop
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "meter_ids": list(self.meter_ids),
            "group": self.group,
            "resource": self.resource,
            "level": self.level,
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "size": self.size,
            "note": self.note,
        }

    def window(self, horizon: int) -> tuple[int, int]:
        """Start and end as epoch seconds (``horizon`` when open-ended)."""
        end = to_seconds(self.end) if self.end else horizon
        return to_seconds(self.start), end


def write_truth(faults: list[Fault], path: Path) -> None:
    """Write the ground truth as JSON (``.json``) or CSV (anything else)."""
    rows = [fault.to_dict() for fault in faults]
    if path.suffix == ".json":
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["kind"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "meter_ids": " ".join(row["meter_ids"])})


@dataclass
class Bender:
    """Applies the reporting faults of single meters to a day of true register values.

    ``offset`` carries, per meter, how far the reported index has drifted from the true one
    (after a stuck spell, a drop or reverse running), so later days continue from there.
    """

    offset: Floats
    frozen: dict[int, float]  # fault number → value the meter froze at / reversed from
    origin: dict[int, float]  # fault number → true index when reverse running began

    @classmethod
    def empty(cls, meters: int) -> Bender:
        """No drift yet."""
        return cls(np.zeros(meters), {}, {})

    def bend(
        self,
        true: Floats,
        times: Ints,
        faults: list[tuple[int, int, Fault, int, int]],
        before: Floats,
    ) -> tuple[Floats, np.ndarray[Any, np.dtype[np.bool_]]]:
        """Reported values and a mask of missing readings for one day.

        ``faults`` holds (fault number, meter row, fault, start s, end s); ``before`` is each
        meter's true index just before the day.
        """
        reported = true - self.offset[:, None]
        missing = np.zeros(true.shape, dtype=bool)
        for number, row, fault, start, end in faults:
            inside = (times >= start) & (times < end)
            after = times >= end
            if not inside.any() and not (after.any() and times[0] < end + 86_400):
                continue
            self._one(number, row, fault, inside, after, true, reported, missing, before)
        return reported, missing

    def _one(
        self,
        number: int,
        row: int,
        fault: Fault,
        inside: Any,
        after: Any,
        true: Floats,
        reported: Floats,
        missing: Any,
        before: Floats,
    ) -> None:
        kind = fault.kind
        first = int(np.argmax(inside)) if inside.any() else -1
        if kind in ("gap", "silent"):
            missing[row, inside] = True
        elif kind == "negative":
            reported[row, inside] = -np.abs(reported[row, inside]) - 1.0
        elif kind == "spike" and first >= 0:
            reported[row, first] += 5_000.0 + 50.0 * abs(reported[row, first]) ** 0.5
        elif kind == "decreasing" and first >= 0:
            drop = fault.size * reported[row, first]
            reported[row, first:] -= drop
            self.offset[row] += drop
        elif kind in ("stuck", "reverse_flow"):
            self._hold(number, row, kind, first, inside, after, true, reported, before)

    def _hold(
        self,
        number: int,
        row: int,
        kind: str,
        first: int,
        inside: Any,
        after: Any,
        true: Floats,
        reported: Floats,
        before: Floats,
    ) -> None:
        """Stuck: the index stays where it froze. Reverse: it runs back as fast as the true
        one runs forward. When the spell ends, counting resumes from where it was."""
        if first >= 0 and number not in self.frozen:
            self.frozen[number] = float(reported[row, first])
            self.origin[number] = float(true[row, first])
        if number not in self.frozen:
            return
        held, origin = self.frozen[number], self.origin[number]
        if kind == "stuck":
            reported[row, inside] = held
        else:
            reported[row, inside] = held - (true[row, inside] - origin)
        if after.any():
            k = int(np.argmax(after))
            last_true = true[row, k - 1] if k > 0 else before[row]
            last = held if kind == "stuck" else held - (last_true - origin)
            shift = last_true - last
            if number in self.frozen and not np.isnan(shift):
                reported[row, after] = true[row, after] - shift
                self.offset[row] = shift
                del self.frozen[number]
                del self.origin[number]
