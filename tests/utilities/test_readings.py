"""Readings: the interval consumption derived from cumulative indexes (pure), and recording
them into the hub where bad readings are reported and duplicates are harmless."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from qala.core.cities import CityContext
from qala.hub import client as hub
from qala.utilities import readings
from qala.utilities.readings import derive
from qala.utilities.resources import iri
from qala.utilities.schemas import ReadingIn

from .conftest import START, House, Record, steady

T = [START + dt.timedelta(hours=h) for h in range(6)]


def test_consumption_is_the_rise_of_the_index() -> None:
    out = derive(
        [(1, T[0], 10.0), (2, T[1], 12.5), (3, T[2], 12.5)], 9.0, T[0] - dt.timedelta(hours=1), {}
    )
    assert [d.consumption for d in out] == [1.0, 2.5, 0.0]


def test_the_first_reading_ever_has_no_consumption() -> None:
    assert [d.consumption for d in derive([(1, T[0], 5.0), (2, T[1], 6.0)], None, None, {})] == [
        None,
        1.0,
    ]


def test_a_decreasing_index_is_evidence_not_consumption() -> None:
    out = derive([(1, T[0], 10.0), (2, T[1], 4.0), (3, T[2], 11.0)], 9.0, None, {})
    assert [(d.consumption, d.error) for d in out] == [(1.0, None), (None, None), (1.0, None)]


def test_impossible_readings_are_refused_with_their_field() -> None:
    out = derive(
        [(1, T[0], -1.0), (2, T[1], float("nan")), (3, T[2], 3.0)],
        None,
        T[4],
        {},
    )
    assert [d.error.field if d.error else None for d in out] == ["index", "index", "at"]


def test_already_stored_readings_are_duplicates() -> None:
    out = derive([(1, T[2], 3.0), (2, T[2], 3.0), (3, T[3], 4.0)], 2.0, T[2], {T[2]: 3.0})
    assert [d.duplicate for d in out] == [True, True, False]
    assert out[2].consumption == 1.0  # measured from the stored 3.0


def test_a_different_index_for_a_stored_time_is_refused() -> None:
    out = derive([(1, T[2], 5.0), (2, T[3], 6.0), (3, T[3], 7.0)], 2.0, T[2], {T[2]: 3.0})
    assert [d.error.field if d.error else None for d in out] == ["index", None, "index"]


def test_recording_writes_index_and_consumption(
    db: Session, ctx: CityContext, house: House, record: Record
) -> None:
    report = record(house.input, steady(3, 2.0))
    assert (report.accepted, report.rejected, report.duplicates) == (4, 0, 0)
    meter = house.input
    assert [
        v for _t, v in hub.read_series(db, ctx.id, meter.entity_id, iri("waterConsumption"))
    ] == [
        100.0,
        102.0,
        104.0,
        106.0,
    ]
    used = hub.read_series(db, ctx.id, meter.entity_id, iri("consumption"))
    assert [(t, v) for t, v in used] == [(T[1], 2.0), (T[2], 2.0), (T[3], 2.0)]
    again = record(house.input, steady(4, 2.0))  # a retried batch with one new reading
    assert (again.accepted, again.duplicates) == (1, 4)
    assert hub.read_series(db, ctx.id, meter.entity_id, iri("consumption"))[-1] == (T[4], 2.0)


def test_bad_readings_are_reported_never_raised(
    db: Session, ctx: CityContext, house: House, record: Record
) -> None:
    record(house.input, steady(2, 1.0))
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    report = readings.record_readings(
        db,
        ctx,
        [
            ReadingIn(meter="NO-SUCH", at=T[3], index=1.0),
            ReadingIn(meter=house.input.serial, at=T[0] - dt.timedelta(hours=5), index=1.0),
            ReadingIn(meter=house.input.entity_id, at=future, index=200.0),
            ReadingIn(meter=str(house.input.id), at=T[3], index=-5.0),
            ReadingIn(meter=house.input.serial, at=T[3].replace(tzinfo=None), index=103.0),
            ReadingIn(meter=house.input.serial, at=T[4], index=104.0),
        ],
    )
    assert report.accepted == 1 and report.rejected == 5
    assert [(e.row, e.field) for e in report.errors] == [
        (1, "meter"),
        (2, "at"),
        (3, "at"),
        (4, "index"),
        (5, "at"),
    ]


def test_a_retried_batch_measures_from_the_stored_readings() -> None:
    out = derive([(1, T[0], 10.0), (2, T[1], 12.0)], None, T[0], {T[0]: 10.0})
    assert [(d.duplicate, d.consumption) for d in out] == [(True, None), (False, 2.0)]
