"""Fixtures of the utilities tests: a city context, a metered building, readings helpers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from qala.core.cities import City, CityContext
from qala.utilities import readings, service
from qala.utilities.models import Account, Building, Meter
from qala.utilities.schemas import (
    AccountCreate,
    BuildingCreate,
    MeterCreate,
    ReadingIn,
    ReadingReport,
)

#: A Monday two weeks ago at midnight UTC: readings are in the past, days are whole.
START = (dt.datetime.now(dt.UTC) - dt.timedelta(days=14)).replace(
    hour=0, minute=0, second=0, microsecond=0
)


@pytest.fixture
def ctx(city: City) -> CityContext:
    return CityContext.of(city)


@pytest.fixture
def other_ctx(other_city: City) -> CityContext:
    return CityContext.of(other_city)


@dataclass
class House:
    """A building with an input meter and two metered apartments (cold water)."""

    building: Building
    input: Meter
    flats: list[Meter]
    accounts: list[Account]


def make_house(db: Session, ctx: CityContext, code: str = "B1", residents: int = 10) -> House:
    """A building of ``residents`` with a cold-water input meter and two apartment meters
    (accounts of 2 and 3 residents: the other residents are unmetered)."""
    building = service.create_building(
        db,
        ctx,
        BuildingCreate(
            code=code,
            address=f"Abay avenue {code}",
            district="centre",
            lat=51.15,
            lon=71.45,
            floors=5,
            apartments=20,
            residents=residents,
        ),
    )
    meter = service.create_meter(
        db,
        ctx,
        MeterCreate(
            serial=f"{code}-IN", resource="cold_water", level="building", building_id=building.id
        ),
    )
    accounts, flats = [], []
    for n, people in ((1, 2), (2, 3)):
        account = service.create_account(
            db,
            ctx,
            building.id,
            AccountCreate(number=f"{code}-{n}", apartment=str(n), residents=people),
        )
        accounts.append(account)
        flats.append(
            service.create_meter(
                db,
                ctx,
                MeterCreate(
                    serial=f"{code}-F{n}",
                    resource="cold_water",
                    level="apartment",
                    account_id=account.id,
                ),
            )
        )
    return House(building, meter, flats, accounts)


@pytest.fixture
def house(db: Session, ctx: CityContext) -> House:
    return make_house(db, ctx)


Record = Callable[..., ReadingReport]


@pytest.fixture
def record(db: Session, ctx: CityContext) -> Record:
    """Record hourly index readings of a meter: ``record(meter, [index, ...], start=START)``."""

    def factory(meter: Meter, indexes: list[float], start: dt.datetime = START) -> ReadingReport:
        rows = [
            ReadingIn(meter=meter.serial, at=start + dt.timedelta(hours=h), index=value)
            for h, value in enumerate(indexes)
        ]
        return readings.record_readings(db, ctx, rows)

    return factory


def steady(hours: int, per_hour: float, first: float = 100.0) -> list[float]:
    """Indexes of a meter using ``per_hour`` every hour (``hours + 1`` readings)."""
    return [first + per_hour * h for h in range(hours + 1)]
