"""hub_0007 numbers the series of an existing history: every row moves, and the roll-ups are
rebuilt from them (on the database the suite runs on)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from qala.core.db import Database
from qala.core.migrations import upgrade
from qala.hub.temporal import store

PG_BASE = os.environ.get("QALA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
FLOW = "https://uri.etsi.org/ngsi-ld/default-context/flow"
NOON = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.config.getoption("--db") != "postgresql":
        yield f"sqlite:///{tmp_path / 'before.sqlite3'}"
        return
    name = f"qala_migration_{os.getpid()}"
    admin = create_engine(f"{PG_BASE}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"{PG_BASE}/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_history_keyed_by_iris_moves_to_numbered_series(empty_url: str) -> None:
    upgrade(empty_url, "hub_0006")
    database = Database.from_url(empty_url)
    with database.session() as db:
        city_id = _city(db)
        rows = [
            {"e": f"urn:ngsi-ld:WaterMeter:{n}", "t": NOON + dt.timedelta(minutes=m), "v": m + n}
            for n in (1, 2)
            for m in (0, 10, 70)
        ]
        for row in rows:
            db.execute(
                text(
                    "INSERT INTO hub_temporal_values (city_id, entity_id, attribute, dataset_id, "
                    "observed_at, kind, value, data, created_at, modified_at) VALUES "
                    "(:c, :e, :a, '', :t, 0, :v, NULL, :t, :t)"
                ),
                {"c": city_id, "a": FLOW, **row, "t": _stored(db, row["t"])},
            )
        db.commit()
    database.engine.dispose()
    upgrade(empty_url)
    database = Database.from_url(empty_url)
    with database.session() as db:
        series = store.read_series(db, city_id, "urn:ngsi-ld:WaterMeter:2", FLOW)
        assert [v for _t, v in series] == [2.0, 12.0, 72.0]
        hours = store.read_rollup(db, city_id, "urn:ngsi-ld:WaterMeter:1", FLOW, "hour")
        assert [(b.start, b.count, b.total) for b in hours] == [
            (NOON, 2, 12.0),
            (NOON + dt.timedelta(hours=1), 1, 71.0),
        ]
        (day,) = store.read_rollup(db, city_id, "urn:ngsi-ld:WaterMeter:1", FLOW, "day")
        assert (day.count, day.minimum, day.maximum) == (3, 1.0, 71.0)
        # New writes go on in the same series, idempotently.
        point = store.Point("urn:ngsi-ld:WaterMeter:1", FLOW, NOON, value=99.0)
        assert store.append_measurements(db, city_id, [point]) == 0
    database.engine.dispose()


def _stored(db: Session, moment: dt.datetime) -> object:
    """A time as the app's column type stores it (SQLite keeps text without the zone)."""
    if db.get_bind().dialect.name == "sqlite":
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def _city(db: Session) -> int:
    from qala.demo import service as demo

    (city,) = demo.seed_cities(db, ("astana",))
    return int(city.id)
