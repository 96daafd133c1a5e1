"""Series numbers: the integer that names one (city, entity, attribute, datasetId) and keys its
history rows and roll-ups.

Writers look numbers up in bulk and make the missing ones (``series_ids``). A number is cached
per engine once it is known committed — series rows are never deleted, so a cached number can
never come to name another series. Numbers a transaction looked up or made are kept on its
session until it commits; any rollback (a savepoint's too) forgets them, since a number made
there may be gone. There is no foreign key from history rows (it would halve the insert
rate); this bookkeeping is what keeps every number a writer uses real."""

from __future__ import annotations

import weakref
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import event, select, tuple_
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from qala.hub.temporal.models import HubTemporalSeries

SeriesKey = tuple[str, str, str]  # entity id, attribute IRI, datasetId ('' = default)
CityKey = tuple[int, str, str, str]
CHUNK = 500  # keys per look-up statement
CACHE_LIMIT = 500_000  # numbers cached per engine (the cache starts over beyond it)
_SESSION_KEY = "qala.hub.series"

_KNOWN: weakref.WeakKeyDictionary[Engine, dict[CityKey, int]] = weakref.WeakKeyDictionary()


def _known(db: Session) -> dict[CityKey, int]:
    return _KNOWN.setdefault(db.get_bind().engine, {})


def _this_transaction(db: Session) -> dict[CityKey, int]:
    numbers: dict[CityKey, int] = db.info.setdefault(_SESSION_KEY, {})
    return numbers


def series_ids(
    db: Session, city_id: int, keys: Iterable[SeriesKey], *, create: bool = True
) -> dict[SeriesKey, int]:
    """The numbers of ``keys`` in the city; missing series are made when ``create`` (else
    left out of the answer)."""
    known, local = _known(db), _this_transaction(db)
    found: dict[SeriesKey, int] = {}
    missing: list[SeriesKey] = []
    for key in set(keys):
        city_key = (city_id, *key)
        number = known.get(city_key) or local.get(city_key)
        if number is None:
            missing.append(key)
        else:
            found[key] = number
    if missing:
        stored = _look_up(db, city_id, missing)
        if create and len(stored) < len(missing):
            stored.update(_make(db, city_id, [key for key in missing if key not in stored]))
        local.update({(city_id, *key): number for key, number in stored.items()})
        found.update(stored)
    return found


def _look_up(db: Session, city_id: int, keys: list[SeriesKey]) -> dict[SeriesKey, int]:
    series = HubTemporalSeries
    columns = tuple_(series.entity_id, series.attribute, series.dataset_id)
    numbers: dict[SeriesKey, int] = {}
    for start in range(0, len(keys), CHUNK):
        query = select(series.id, series.entity_id, series.attribute, series.dataset_id).where(
            series.city_id == city_id, columns.in_(keys[start : start + CHUNK])
        )
        for number, *key in db.execute(query):
            numbers[(key[0], key[1], key[2])] = number
    return numbers


def _make(db: Session, city_id: int, keys: list[SeriesKey]) -> dict[SeriesKey, int]:
    """Insert the series (a concurrent writer may make some first: those are looked up)."""
    from qala.hub.temporal.writing import dialect_insert

    table = HubTemporalSeries.__table__
    rows = [
        {"city_id": city_id, "entity_id": e, "attribute": a, "dataset_id": d} for e, a, d in keys
    ]
    statement = (
        dialect_insert(db, table)
        .on_conflict_do_nothing()
        .returning(table.c.id, table.c.entity_id, table.c.attribute, table.c.dataset_id)
    )
    numbers: dict[SeriesKey, int] = {}
    for start in range(0, len(rows), CHUNK):
        for number, *key in db.execute(statement, rows[start : start + CHUNK]):
            numbers[(key[0], key[1], key[2])] = number
    if len(numbers) < len(keys):
        numbers.update(_look_up(db, city_id, [key for key in keys if key not in numbers]))
    return numbers


def find(db: Session, city_id: int, entity_id: str, attribute: str, dataset_id: str) -> int | None:
    """The number of one series, or None when it has none."""
    key = (entity_id, attribute, dataset_id)
    return series_ids(db, city_id, [key], create=False).get(key)


def forget() -> None:
    """Drop every cached number (tests whose transactions are rolled back call it)."""
    for cache in list(_KNOWN.values()):
        cache.clear()


def numbers_of(city_id: int, entity_id: str, attributes: Collection[str] | None = None) -> Any:
    """A sub-select of the numbers of an entity's series (some attributes, or all)."""
    series = HubTemporalSeries
    query = select(series.id).where(series.city_id == city_id, series.entity_id == entity_id)
    if attributes is not None:
        query = query.where(series.attribute.in_(list(attributes)))
    return query


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    numbers = session.info.pop(_SESSION_KEY, None)
    if numbers:
        cache = _KNOWN.setdefault(session.get_bind().engine, {})
        if len(cache) + len(numbers) > CACHE_LIMIT:
            cache.clear()
        cache.update(numbers)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, _previous: Any) -> None:
    session.info.pop(_SESSION_KEY, None)
