"""Grouped roll-up reads: sums over many entities per group and bucket, per-entity totals;
the same answers on SQLite (folded in Python) and PostgreSQL (grouped in the database)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from qala.core.cities import City
from qala.hub import client
from qala.hub.temporal.grouped import CHUNK

USE = "https://uri.etsi.org/ngsi-ld/default-context/consumption"
OTHER = "https://uri.etsi.org/ngsi-ld/default-context/index"
DAY = dt.datetime(2025, 1, 10, tzinfo=dt.UTC)


def meter(n: int) -> str:
    return f"urn:ngsi-ld:Device:grouped-{n}"


def hours(
    entity: str, day: dt.datetime, values: list[float], attribute: str = USE
) -> list[client.Point]:
    return [
        client.Point(entity, attribute, day + dt.timedelta(hours=h), value=v)
        for h, v in enumerate(values)
    ]


@pytest.fixture
def readings(db: Session, city: City) -> None:
    """Meters 1–3 in district A, 4 in district B; two days; meter 3 silent on day two."""
    points = []
    for n, value in ((1, 1.0), (2, 2.0), (3, 3.0), (4, 10.0)):
        points += hours(meter(n), DAY, [value] * 24)
        if n != 3:
            points += hours(meter(n), DAY + dt.timedelta(days=1), [value] * 2)
    points += hours(meter(1), DAY, [500.0], attribute=OTHER)  # another attribute: ignored
    client.append_measurements(db, city.id, points)


GROUPS = {"A": [meter(1), meter(2), meter(3)], "B": [meter(4)]}


@pytest.mark.usefixtures("readings")
def test_daily_sums_per_group(db: Session, city: City) -> None:
    buckets = client.sum_rollups(db, city.id, GROUPS, USE, "day")
    summary = [(b.group, b.start, b.total, b.count, b.entities) for b in buckets]
    assert summary == [
        ("A", DAY, 24 * (1 + 2 + 3), 72, 3),
        ("A", DAY + dt.timedelta(days=1), 2 * (1 + 2), 4, 2),
        ("B", DAY, 240.0, 24, 1),
        ("B", DAY + dt.timedelta(days=1), 20.0, 2, 1),
    ]


@pytest.mark.usefixtures("readings")
def test_hourly_sums_within_bounds_and_overlapping_groups(db: Session, city: City) -> None:
    groups = {**GROUPS, "all": [meter(n) for n in range(1, 5)]}
    start, end = DAY + dt.timedelta(hours=22), DAY + dt.timedelta(days=1, hours=1)
    buckets = client.sum_rollups(db, city.id, groups, USE, "hour", start=start, end=end)
    by_key = {(b.group, b.start): b.total for b in buckets}
    assert by_key[("all", DAY + dt.timedelta(hours=22))] == 16.0
    assert by_key[("all", DAY + dt.timedelta(days=1))] == 13.0
    assert by_key[("A", DAY + dt.timedelta(days=1))] == 3.0
    assert max(b.start for b in buckets) < end and min(b.start for b in buckets) >= start


@pytest.mark.usefixtures("readings")
def test_entity_totals_over_a_period(db: Session, city: City) -> None:
    ids = [meter(n) for n in range(1, 6)]  # meter 5 has no data
    totals = client.entity_totals(db, city.id, ids, USE, "day", start=DAY + dt.timedelta(days=1))
    assert sorted(totals) == [meter(1), meter(2), meter(4)]
    assert (totals[meter(4)].total, totals[meter(4)].count) == (20.0, 2)
    assert totals[meter(1)].last_at == DAY + dt.timedelta(days=1, hours=1)
    everything = client.entity_totals(db, city.id, ids, USE)
    assert everything[meter(3)].total == 72.0 and everything[meter(3)].first_at == DAY


def test_many_entities_are_read_in_one_go(db: Session, city: City) -> None:
    count = CHUNK * 2 + 7  # more ids than one SQLite chunk
    points = [client.Point(meter(n), USE, DAY, value=1.0) for n in range(count)]
    client.append_measurements(db, city.id, points)
    (bucket,) = client.sum_rollups(db, city.id, {"city": [meter(n) for n in range(count)]}, USE)
    assert (bucket.total, bucket.entities) == (float(count), count)
    assert len(client.entity_totals(db, city.id, [meter(n) for n in range(count)], USE)) == count


@pytest.mark.usefixtures("readings")
def test_another_city_sees_nothing(db: Session, other_city: City) -> None:
    assert client.sum_rollups(db, other_city.id, GROUPS, USE) == []
    assert client.entity_totals(db, other_city.id, GROUPS["A"], USE) == {}


def test_empty_groups_and_bad_grain(db: Session, city: City) -> None:
    assert client.sum_rollups(db, city.id, {}, USE) == []
    assert client.entity_totals(db, city.id, [], USE) == {}
    with pytest.raises(ValueError, match="grain"):
        client.sum_rollups(db, city.id, GROUPS, USE, "week")
