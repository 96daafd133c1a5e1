"""The temporal store: idempotent writes, roll-ups that never count a duplicate, late data,
monthly partitions on PostgreSQL (nothing lost outside them), retention, tenant isolation."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from qala.core.cities import City
from qala.hub.temporal import partitions, store
from qala.hub.temporal.models import HubTemporalDaily, HubTemporalValue
from qala.hub.temporal.retention import prune_history
from qala.hub.temporal.store import Point
from qala.hub.temporal.writing import COPY_THRESHOLD

METER = "urn:ngsi-ld:WaterMeter:1"
FLOW = "https://uri.etsi.org/ngsi-ld/default-context/flow"
NOON = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)


def points(*pairs: tuple[int, float], entity: str = METER) -> list[Point]:
    """Points of FLOW at NOON + minutes."""
    return [Point(entity, FLOW, NOON + dt.timedelta(minutes=m), value=v) for m, v in pairs]


def hourly(db: Session, city: City, start: dt.datetime = NOON) -> store.Bucket:
    (bucket,) = [b for b in store.read_rollup(db, city.id, METER, FLOW, "hour") if b.start == start]
    return bucket


def test_a_duplicate_write_is_harmless_and_not_counted_twice(db: Session, city: City) -> None:
    batch = points((0, 2.0), (10, 4.0), (20, 6.0))
    assert store.append_measurements(db, city.id, batch) == 3
    assert store.append_measurements(db, city.id, batch) == 0
    assert store.append_measurements(db, city.id, [*batch[1:], *points((30, 8.0))]) == 1
    assert [v for _t, v in store.read_series(db, city.id, METER, FLOW)] == [2, 4, 6, 8]
    bucket = hourly(db, city)
    assert (bucket.count, bucket.total, bucket.minimum, bucket.maximum) == (4, 20.0, 2.0, 8.0)
    assert bucket.total_squares == 4 + 16 + 36 + 64
    assert bucket.first_at == NOON and bucket.last_at == NOON + dt.timedelta(minutes=30)
    (day,) = store.read_rollup(db, city.id, METER, FLOW, "day")
    assert (day.start, day.count, day.average) == (NOON.replace(hour=0), 4, 5.0)


def test_late_data_lands_in_its_own_bucket(db: Session, city: City) -> None:
    store.append_measurements(db, city.id, points((0, 10.0), (5, 12.0)))
    store.append_measurements(db, city.id, points((-90, 1.0), (-80, 3.0)))  # 10:30, 10:40
    early = hourly(db, city, NOON - dt.timedelta(hours=2))
    assert (early.count, early.total, early.minimum) == (2, 4.0, 1.0)
    assert hourly(db, city).count == 2
    (day,) = store.read_rollup(db, city.id, METER, FLOW, "day")
    assert (day.count, day.minimum, day.maximum) == (4, 1.0, 12.0)
    assert day.first_at == NOON - dt.timedelta(minutes=90)
    series = store.read_series(db, city.id, METER, FLOW)
    assert [v for _t, v in series] == [1, 3, 10, 12]  # oldest first, whatever the write order


def test_series_window_and_last_n(db: Session, city: City) -> None:
    store.append_measurements(db, city.id, points(*((m, float(m)) for m in range(0, 60, 10))))
    window = store.read_series(
        db,
        city.id,
        METER,
        FLOW,
        start=NOON + dt.timedelta(minutes=10),
        end=NOON + dt.timedelta(minutes=40),
    )
    assert [v for _t, v in window] == [10, 20, 30]  # start inclusive, end exclusive
    assert [v for _t, v in store.read_series(db, city.id, METER, FLOW, last_n=2)] == [40, 50]


def test_text_values_are_counted_but_not_summed(db: Session, city: City) -> None:
    store.append_measurements(
        db,
        city.id,
        [
            *points((0, 5.0)),
            Point(METER, FLOW, NOON + dt.timedelta(minutes=1), value="broken"),
        ],
    )
    bucket = hourly(db, city)
    assert (bucket.count, bucket.numeric_count, bucket.total, bucket.average) == (2, 1, 5.0, 5.0)
    assert [v for _t, v in store.read_series(db, city.id, METER, FLOW)] == [5, "broken"]


def test_big_batches_are_idempotent_too(db: Session, city: City) -> None:
    many = [
        Point(METER, FLOW, NOON + dt.timedelta(minutes=i), value=float(i % 7))
        for i in range(COPY_THRESHOLD + 100)
    ]  # COPY on PostgreSQL
    assert store.append_measurements(db, city.id, many) == len(many)
    assert store.append_measurements(db, city.id, many) == 0
    buckets = store.read_rollup(db, city.id, METER, FLOW, "hour")
    assert sum(b.count for b in buckets) == len(many)
    assert sum(b.total for b in buckets) == sum(float(i % 7) for i in range(len(many)))
    days = db.scalar(
        select(func.sum(HubTemporalDaily.count)).where(HubTemporalDaily.city_id == city.id)
    )
    assert days == len(many)


def test_another_city_sees_nothing(db: Session, city: City, other_city: City) -> None:
    store.append_measurements(db, city.id, points((0, 1.0)))
    assert store.read_series(db, other_city.id, METER, FLOW) == []
    assert store.read_rollup(db, other_city.id, METER, FLOW) == []
    assert store.append_measurements(db, other_city.id, points((0, 9.0))) == 1  # its own key
    assert [v for _t, v in store.read_series(db, city.id, METER, FLOW)] == [1]


def test_measurements_of_a_known_entity_get_a_temporal_record(db: Session, city: City) -> None:
    store.append_measurements(
        db, city.id, points((0, 1.0)), types={METER: ["https://example.org/WaterMeter"]}
    )
    found = store.get_entity(db, city.id, METER)
    assert found is not None and found.types == ["https://example.org/WaterMeter"]


def test_a_batch_of_changes_is_recorded_in_one_go(db: Session, city: City) -> None:
    from qala.hub.service import Change
    from qala.hub.temporal.history import record_changes

    def entity(value: float, at: str) -> dict[str, object]:
        instance = {
            "type": "Property",
            "value": value,
            "observedAt": at,
            "createdAt": at,
            "modifiedAt": at,
        }
        return {
            "id": METER,
            "type": ["https://example.org/WaterMeter"],
            "createdAt": at,
            "modifiedAt": at,
            "attrs": {FLOW: [instance]},
        }

    first = entity(1.0, "2024-03-05T12:00:00.000Z")
    second = entity(2.0, "2024-03-05T12:10:00.000Z")
    record_changes(
        db,
        [
            Change(city.id, METER, None, first, (FLOW,)),
            Change(city.id, METER, first, second, (FLOW,)),
        ],
    )
    assert [v for _t, v in store.read_series(db, city.id, METER, FLOW)] == [1, 2]
    found = store.get_entity(db, city.id, METER)
    assert found is not None and found.types == ["https://example.org/WaterMeter"]
    record_changes(db, [Change(city.id, METER, second, None, (FLOW,))])  # deleted
    assert hourly(db, city).count == 2  # a deletion marker is not an observation


def _postgres(db: Session) -> None:
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("partitions exist on PostgreSQL only")


@pytest.mark.postgres_only
def test_monthly_partitions_are_made_on_demand(db: Session, city: City) -> None:
    _postgres(db)
    now = dt.datetime.now(dt.UTC).replace(day=15)
    last_year = now - dt.timedelta(days=365)
    store.append_measurements(
        db,
        city.id,
        [
            Point(METER, FLOW, now, value=1.0),
            Point(METER, FLOW, last_year, value=2.0),
        ],
    )
    made = {name for name, _month in partitions.list_partitions(db)}
    assert {partitions.Month.of(now).partition, partitions.Month.of(last_year).partition} <= made
    where = text(f"SELECT count(*) FROM {partitions.Month.of(now).partition}")
    assert db.execute(where).scalar() == 1


@pytest.mark.postgres_only
def test_rows_far_in_the_past_or_future_are_not_lost(db: Session, city: City) -> None:
    _postgres(db)
    far = [dt.datetime(2999, 1, 1, tzinfo=dt.UTC), dt.datetime(1901, 6, 1, tzinfo=dt.UTC)]
    assert (
        store.append_measurements(db, city.id, [Point(METER, FLOW, t, value=7.0) for t in far]) == 2
    )
    stranded = text(f"SELECT count(*) FROM {partitions.DEFAULT_PARTITION}")
    assert db.execute(stranded).scalar() == 2
    assert [t for t, _v in store.read_series(db, city.id, METER, FLOW)] == sorted(far)
    # When such a month later gets its partition, its rows move there and stay readable.
    partitions.create_partition(db, partitions.Month(2999, 1))
    assert db.execute(stranded).scalar() == 1
    assert db.execute(text("SELECT count(*) FROM hub_temporal_instances_p299901")).scalar() == 1
    assert len(store.read_series(db, city.id, METER, FLOW)) == 2


def test_prune_drops_old_history_but_keeps_rollups(db: Session, city: City) -> None:
    now = dt.datetime.now(dt.UTC)
    old = now - dt.timedelta(days=400)
    store.append_measurements(
        db,
        city.id,
        [
            Point(METER, FLOW, old, value=3.0),
            Point(METER, FLOW, now, value=4.0),
        ],
    )
    assert prune_history(db, 0).cutoff is None
    assert len(store.read_series(db, city.id, METER, FLOW)) == 2
    report = prune_history(db, 365, now=now)
    assert [v for _t, v in store.read_series(db, city.id, METER, FLOW)] == [4]
    days = store.read_rollup(db, city.id, METER, FLOW, "day")
    assert [d.total for d in days] == [3.0, 4.0]  # the old day's roll-up is still there
    if db.get_bind().dialect.name == "postgresql":
        assert partitions.Month.of(old).partition in report.dropped_partitions
    remaining = db.scalar(
        select(func.count())
        .select_from(HubTemporalValue)
        .where(HubTemporalValue.city_id == city.id)
    )
    assert remaining == 1
