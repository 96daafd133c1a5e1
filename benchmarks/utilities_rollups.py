"""Benchmark: city-wide daily consumption of 10,000 meters over one year (as from 87.6 M hourly
points) on PostgreSQL — the issue's target is under 200 ms.

The year is loaded as the hub's daily roll-ups of each meter's ``consumption`` series (written
in SQL with ``generate_series``: what the hub's drain produces from the hourly points, without
spending half an hour writing 87.6 M points), the meters as ``utilities_meters`` rows in five
districts. Timed, each as the median of ``--runs``:

* ``hub_grouped``: the hub's grouped read (``client.sum_rollups``) over all 10,000 meters for
  the year, per district — summing 3.65 M roll-up rows;
* ``settle_year``: building the utilities daily table from those roll-ups (once);
* ``settle_recent``: the worker's round every minute (yesterday and today again);
* ``city_daily`` / ``city_monthly``: ``GET /api/utilities/consumption``'s service call for the
  whole city and year, by day and by month, with last year and the norm — settled days come
  from ``utilities_daily``, yesterday and today live from the hub.

    .venv/bin/python benchmarks/utilities_rollups.py [--meters N] [--days N] [--runs N]

Prints one JSON line per figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import emit, fresh_database

IRI = "https://uri.etsi.org/ngsi-ld/default-context/consumption"
NAMES = {"day": "daily", "month": "monthly"}


def load(url: str, meters: int, days: int) -> tuple[int, float]:
    """A demo city with ``meters`` building meters and ``days`` of daily roll-ups each."""
    from qala.core.db import Database
    from qala.demo import service as demo

    database = Database.from_url(url)
    started = time.perf_counter()
    with database.session() as db:
        (city,) = demo.seed_cities(db, ("stepnogorsk",))
        db.commit()
        city_id, districts = city.id, [d.id for d in city.districts]
        first = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days - 1)
        params = {"city": city_id, "meters": meters, "first": first, "days": days}
        db.execute(
            text(
                """INSERT INTO utilities_meters (city_id, serial, entity_id, resource, level,
                       status, unit, district_id, created_at)
                   SELECT :city, 'M' || n, 'urn:ngsi-ld:WaterConsumptionObserved:M' || n,
                       'cold_water', 'building', 'active', 'm³',
                       (CAST(:districts AS integer[]))[1 + n % :count], now()
                   FROM generate_series(1, :meters) n"""
            ),
            {**params, "districts": districts, "count": len(districts)},
        )
        db.execute(
            text(
                """INSERT INTO hub_temporal_series (city_id, entity_id, attribute, dataset_id)
                   SELECT :city, entity_id, :iri, '' FROM utilities_meters WHERE city_id = :city"""
            ),
            {"city": city_id, "iri": IRI},
        )
        db.execute(
            text(
                """INSERT INTO hub_temporal_daily (series_id, city_id, bucket, count,
                       numeric_count, total, total_squares, minimum, maximum, first_at, last_at)
                   SELECT s.id, :city, d, 24, 24, 0.3 + (s.id % 17) * 0.02, 0, 0, 0.1, d,
                       d + interval '23 hours'
                   FROM hub_temporal_series s,
                        generate_series(
                            CAST(:first AS timestamptz),
                            CAST(:first AS timestamptz) + (:days - 1) * interval '1 day',
                            interval '1 day'
                        ) d
                   WHERE s.city_id = :city AND s.attribute = :iri"""
            ),
            {**params, "iri": IRI},
        )
        db.commit()
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE hub_temporal_daily"))
    database.engine.dispose()
    return city_id, time.perf_counter() - started


def median_ms(run: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median and worst time of ``run`` in milliseconds (after one warm-up)."""
    run()
    times = []
    for _n in range(runs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def measure(url: str, city_id: int, days: int, runs: int, meters: int) -> None:
    from qala.core.cities import City, CityContext
    from qala.core.db import Database
    from qala.hub import client as hub
    from qala.utilities import consumption, daily

    database = Database.from_url(url)
    end = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(days=days - 1)
    with database.session() as db:
        city = db.get(City, city_id)
        assert city is not None
        ctx = CityContext.of(city)
        groups = {str(key): ids for key, ids in daily.meter_groups(db, city_id).items()}

        def grouped() -> object:
            return hub.sum_rollups(db, city_id, groups, IRI, "day", start=start)

        median, worst = median_ms(grouped, runs)
        emit(
            figure="utilities_hub_grouped_year",
            meters=meters,
            days=days,
            median_ms=round(median, 1),
            max_ms=round(worst, 1),
        )
        started = time.perf_counter()
        _first, rows = daily.settle(db, city_id, since=start.date())
        db.commit()
        emit(
            figure="utilities_settle_year",
            rows=rows,
            seconds=round(time.perf_counter() - started, 2),
        )

        def settle_recent() -> object:  # what the worker does every minute
            return daily.settle(db, city_id)

        median, worst = median_ms(settle_recent, runs)
        db.commit()
        emit(
            figure="utilities_settle_recent",
            meters=meters,
            median_ms=round(median, 1),
            max_ms=round(worst, 1),
        )
        scope = consumption.resolve_scope(db, ctx, "city", None, "cold_water", "building")
        for grain in ("day", "month"):

            def series(grain: str = grain) -> object:
                result = consumption.consumption_series(
                    db, ctx, scope, grain, start, end + dt.timedelta(days=1)
                )
                assert result.total > 0
                return result

            median, worst = median_ms(series, runs)
            emit(
                figure=f"utilities_city_{NAMES[grain]}_year",
                meters=meters,
                days=days,
                target_ms=200,
                median_ms=round(median, 1),
                max_ms=round(worst, 1),
            )
    database.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--pg-database", default="qala_bench_utilities")
    args = parser.parse_args()
    url = fresh_database("postgresql", args.pg_database)
    city_id, seconds = load(url, args.meters, args.days)
    emit(
        figure="utilities_rollups_load",
        meters=args.meters,
        days=args.days,
        roll_ups=args.meters * args.days,
        seconds=round(seconds, 1),
    )
    measure(url, city_id, args.days, args.runs, args.meters)


if __name__ == "__main__":
    main()
