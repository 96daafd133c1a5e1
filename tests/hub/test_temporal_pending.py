"""Roll-ups kept off the write path: on PostgreSQL a history batch leaves its hourly deltas
pending, drains add them to the roll-ups exactly once (many batches together), and every
reader or rewriter of roll-ups settles first, so what it sees is exact. SQLite rolls up in the
write and has nothing pending."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qala.core.cities import City
from qala.core.db import Database
from qala.hub.temporal import pending, store
from qala.hub.temporal.models import HubTemporalHourly, HubTemporalPending, HubTemporalSeries
from qala.hub.temporal.store import Point
from qala.hub.temporal.writing import COPY_THRESHOLD

METER = "urn:ngsi-ld:WaterMeter:1"
FLOW = "https://uri.etsi.org/ngsi-ld/default-context/flow"
NOON = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)


def at(minute: int, value: float, entity: str = METER) -> Point:
    return Point(entity, FLOW, NOON + dt.timedelta(minutes=minute), value=value)


def pending_rows(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(HubTemporalPending)) or 0)


def stored_hours(db: Session, city: City) -> list[tuple[int, float, float | None]]:
    """Hourly roll-up rows as stored, without settling."""
    rows = db.execute(
        select(HubTemporalHourly.count, HubTemporalHourly.total, HubTemporalHourly.maximum)
        .join(HubTemporalSeries, HubTemporalSeries.id == HubTemporalHourly.series_id)
        .where(HubTemporalSeries.city_id == city.id, HubTemporalSeries.entity_id == METER)
        .order_by(HubTemporalHourly.bucket)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


@pytest.fixture
def on_postgres(db: Session) -> None:
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("pending roll-ups exist on PostgreSQL only")


@pytest.mark.usefixtures("on_postgres")
def test_a_batch_leaves_its_deltas_pending_and_a_reader_settles_them(
    db: Session, city: City
) -> None:
    store.append_measurements(db, city.id, [at(0, 2.0), at(10, 4.0)])
    assert pending_rows(db) == 1
    assert stored_hours(db, city) == []
    (hour,) = store.read_rollup(db, city.id, METER, FLOW, "hour")
    assert (hour.count, hour.total, hour.minimum, hour.maximum) == (2, 6.0, 2.0, 4.0)
    assert pending_rows(db) == 0


@pytest.mark.usefixtures("on_postgres")
def test_drains_add_many_batches_at_once_exactly_once(
    db: Session, database: Database, city: City
) -> None:
    for minute in range(0, 60, 5):  # twelve batches of one series in one hour
        store.append_measurements(db, city.id, [at(minute, float(minute))])
    store.append_measurements(db, city.id, [at(0, 99.0), at(5, 99.0)])  # duplicates: nothing new
    db.flush()
    assert pending_rows(db) == 12
    assert pending.drain(database) == 12
    assert pending.drain(database) == 0
    assert stored_hours(db, city) == [(12, float(sum(range(0, 60, 5))), 55.0)]
    (day,) = store.read_rollup(db, city.id, METER, FLOW, "day")
    assert (day.count, day.minimum, day.maximum) == (12, 0.0, 55.0)
    assert (day.first_at, day.last_at) == (NOON, NOON + dt.timedelta(minutes=55))


@pytest.mark.usefixtures("on_postgres")
def test_a_late_batch_updates_the_rollups_already_drained(db: Session, city: City) -> None:
    store.append_measurements(db, city.id, [at(0, 1.0)])
    pending.settle(db)
    store.append_measurements(db, city.id, [at(30, -5.0), at(90, 7.0)])
    hours = store.read_rollup(db, city.id, METER, FLOW, "hour")
    assert [(b.count, b.total, b.minimum) for b in hours] == [(2, -4.0, -5.0), (1, 7.0, 7.0)]


@pytest.mark.usefixtures("on_postgres")
def test_copy_batches_are_pending_too(db: Session, city: City) -> None:
    batch = [
        Point(f"urn:ngsi-ld:WaterMeter:{n}", FLOW, NOON, value=1.5)
        for n in range(COPY_THRESHOLD + 10)
    ]
    assert store.append_measurements(db, city.id, batch, {METER: ["WaterMeter"]}) == len(batch)
    assert pending_rows(db) == 1
    assert store.append_measurements(db, city.id, batch) == 0
    assert pending_rows(db) == 1
    (hour,) = store.read_rollup(db, city.id, "urn:ngsi-ld:WaterMeter:7", FLOW, "hour")
    assert (hour.count, hour.total) == (1, 1.5)


@pytest.mark.usefixtures("on_postgres")
def test_deleting_history_first_settles_so_rollups_do_not_come_back(
    db: Session, database: Database, city: City
) -> None:
    store.append_measurements(db, city.id, [at(0, 3.0)], {METER: ["WaterMeter"]})
    assert store.delete_entity(db, city.id, METER)
    pending.drain(database)
    assert stored_hours(db, city) == []
    assert store.read_rollup(db, city.id, METER, FLOW, "hour") == []


@pytest.mark.usefixtures("on_postgres")
def test_the_worker_drains_what_is_left_when_it_stops(
    db: Session, database: Database, city: City
) -> None:
    store.append_measurements(db, city.id, [at(0, 3.0), at(1, 4.0)])
    worker = pending.RollupWorker(database, interval=3600)
    worker.start()
    worker.stop()
    assert pending_rows(db) == 0
    assert stored_hours(db, city) == [(2, 7.0, 4.0)]


def test_sqlite_rolls_up_in_the_write(db: Session, city: City) -> None:
    if db.get_bind().dialect.name != "sqlite":
        pytest.skip("the embedded database only")
    store.append_measurements(db, city.id, [at(0, 2.0), at(10, 4.0)])
    assert pending_rows(db) == 0
    assert stored_hours(db, city) == [(2, 6.0, 4.0)]
    assert pending.settle(db) == 0
