"""Aggregation of attribute histories (NGSI-LD aggregated temporal representation, §4.5.19):
ISO 8601 durations, periods counted from an origin, and the aggregation methods over raw
samples or over hourly/daily roll-ups. Pure: plain data in and out, no database."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
#: Methods a roll-up can answer (distinctCount needs the values themselves).
ROLLUP_METHODS = frozenset(METHODS) - {"distinctCount"}
DURATION = re.compile(
    r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
HOUR, DAY = 3600, 86400


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration: calendar months (years are 12 months) and a fixed part."""

    months: int = 0
    fixed: dt.timedelta = dt.timedelta(0)

    @property
    def is_zero(self) -> bool:
        """True for PT0S / P0D: one period spanning the whole time range."""
        return self.months == 0 and not self.fixed


def parse_duration(text: str) -> Duration:
    """Parse ``P[n]Y[n]M[n]W[n]DT[n]H[n]M[n]S`` (or ``0``); ValueError when it is not one."""
    if text.strip() == "0":
        return Duration()
    match = DURATION.match(text.strip())
    if match is None or text.strip().endswith("T"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    years, months, weeks, days, hours, minutes = (int(g or 0) for g in match.groups()[:6])
    seconds = float(match.group(7) or 0)
    fixed = dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    return Duration(months=years * 12 + months, fixed=fixed)


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """``moment`` moved by whole calendar months (the day clamped to the month's length)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True)
class PeriodPlan:
    """Periods ``[origin + k·duration, origin + (k+1)·duration)``; a zero duration means one
    period ``[origin, end]``."""

    origin: dt.datetime
    duration: Duration
    end: dt.datetime | None = None

    def start(self, index: int) -> dt.datetime:
        """Start of period ``index``."""
        moment = add_months(self.origin, index * self.duration.months)
        return moment + index * self.duration.fixed

    def bounds(self, index: int) -> tuple[dt.datetime, dt.datetime]:
        """Start and end of period ``index``."""
        if self.duration.is_zero:
            return self.origin, self.end or self.origin
        return self.start(index), self.start(index + 1)

    def index(self, moment: dt.datetime) -> int:
        """The period ``moment`` falls in (negative before the origin)."""
        if self.duration.is_zero:
            return 0
        if not self.duration.months:
            return (moment - self.origin) // self.duration.fixed
        months = (moment.year - self.origin.year) * 12 + moment.month - self.origin.month
        guess = months // self.duration.months
        while self.start(guess) > moment:
            guess -= 1
        while self.start(guess + 1) <= moment:
            guess += 1
        return guess


def plan_periods(
    duration: Duration,
    window: tuple[dt.datetime | None, dt.datetime | None],
    first: dt.datetime,
    last: dt.datetime,
) -> PeriodPlan:
    """Periods for a time window (either end may be open) holding samples from first to last:
    they start at the window's start, else at the first sample (as the spec's examples do)."""
    start, end = window
    return PeriodPlan(origin=start or first, duration=duration, end=end or last)


def is_numeric(value: Any) -> bool:
    """True for a finite JSON number (booleans are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class Summary:
    """What the methods need to know about the instances of one period."""

    count: int = 0
    numeric_count: int = 0
    total: float = 0.0
    total_squares: float = 0.0
    minimum: float | None = None
    maximum: float | None = None
    other_min: Any = None  # smallest non-numeric comparable value (strings, date-times)
    other_max: Any = None
    distinct: set[str] | None = field(default_factory=set)  # None: not known (roll-ups)

    def add(self, value: Any) -> None:
        """Count one instance's value."""
        self.count += 1
        if self.distinct is not None:
            self.distinct.add(json.dumps(value, sort_keys=True))
        if is_numeric(value):
            number = float(value)
            self.numeric_count += 1
            self.total += number
            self.total_squares += number * number
            self.minimum = number if self.minimum is None else min(self.minimum, number)
            self.maximum = number if self.maximum is None else max(self.maximum, number)
        elif isinstance(value, str):
            self.other_min = value if self.other_min is None else min(self.other_min, value)
            self.other_max = value if self.other_max is None else max(self.other_max, value)

    def merge(self, other: Summary) -> None:
        """Fold another summary (of a later or earlier part of the period) into this one."""
        self.count += other.count
        self.numeric_count += other.numeric_count
        self.total += other.total
        self.total_squares += other.total_squares
        self.minimum = _pick(min, self.minimum, other.minimum)
        self.maximum = _pick(max, self.maximum, other.maximum)
        self.other_min = _pick(min, self.other_min, other.other_min)
        self.other_max = _pick(max, self.other_max, other.other_max)
        if self.distinct is None or other.distinct is None:
            self.distinct = None
        else:
            self.distinct |= other.distinct


def _pick(choose: Any, first: Any, second: Any) -> Any:
    if first is None:
        return second
    return first if second is None else choose(first, second)


def _stddev(summary: Summary) -> float:
    """Sample standard deviation (as SQL's ``stddev``); 0 for a single value."""
    n = summary.numeric_count
    if n < 2:
        return 0.0
    return math.sqrt(max(0.0, (summary.total_squares - summary.total**2 / n) / (n - 1)))


_NUMERIC_METHODS: dict[str, Callable[[Summary], Any]] = {
    "sum": lambda s: s.total,
    "avg": lambda s: s.total / s.numeric_count,
    "sumsq": lambda s: s.total_squares,
    "stddev": _stddev,
}


def method_value(summary: Summary, method: str) -> Any:
    """The value of one aggregation method over a period (None when it does not apply)."""
    if method == "totalCount":
        return summary.count
    if method == "distinctCount":
        return len(summary.distinct) if summary.distinct is not None else None
    numeric = summary.numeric_count > 0
    if method in ("min", "max"):
        if method == "min":
            return summary.minimum if numeric else summary.other_min
        return summary.maximum if numeric else summary.other_max
    if method not in _NUMERIC_METHODS:
        raise ValueError(f"unknown aggregation method {method}")
    return _NUMERIC_METHODS[method](summary) if numeric else None


Aggregated = dict[str, list[tuple[Any, dt.datetime, dt.datetime]]]


def _in_plan(plan: PeriodPlan, index: int, moment: dt.datetime) -> bool:
    if index < 0:
        return False
    return not (plan.duration.is_zero and plan.end is not None and moment > plan.end)


def _evaluate(periods: dict[int, Summary], methods: Sequence[str], plan: PeriodPlan) -> Aggregated:
    result: Aggregated = {method: [] for method in methods}
    for index in sorted(periods):
        start, end = plan.bounds(index)
        for method in methods:
            result[method].append((method_value(periods[index], method), start, end))
    return result


def aggregate_summaries(
    parts: Iterable[tuple[dt.datetime, Summary]], methods: Sequence[str], plan: PeriodPlan
) -> Aggregated:
    """Fold time-stamped summaries (one per roll-up bucket) into the plan's periods and
    evaluate ``methods``; periods without instances are left out."""
    periods: dict[int, Summary] = {}
    for moment, part in parts:
        index = plan.index(moment)
        if _in_plan(plan, index, moment):
            periods.setdefault(index, Summary()).merge(part)
    return _evaluate(periods, methods, plan)


def aggregate_samples(
    samples: Iterable[tuple[dt.datetime, Any]], methods: Sequence[str], plan: PeriodPlan
) -> Aggregated:
    """Aggregate raw (time, value) samples over the plan's periods."""
    keep_distinct = "distinctCount" in methods
    periods: dict[int, Summary] = {}
    for moment, value in samples:
        index = plan.index(moment)
        if not _in_plan(plan, index, moment):
            continue
        summary = periods.get(index)
        if summary is None:
            summary = periods[index] = Summary(distinct=set() if keep_distinct else None)
        summary.add(value)
    return _evaluate(periods, methods, plan)


def rollup_summary(row: Mapping[str, Any]) -> Summary:
    """A summary from one roll-up row (count, numeric_count, total, ... as stored)."""
    return Summary(
        count=int(row["count"]),
        numeric_count=int(row["numeric_count"]),
        total=float(row["total"]),
        total_squares=float(row["total_squares"]),
        minimum=row["minimum"],
        maximum=row["maximum"],
        distinct=None,
    )


def _aligned(moment: dt.datetime | None, size: int) -> bool:
    if moment is None:
        return True
    utc = moment.astimezone(dt.UTC)
    seconds = utc.hour * HOUR + utc.minute * 60 + utc.second
    return utc.microsecond == 0 and seconds % size == 0


def rollup_grain(
    plan: PeriodPlan, window: tuple[dt.datetime | None, dt.datetime | None], methods: Iterable[str]
) -> str | None:
    """``"day"`` or ``"hour"`` when every period is a union of whole roll-up buckets (origin,
    window and duration on bucket boundaries) and the methods need no raw values; else None."""
    if not set(methods) <= ROLLUP_METHODS or window[0] is None:
        return None
    seconds = plan.duration.fixed.total_seconds()
    for grain, size in (("day", DAY), ("hour", HOUR)):
        if plan.duration.months and grain == "hour":
            continue
        if seconds % size or not all(_aligned(t, size) for t in (plan.origin, *window)):
            continue
        return grain
    return None
