"""Consumption sums per meter, building, district and city; grains; last year; the norm; top
consumers; a building's balance and a district's losses; the settled daily table."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from qala.core.cities import CityContext
from qala.utilities import balance, consumption, daily, service
from qala.utilities.models import DailyConsumption
from qala.utilities.periods import minus_year
from qala.utilities.schemas import MeterCreate, NormUpdate

from .conftest import START, House, Record, steady

DAY = dt.timedelta(days=1)
END = START + 3 * DAY


@pytest.fixture
def metered(house: House, record: Record) -> House:
    """48 hours: input 3/h, flat 1 uses 1/h, flat 2 0.5/h (readings on every hour 0..48)."""
    record(house.input, steady(48, 3.0))
    record(house.flats[0], steady(48, 1.0))
    record(house.flats[1], steady(48, 0.5))
    return house


def series(
    db: Session, ctx: CityContext, kind: str, grain: str = "day", **kw: object
) -> list[float]:
    scope = consumption.resolve_scope(
        db,
        ctx,
        kind,
        kw.pop("id", None),
        "cold_water",
        str(kw.pop("level", "building")),
        kw.pop("district", None),  # type: ignore[arg-type]
    )
    result = consumption.consumption_series(db, ctx, scope, grain, START, END, compare=False)
    return [p.value for p in result.points]


def test_building_and_meter_per_day_and_hour(db: Session, ctx: CityContext, metered: House) -> None:
    # The first reading only sets the baseline: day one has 23 hours of consumption.
    assert series(db, ctx, "building", id=metered.building.id) == [69.0, 72.0, 3.0]
    assert series(db, ctx, "building", id=metered.building.id, level="apartment") == [
        34.5,
        36.0,
        1.5,
    ]
    assert series(db, ctx, "meter", id=metered.flats[0].id) == [23.0, 24.0, 1.0]
    hourly = consumption.consumption_series(
        db,
        ctx,
        consumption.resolve_scope(db, ctx, "meter", metered.input.id, "cold_water", "building"),
        "hour",
        START,
        START + dt.timedelta(hours=3),
    )
    assert [p.value for p in hourly.points] == [0.0, 3.0, 3.0]


def test_district_and_city_agree_live_and_settled(
    db: Session, ctx: CityContext, metered: House
) -> None:
    live = series(db, ctx, "city")
    assert live == series(db, ctx, "district", district="centre") == [69.0, 72.0, 3.0]
    settings = daily.city_settings(db, ctx.id)
    settings.daily_through = daily.today()  # every past day is settled: read from the table
    assert series(db, ctx, "city") == live
    db.execute(delete(DailyConsumption).where(DailyConsumption.day == START.date()))
    assert series(db, ctx, "city")[0] == 0.0  # proof the settled days come from the table
    daily.settle(db, ctx.id, since=START.date())
    assert series(db, ctx, "city") == live


def test_monthly_totals_fold_the_days(db: Session, ctx: CityContext, metered: House) -> None:
    scope = consumption.resolve_scope(db, ctx, "city", None, "cold_water", "building")
    result = consumption.consumption_series(db, ctx, scope, "month", START, END, compare=False)
    assert sum(p.value for p in result.points) == result.total == 144.0


def test_previous_year_and_norm(
    db: Session, ctx: CityContext, house: House, record: Record
) -> None:
    record(house.input, steady(48, 1.0, first=10.0), start=minus_year(START))
    record(house.input, steady(48, 3.0, first=500.0))
    service_norm = consumption.set_norm(
        db, ctx, NormUpdate(resource="cold_water", per_resident_month=3.0)
    )
    assert service_norm.per_resident_month == 3.0 and not service_norm.default
    scope = consumption.resolve_scope(
        db, ctx, "building", house.building.id, "cold_water", "building"
    )
    result = consumption.consumption_series(db, ctx, scope, "day", START, END)
    assert [p.previous_year for p in result.points] == [23.0, 24.0, 1.0]
    assert result.previous_year_total == 48.0 and result.residents == 10
    days_in_month = calendar.monthrange(START.year, START.month)[1]
    assert result.points[0].norm == pytest.approx(3.0 * 10 / days_in_month)


def test_top_consumers_rank_meters_and_compare_with_the_norm(
    db: Session, ctx: CityContext, metered: House
) -> None:
    top = consumption.top_consumers(db, ctx, "cold_water", "apartment", START, END)
    assert [t.serial for t in top] == ["B1-F1", "B1-F2"]
    assert top[0].total == 48.0 and top[0].per_resident == 24.0
    assert top[0].address == "Abay avenue B1"
    months = 2 / 30.4375  # the 48 hours it reported (hours 1 to 48), not the whole window
    assert top[0].norm_ratio == pytest.approx(24.0 / (3.9 * months))


def test_building_balance_counts_the_unmetered_residents(
    db: Session, ctx: CityContext, metered: House
) -> None:
    result = balance.building_balance(db, ctx, metered.building.id, "cold_water", "day", START, END)
    second = result.points[1]
    days_in_month = calendar.monthrange(START.year, START.month)[1]
    estimate = 3.9 * 5 / days_in_month  # 10 residents, 5 of them in metered apartments
    assert (second.supplied, second.consumed) == (72.0, 36.0)
    assert second.estimated == pytest.approx(estimate)
    assert second.loss == pytest.approx(72.0 - 36.0 - estimate)
    assert second.loss_percent == pytest.approx(round(100 * second.loss / 72.0, 2))
    assert result.supplied == 144.0 and result.consumed == 72.0


def test_district_losses(db: Session, ctx: CityContext, metered: House, record: Record) -> None:
    main = service.create_meter(
        db,
        ctx,
        MeterCreate(serial="D1", resource="cold_water", level="district", district="centre"),
    )
    record(main, steady(48, 4.0))
    result = balance.district_losses_series(db, ctx, "centre", "cold_water", "day", START, END)
    assert [(p.supplied, p.consumed, p.loss_percent) for p in result.points][1] == (
        96.0,
        72.0,
        25.0,
    )
    (centre,) = balance.district_losses(db, ctx, "cold_water", START, END)
    assert (centre.supplied, centre.consumed, centre.loss) == (192.0, 144.0, 48.0)
    city = balance.district_losses_series(db, ctx, None, "cold_water", "day", START, END)
    assert city.loss_percent == 25.0


def test_another_city_has_no_consumption(
    db: Session, ctx: CityContext, other_ctx: CityContext, metered: House
) -> None:
    assert series(db, other_ctx, "city") == [0.0, 0.0, 0.0]
    assert consumption.top_consumers(db, other_ctx, "cold_water", "apartment", START, END) == []
