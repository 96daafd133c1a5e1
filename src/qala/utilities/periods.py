"""Periods of consumption series (pure): buckets of an hour, a UTC day or a calendar month,
default windows, the same period a year earlier, and a norm spread over a bucket."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
MAX_HOURS = 24 * 62  # hourly series are read live from the hub: at most two months
DEFAULT_SPAN = {"hour": dt.timedelta(hours=48), "day": dt.timedelta(days=30)}


@dataclass(frozen=True)
class Period:
    """``[start, end)`` cut into buckets of ``grain`` (hour, day, month), UTC."""

    start: dt.datetime
    end: dt.datetime
    grain: str

    def buckets(self) -> Iterator[dt.datetime]:
        """The start of every bucket, in order."""
        moment = self.start
        while moment < self.end:
            yield moment
            moment = next_bucket(moment, self.grain)

    def previous_year(self) -> Period:
        """The same period one year earlier."""
        return Period(minus_year(self.start), minus_year(self.end), self.grain)


def floor(moment: dt.datetime, grain: str) -> dt.datetime:
    """The start of the bucket holding ``moment``."""
    moment = moment.astimezone(dt.UTC)
    if grain == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day.replace(day=1) if grain == "month" else day


def next_bucket(moment: dt.datetime, grain: str) -> dt.datetime:
    """The start of the bucket after the one starting at ``moment``."""
    if grain == "hour":
        return moment + HOUR
    if grain == "day":
        return moment + DAY
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=1)


def make_period(
    grain: str, start: dt.datetime | None, end: dt.datetime | None, now: dt.datetime
) -> Period:
    """Whole buckets covering ``[start, end)``; by default the last 48 hours, 30 days or
    12 months up to the current bucket. Naive times are read as UTC."""
    start = start.replace(tzinfo=dt.UTC) if start and start.tzinfo is None else start
    end = end.replace(tzinfo=dt.UTC) if end and end.tzinfo is None else end
    last = next_bucket(floor(end - dt.timedelta(microseconds=1), grain), grain) if end else None
    last = last or next_bucket(floor(now, grain), grain)
    if start is not None:
        first = floor(start, grain)
    elif grain == "month":
        first = floor(last, "month").replace(year=last.year - 1)
    else:
        first = floor(last - DEFAULT_SPAN[grain], grain)
    return Period(first, max(last, first), grain)


def minus_year(moment: dt.datetime) -> dt.datetime:
    """The same moment a year earlier (29 February becomes the 28th)."""
    try:
        return moment.replace(year=moment.year - 1)
    except ValueError:
        return moment.replace(year=moment.year - 1, day=28)


def norm_for(bucket: dt.datetime, grain: str, monthly: float) -> float:
    """A monthly norm's share of one bucket (by the days of that bucket's month)."""
    if grain == "month":
        return monthly
    per_day = monthly / calendar.monthrange(bucket.year, bucket.month)[1]
    return per_day / 24 if grain == "hour" else per_day


def fold(values: Mapping[dt.datetime, float], grain: str) -> dict[dt.datetime, float]:
    """Hourly or daily values summed into buckets of ``grain``."""
    folded: dict[dt.datetime, float] = {}
    for moment, value in values.items():
        key = floor(moment, grain)
        folded[key] = folded.get(key, 0.0) + value
    return folded
