"""Aggregation of histories without a database: ISO 8601 durations, periods from an origin,
every method against hand-computed values, and when roll-ups may answer."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from qala.hub.temporal import aggregate
from qala.hub.temporal.aggregate import Duration, PeriodPlan, parse_duration

T0 = dt.datetime(2024, 1, 31, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "months", "seconds"),
    [
        ("PT1H", 0, 3600),
        ("P1D", 0, 86400),
        ("PT0S", 0, 0),
        ("P0D", 0, 0),
        ("P1W", 0, 604800),
        ("P1Y2M", 14, 0),
        ("P3DT12H30M5.5S", 0, 3 * 86400 + 12 * 3600 + 30 * 60 + 5.5),
    ],
)
def test_durations(text: str, months: int, seconds: float) -> None:
    duration = parse_duration(text)
    assert (duration.months, duration.fixed.total_seconds()) == (months, seconds)


@pytest.mark.parametrize("text", ["bogus", "P", "PT", "1H", "PT1H2D", "P-1D", "PT1.5H", ""])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_duration(text)


def test_calendar_periods_clamp_to_the_month_end() -> None:
    plan = PeriodPlan(T0, parse_duration("P1M"))
    assert [plan.start(k).date().isoformat() for k in range(3)] == [
        "2024-01-31",
        "2024-02-29",
        "2024-03-31",
    ]
    assert plan.index(dt.datetime(2024, 3, 1, tzinfo=dt.UTC)) == 1
    assert plan.index(T0 - dt.timedelta(seconds=1)) == -1


def test_methods_by_hand() -> None:
    samples = [
        (T0, 2.0),
        (T0 + dt.timedelta(minutes=10), 4.0),
        (T0 + dt.timedelta(minutes=20), 4.0),
        (T0 + dt.timedelta(minutes=70), 9.0),
    ]
    plan = PeriodPlan(T0, parse_duration("PT1H"))
    result = aggregate.aggregate_samples(samples, aggregate.METHODS, plan)
    first, second = T0, T0 + dt.timedelta(hours=1)
    assert result["totalCount"] == [(3, first, second), (1, second, second + dt.timedelta(hours=1))]
    assert [v for v, _s, _e in result["distinctCount"]] == [2, 1]
    assert [v for v, _s, _e in result["sum"]] == [10.0, 9.0]
    assert [v for v, _s, _e in result["avg"]] == [pytest.approx(10 / 3), 9.0]
    assert [v for v, _s, _e in result["min"]] == [2.0, 9.0]
    assert [v for v, _s, _e in result["max"]] == [4.0, 9.0]
    assert [v for v, _s, _e in result["sumsq"]] == [36.0, 81.0]
    # sample standard deviation of 2, 4, 4: mean 10/3, squares of deviations sum to 8/3
    assert result["stddev"][0][0] == pytest.approx(math.sqrt((8 / 3) / 2))
    assert result["stddev"][1][0] == 0.0


def test_empty_periods_are_left_out_and_text_is_compared() -> None:
    samples = [(T0, "b"), (T0 + dt.timedelta(hours=5), "a"), (T0 + dt.timedelta(hours=5), "c")]
    plan = PeriodPlan(T0, parse_duration("PT1H"))
    result = aggregate.aggregate_samples(samples, ("min", "max", "sum", "totalCount"), plan)
    assert [s.hour for _v, s, _e in result["totalCount"]] == [12, 17]
    assert [v for v, _s, _e in result["min"]] == ["b", "a"]
    assert [v for v, _s, _e in result["max"]] == ["b", "c"]
    assert [v for v, _s, _e in result["sum"]] == [None, None]


def test_a_zero_duration_is_one_period_over_the_whole_range() -> None:
    end = T0 + dt.timedelta(days=2)
    plan = aggregate.plan_periods(Duration(), (None, end), T0, T0 + dt.timedelta(hours=3))
    result = aggregate.aggregate_samples([(T0, 1), (T0 + dt.timedelta(hours=3), 3)], ["avg"], plan)
    assert result["avg"] == [(2.0, T0, end)]


def test_rollups_answer_only_whole_hours_and_days() -> None:
    day = T0.replace(hour=0)
    window = (day, day + dt.timedelta(days=7))

    def grain(origin: dt.datetime, text: str, methods: tuple[str, ...] = ("avg",)) -> str | None:
        plan = PeriodPlan(origin, parse_duration(text))
        return aggregate.rollup_grain(plan, (origin, window[1]), methods)

    assert grain(day, "P1D") == "day"
    assert grain(day, "P1M") == "day"
    assert grain(T0, "PT1H") == "hour"
    assert grain(T0, "P1D") == "hour"  # whole days, but they start at noon: 24 hourly buckets
    assert grain(T0, "PT30M") is None
    assert grain(T0 + dt.timedelta(minutes=5), "PT1H") is None
    assert grain(day, "P1D", ("distinctCount",)) is None
    assert aggregate.rollup_grain(PeriodPlan(day, Duration()), (None, None), ["avg"]) is None
