"""Meter readings into the hub: the cumulative index a meter sends, and the interval consumption
derived from it, so that sums of the hub's roll-ups are consumption.

The consumption stored at time t covers (previous reading, t]. It is measured from the highest
recent index: a reading below it (a decreasing index: fault or tamper) is kept as index
evidence for detection but derives no consumption, and a glitch cannot inject a false spike.
A negative or non-finite index, a reading without a time zone or from the future, and a reading
older than the meter's last stored one (which would rewrite the consumption already derived)
are refused and reported; a reading already stored is a harmless duplicate."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from qala.core.cities import CityContext
from qala.core.i18n import _
from qala.hub import client as hub
from qala.utilities import daily
from qala.utilities.models import Meter
from qala.utilities.resources import CONSUMPTION, iri, resource
from qala.utilities.schemas import ReadingIn, ReadingReport, RowError

FUTURE_SLACK = dt.timedelta(minutes=10)
BASELINE_READINGS = 48  # the baseline is the highest of the meter's last readings


@dataclass(frozen=True)
class Derived:
    """The outcome of one reading: index stored, consumption derived (or None), or refused."""

    row: int
    at: dt.datetime
    index: float
    consumption: float | None
    duplicate: bool = False
    error: RowError | None = None


def derive(
    rows: Sequence[tuple[int, dt.datetime, float]],
    baseline: float | None,
    last_at: dt.datetime | None,
    stored: Mapping[dt.datetime, float],
) -> list[Derived]:
    """The consumption of one meter's new readings (pure): ``rows`` (row, at, index) sorted by
    time, ``baseline`` the highest index stored before them, ``last_at`` the meter's last stored
    reading, ``stored`` the indexes already stored at or after the first new reading."""
    out: list[Derived] = []
    seen: dict[dt.datetime, float] = {}
    for row, at, index in rows:
        error = _refusal(row, at, index, last_at, {**stored, **seen})
        if error is not None:
            out.append(Derived(row, at, index, None, error=error))
            continue
        if at in stored or at in seen:
            out.append(Derived(row, at, index, None, duplicate=True))
            baseline = index if baseline is None else max(baseline, index)
            continue
        seen[at] = index
        consumption = None if baseline is None else max(index - baseline, 0.0)
        if baseline is not None and index < baseline:
            consumption = None  # a decreasing index: evidence, not consumption
        baseline = index if baseline is None else max(baseline, index)
        out.append(Derived(row, at, index, consumption))
    return out


def _refusal(
    row: int,
    at: dt.datetime,
    index: float,
    last_at: dt.datetime | None,
    known: Mapping[dt.datetime, float],
) -> RowError | None:
    """Why a reading cannot be stored, or None."""
    if not math.isfinite(index) or index < 0:
        return RowError(row=row, field="index", message=str(_("A meter index cannot be negative.")))
    if at in known:
        if abs(known[at] - index) > 1e-9 * max(1.0, abs(index)):
            message = _("Another index is already recorded for this meter at this time.")
            return RowError(row=row, field="index", message=str(message))
        return None
    if last_at is not None and at < last_at:
        message = _("Older than the meter's last stored reading.")
        return RowError(row=row, field="at", message=str(message))
    return None


def record_readings(db: Session, city: CityContext, readings: Sequence[ReadingIn]) -> ReadingReport:
    """Store index readings and their derived consumption in the hub; refresh the daily
    consumption of the days they touch. Bad readings are reported, never raised."""
    report = ReadingReport(accepted=0, duplicates=0, rejected=0, errors=[])
    meters = _meters_named(db, city, {r.meter for r in readings})
    per_meter: dict[int, list[tuple[int, dt.datetime, float]]] = defaultdict(list)
    now = dt.datetime.now(dt.UTC)
    for row, reading in enumerate(readings, start=1):
        meter = meters.get(reading.meter)
        problem = _check(row, reading, meter, now)
        if problem is not None:
            report.errors.append(problem)
            report.rejected += 1
            continue
        assert meter is not None
        per_meter[meter.id].append((row, reading.at.astimezone(dt.UTC), float(reading.index)))
    by_id = {meter.id: meter for meter in meters.values()}
    points: list[hub.Point] = []
    days: set[dt.date] = set()
    for meter_id, rows in per_meter.items():
        meter = by_id[meter_id]
        for outcome in _derive_for(db, city, meter, sorted(rows, key=lambda r: r[1])):
            if outcome.error is not None:
                report.errors.append(outcome.error)
                report.rejected += 1
            elif outcome.duplicate:
                report.duplicates += 1
            else:
                report.accepted += 1
                points.extend(_points(meter, outcome))
                days.add(outcome.at.date())
    if points:
        hub.append_measurements(db, city.id, points)
        daily.refresh_days(db, city.id, min(days), max(days))
    report.errors.sort(key=lambda e: e.row)
    return report


def _check(row: int, reading: ReadingIn, meter: Meter | None, now: dt.datetime) -> RowError | None:
    if meter is None:
        message = _("There is no meter {meter}.", meter=reading.meter)
        return RowError(row=row, field="meter", message=str(message))
    if reading.at.tzinfo is None:
        return RowError(row=row, field="at", message=str(_("Give the time with its time zone.")))
    if reading.at > now + FUTURE_SLACK:
        return RowError(row=row, field="at", message=str(_("A reading cannot be in the future.")))
    return None


def _derive_for(
    db: Session, city: CityContext, meter: Meter, rows: list[tuple[int, dt.datetime, float]]
) -> list[Derived]:
    attribute = iri(resource(meter.resource).index_attribute)
    first = rows[0][1]
    before = hub.read_series(
        db, city.id, meter.entity_id, attribute, end=first, last_n=BASELINE_READINGS
    )
    later = hub.read_series(db, city.id, meter.entity_id, attribute, start=first)
    values = [float(v) for _t, v in before if isinstance(v, int | float)]
    baseline = max(values) if values else None
    last_at = max([t for t, _v in later] + [t for t, _v in before[-1:]], default=None)
    stored = {t: float(v) for t, v in later if isinstance(v, int | float)}
    return derive(rows, baseline, last_at, stored)


def _points(meter: Meter, outcome: Derived) -> list[hub.Point]:
    spec = resource(meter.resource)
    points = [
        hub.Point(meter.entity_id, iri(spec.index_attribute), outcome.at, value=outcome.index)
    ]
    if outcome.consumption is not None:
        points.append(
            hub.Point(meter.entity_id, iri(CONSUMPTION), outcome.at, value=outcome.consumption)
        )
    return points


def _meters_named(db: Session, city: CityContext, names: set[str]) -> dict[str, Meter]:
    """Meters by serial, entity id or numeric id, as the readings name them."""
    numbers = [int(name) for name in names if name.isdigit()]
    query = select(Meter).where(
        Meter.city_id == city.id,
        or_(
            Meter.serial.in_(names),
            Meter.entity_id.in_(names),
            Meter.id.in_(numbers),
        ),
    )
    found: dict[str, Meter] = {}
    for meter in db.scalars(query):
        for key in (meter.serial, meter.entity_id, str(meter.id)):
            if key in names:
                found.setdefault(key, meter)
    return found
