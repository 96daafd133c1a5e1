"""The event bus: delivered only after commit, once per handler, retried, durable; alerts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qala.core import alerts
from qala.core.cities import City, Department
from qala.core.db import Database, utcnow
from qala.core.deps import DbSession
from qala.core.errors import Conflict
from qala.core.events import MAX_ATTEMPTS, AlertSpec, Event, EventBus, OutboxEvent, emit


@dataclass(frozen=True)
class LeakDetected(Event):
    """A test event that raises a critical alert."""

    meter: str
    litres: int = 0

    def alert(self) -> AlertSpec:
        return AlertSpec(
            "critical", "Leak at meter {meter}", {"meter": self.meter}, link="utilities/meters"
        )


@dataclass(frozen=True)
class MeterRead(Event):
    """A test event without an alert, carrying a timestamp."""

    meter: str
    observed_at: dt.datetime | None = None


class Crash(BaseException):
    """The worker process dies (not an error a handler could report)."""


Handler = Callable[[Session, Any], None]


def make_bus(database: Database, handlers: Mapping[type[Event], Sequence[Handler]]) -> EventBus:
    return EventBus(database, [handlers], every_event=(alerts.record_alert,))


def outbox(db: Session) -> list[OutboxEvent]:
    db.expire_all()
    return list(db.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


def make_due(db: Session) -> None:
    """Let time pass until every waiting event is due again."""
    for row in outbox(db):
        row.next_attempt_at = utcnow() - dt.timedelta(seconds=1)
    db.commit()


def test_event_of_a_rolled_back_transaction_is_never_delivered(
    db: Session, database: Database, city: City
) -> None:
    seen: list[Event] = []
    emit(db, LeakDetected(city_id=city.id, meter="m1"))
    db.rollback()
    bus = make_bus(database, {LeakDetected: [lambda _db, event: seen.append(event)]})
    assert bus.deliver_pending() == 0
    assert seen == []
    assert outbox(db) == []
    assert db.scalar(select(func.count(alerts.Alert.id))) == 0


def test_committed_event_is_delivered_once(db: Session, database: Database, city: City) -> None:
    seen: list[Event] = []
    event = LeakDetected(city_id=city.id, meter="m1", litres=40)
    emit(db, event)
    bus = make_bus(database, {LeakDetected: [lambda _db, e: seen.append(e)]})
    assert bus.deliver_pending() == 0  # not committed yet: invisible to the bus
    db.commit()
    assert bus.deliver_pending() == 1
    assert bus.deliver_pending() == 0
    assert seen == [event]
    (row,) = outbox(db)
    assert row.delivered_at is not None
    assert row.attempts == 0


def test_event_fields_survive_the_outbox(db: Session, database: Database, city: City) -> None:
    seen: list[Event] = []
    event = MeterRead(
        city_id=city.id, meter="m7", observed_at=dt.datetime(2025, 3, 1, 12, 30, tzinfo=dt.UTC)
    )
    emit(db, event)
    db.commit()
    make_bus(database, {MeterRead: [lambda _db, e: seen.append(e)]}).deliver_pending()
    assert seen == [event]
    assert isinstance(seen[0], MeterRead)


def test_handler_writes_commit_with_the_delivery(
    db: Session, database: Database, city: City
) -> None:
    def open_department(db: Session, event: LeakDetected) -> None:
        db.add(
            Department(
                city_id=event.city_id,
                slug=f"leak-{event.meter}",
                name_ru="x",
                name_kk="x",
                name_en="x",
            )
        )

    emit(db, LeakDetected(city_id=city.id, meter="m1"))
    db.commit()
    make_bus(database, {LeakDetected: [open_department]}).deliver_pending()
    db.expire_all()
    assert db.scalar(select(Department.id).where(Department.slug == "leak-m1")) is not None


def test_failing_handler_is_retried_later_without_rerunning_the_others(
    db: Session, database: Database, city: City
) -> None:
    good: list[Event] = []
    flaky: list[Event] = []
    failing = True

    def record(_db: Session, event: Event) -> None:
        good.append(event)

    def half_done(db: Session, event: LeakDetected) -> None:
        flaky.append(event)
        db.add(
            Department(
                city_id=event.city_id,
                slug=f"half-{len(flaky)}",
                name_ru="x",
                name_kk="x",
                name_en="x",
            )
        )
        if failing:
            raise RuntimeError("meter gateway offline")

    bus = make_bus(database, {LeakDetected: [record, half_done]})
    emit(db, LeakDetected(city_id=city.id, meter="m1"))
    db.commit()
    started = utcnow()
    assert bus.deliver_pending() == 0

    (row,) = outbox(db)
    assert row.delivered_at is None
    assert row.attempts == 1
    assert row.last_error is not None
    assert "meter gateway offline" in row.last_error
    first_wait = row.next_attempt_at - started
    assert dt.timedelta(seconds=1) < first_wait <= dt.timedelta(seconds=3)
    assert db.scalar(select(func.count(Department.id)).where(Department.slug.like("half-%"))) == 0

    assert bus.deliver_pending() == 0  # not due yet: nothing runs
    assert (len(good), len(flaky)) == (1, 1)

    make_due(db)
    retried = utcnow()
    bus.deliver_pending()
    (row,) = outbox(db)
    assert row.attempts == 2
    assert row.next_attempt_at - retried > first_wait  # the wait grows

    failing = False
    make_due(db)
    assert bus.deliver_pending() == 1
    (row,) = outbox(db)
    assert row.delivered_at is not None
    assert (len(good), len(flaky)) == (1, 3)  # the good handler ran once, in all
    assert db.scalar(select(func.count(alerts.Alert.id))) == 1  # so did the alert
    assert "meter gateway offline" in (row.last_error or "")  # kept for the record


def test_event_that_keeps_failing_is_parked_with_its_error(
    db: Session, database: Database, city: City
) -> None:
    calls: list[Event] = []

    def broken(_db: Session, event: Event) -> None:
        calls.append(event)
        raise ValueError("schema mismatch")

    bus = make_bus(database, {LeakDetected: [broken]})
    emit(db, LeakDetected(city_id=city.id, meter="m1"))
    db.commit()
    (row,) = outbox(db)
    row.attempts = MAX_ATTEMPTS - 1
    db.commit()
    bus.deliver_pending()
    (row,) = outbox(db)
    assert row.attempts == MAX_ATTEMPTS
    assert row.delivered_at is not None  # parked: no more attempts
    assert "schema mismatch" in (row.last_error or "")
    make_due(db)
    bus.deliver_pending()
    assert len(calls) == 1


def test_event_survives_a_crash_and_a_new_process_delivers_it(
    db: Session, database: Database, city: City
) -> None:
    def dies(_db: Session, _event: Event) -> None:
        raise Crash

    emit(db, LeakDetected(city_id=city.id, meter="m1"))
    db.commit()
    with pytest.raises(Crash):
        make_bus(database, {LeakDetected: [dies]}).deliver_pending()

    seen: list[Event] = []
    restarted = make_bus(database, {LeakDetected: [lambda _db, e: seen.append(e)]})
    assert restarted.deliver_pending() == 1
    assert [event.meter for event in seen] == ["m1"]  # type: ignore[attr-defined]
    assert restarted.deliver_pending() == 0


def test_event_committed_but_never_relayed_is_delivered_by_the_next_process(
    db: Session, database: Database, city: City
) -> None:
    emit(db, LeakDetected(city_id=city.id, meter="m1"))
    db.commit()  # ... and the process is killed before its relay runs
    seen: list[Event] = []
    assert (
        make_bus(database, {LeakDetected: [lambda _db, e: seen.append(e)]}).deliver_pending() == 1
    )
    assert len(seen) == 1


def test_events_emitted_by_handlers_are_delivered_too(
    db: Session, database: Database, city: City
) -> None:
    seen: list[Event] = []

    def read_meter(db: Session, event: MeterRead) -> None:
        emit(db, LeakDetected(city_id=event.city_id, meter=event.meter))

    bus = make_bus(
        database, {MeterRead: [read_meter], LeakDetected: [lambda _db, e: seen.append(e)]}
    )
    emit(db, MeterRead(city_id=city.id, meter="m3"))
    db.commit()
    assert bus.deliver_pending() == 2
    assert seen == [LeakDetected(city_id=city.id, meter="m3")]


def test_request_events_go_out_after_commit_and_never_after_an_error(
    app: FastAPI, client: TestClient, db: Session, city: City
) -> None:
    def report_leak(db: DbSession) -> dict[str, str]:
        emit(db, LeakDetected(city_id=city.id, meter="kept"))
        return {}

    def report_then_fail(db: DbSession) -> dict[str, str]:
        emit(db, LeakDetected(city_id=city.id, meter="lost"))
        raise Conflict("the meter was replaced meanwhile")

    app.add_api_route("/api/test-leak", report_leak, methods=["POST"])
    app.add_api_route("/api/test-leak-fails", report_then_fail, methods=["POST"])
    assert client.post("/api/test-leak-fails").status_code == 409
    assert client.post("/api/test-leak").status_code == 200
    assert [row.payload["meter"] for row in outbox(db)] == ["kept"]
    assert outbox(db)[0].delivered_at is not None  # delivered right after the commit
    assert [a.params["meter"] for a in db.scalars(select(alerts.Alert))] == ["kept"]
