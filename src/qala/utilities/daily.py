"""The daily consumption table (``utilities_daily``): each day's consumption summed per
district, resource and meter level, computed from the hub's daily roll-ups with one grouped
read. City- and district-wide series over months then read a few thousand small rows instead
of summing millions of roll-ups (10,000 meters × a year is 3.65 M daily roll-ups: over a
second; the table answers in milliseconds).

The table is kept by settling: recomputing the days from the city's mark (``daily_through``,
the first day that may still change) to today, then moving the mark to yesterday. It happens
when readings are recorded through Qala (their days, at once), after demo seeding, on demand
(``POST /consumption/refresh``), and every minute in a background worker, which catches
readings that reached the hub by MQTT. A city never settled is read live from the hub."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from qala.hub import client as hub
from qala.utilities.models import DailyConsumption, Meter, UtilitySettings
from qala.utilities.resources import CONSUMPTION, iri

if TYPE_CHECKING:
    from qala.core.runtime import Runtime

log = logging.getLogger(__name__)
INTERVAL = 60.0  # seconds between background settlements
SETTLED_LAG = dt.timedelta(days=1)  # yesterday and today stay live: late readings still arrive
GroupKey = tuple[int, str, str]  # district id (0: none), resource, level


def day_start(day: dt.date) -> dt.datetime:
    """Midnight UTC of ``day`` (the hub's daily roll-ups are UTC days)."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def today() -> dt.date:
    """The current UTC day."""
    return dt.datetime.now(dt.UTC).date()


def city_settings(db: Session, city_id: int) -> UtilitySettings:
    """The city's module settings (created with the defaults on first use)."""
    found = db.scalar(select(UtilitySettings).where(UtilitySettings.city_id == city_id))
    if found is None:
        found = UtilitySettings(city_id=city_id, auto_close=True, silent_after_hours=24)
        db.add(found)
        db.flush()
    return found


def settled_mark(db: Session, city_id: int) -> dt.date | None:
    """The city's mark, or None when its daily table was never filled (a read-only look)."""
    return db.scalar(
        select(UtilitySettings.daily_through).where(UtilitySettings.city_id == city_id)
    )


def meter_groups(db: Session, city_id: int) -> dict[GroupKey, list[str]]:
    """The city's meters' entity ids per (district, resource, level)."""
    groups: dict[GroupKey, list[str]] = defaultdict(list)
    rows = db.execute(
        select(Meter.entity_id, Meter.district_id, Meter.resource, Meter.level).where(
            Meter.city_id == city_id
        )
    )
    for entity_id, district_id, resource_code, level in rows:
        groups[(district_id or 0, resource_code, level)].append(entity_id)
    return groups


def _label(key: GroupKey) -> str:
    return f"{key[0]}|{key[1]}|{key[2]}"


def live_sums(
    db: Session,
    city_id: int,
    groups: Mapping[GroupKey, list[str]],
    first: dt.date,
    last: dt.date,
) -> dict[tuple[GroupKey, dt.date], tuple[float, int]]:
    """(total, meters) per group and day in ``[first, last]`` straight from the hub."""
    by_label = {_label(key): key for key in groups}
    buckets = hub.sum_rollups(
        db,
        city_id,
        {_label(key): ids for key, ids in groups.items()},
        iri(CONSUMPTION),
        "day",
        start=day_start(first),
        end=day_start(last + dt.timedelta(days=1)),
    )
    return {(by_label[b.group], b.start.date()): (b.total, b.entities) for b in buckets}


def refresh_days(db: Session, city_id: int, first: dt.date, last: dt.date) -> int:
    """Recompute the table's rows of the days ``[first, last]``; returns the rows written."""
    groups = meter_groups(db, city_id)
    sums = live_sums(db, city_id, groups, first, last) if groups else {}
    db.execute(
        delete(DailyConsumption).where(
            DailyConsumption.city_id == city_id,
            DailyConsumption.day >= first,
            DailyConsumption.day <= last,
        )
    )
    db.add_all(
        DailyConsumption(
            city_id=city_id,
            district_id=key[0],
            resource=key[1],
            level=key[2],
            day=day,
            total=total,
            meters=meters,
        )
        for (key, day), (total, meters) in sums.items()
    )
    db.flush()
    return len(sums)


def settle(db: Session, city_id: int, *, since: dt.date | None = None) -> tuple[dt.date, int]:
    """Recompute from the city's mark (or ``since``) to today and move the mark to yesterday;
    returns the first day recomputed and the rows written."""
    settings = city_settings(db, city_id)
    end = today()
    first = since or settings.daily_through or end - dt.timedelta(days=2)
    rows = refresh_days(db, city_id, first, end)
    mark = end - SETTLED_LAG
    if since is None or settings.daily_through is None or settings.daily_through > mark:
        settings.daily_through = mark
    return first, rows


def settle_all(db: Session) -> int:
    """Settle every city that has meters; returns the rows written."""
    cities = db.scalars(select(Meter.city_id).distinct())
    return sum(settle(db, city_id)[1] for city_id in list(cities))


class DailyWorker:
    """Settles every city's daily consumption every ``interval`` seconds in a daemon thread."""

    def __init__(self, runtime: Runtime, interval: float = INTERVAL) -> None:
        self.runtime = runtime
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Settle until stopped; a failed round is logged and retried next time."""
        while not self._stop.wait(self.interval):
            try:
                with self.runtime.database.session() as db:
                    settle_all(db)
                    db.commit()
            except Exception:
                log.warning("daily consumption settlement failed; retrying", exc_info=True)

    def start(self) -> None:
        """Run in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="qala-utilities-daily", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current round."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def start(runtime: Runtime) -> Callable[[], None]:
    """Start the app's daily consumption worker; returns its stop."""
    worker = DailyWorker(runtime)
    worker.start()
    return worker.stop
