"""Benchmark: NGSI-LD temporal query of one attribute over one year of hourly values (8,760
points) of one entity among others, served by ``qala serve`` (1 worker), on PostgreSQL and
SQLite. Times GET /temporal/entities/{id} raw (every instance), aggregated by day from the
daily roll-ups, and aggregated by day from the raw rows (periods not on day boundaries).

    .venv/bin/python benchmarks/hub_temporal_query.py [--db postgresql|sqlite|both]
        [--others N] [--requests N] [--pg-database NAME]

Prints one JSON line per figure (median and p99 latency in ms, loading rate in points/s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import emit, fresh_database, seed_city, served

VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
TARGET = "urn:ngsi-ld:Sensor:target"
YEAR = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
HOURS = 8760
BATCH = 20_000


def load(url: str, city_id: int, others: int) -> tuple[int, float]:
    """One year of hourly ``x`` for the target and ``others`` more sensors; (points, seconds)."""
    from qala.core.db import Database
    from qala.hub.temporal.store import Point, append_measurements

    database = Database.from_url(url)
    ids = [TARGET, *(f"urn:ngsi-ld:Sensor:{n}" for n in range(others))]
    types = {entity_id: [VOCAB + "Sensor"] for entity_id in ids}
    total = 0
    started = time.perf_counter()
    for entity_id in ids:
        points = [
            Point(
                entity_id,
                VOCAB + "x",
                YEAR + dt.timedelta(hours=h),
                value=round(10 + (h % 24) * 0.5 + (h % 7) * 0.1, 2),
            )
            for h in range(HOURS)
        ]
        for start in range(0, len(points), BATCH):
            with database.session() as db:
                total += append_measurements(db, city_id, points[start : start + BATCH], types)
                db.commit()
    seconds = time.perf_counter() - started
    database.engine.dispose()
    return total, seconds


def timed(client: httpx.Client, path: str, requests: int) -> dict[str, float]:
    """Median and p99 latency (ms) of ``requests`` sequential GETs, after a warm-up."""
    for _ in range(3):
        client.get(path).raise_for_status()
    latencies = []
    size = 0
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        size = len(response.content)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return {
        "median_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(p99, 2),
        "requests": requests,
        "response_bytes": size,
    }


QUERIES = {
    "raw": "attrs=x&timerel=between&timeAt=2023-01-01T00:00:00Z&endTimeAt=2024-01-01T00:00:00Z",
    "aggregated_P1D_rollups": (
        "attrs=x&timerel=between&timeAt=2023-01-01T00:00:00Z&endTimeAt=2024-01-01T00:00:00Z"
        "&options=aggregatedValues&aggrMethods=avg,min,max,sum,totalCount&aggrPeriodDuration=P1D"
    ),
    "aggregated_P1D_raw_rows": (
        "attrs=x&timerel=between&timeAt=2023-01-01T00:30:00Z&endTimeAt=2024-01-01T00:30:00Z"
        "&options=aggregatedValues&aggrMethods=avg,min,max,sum,totalCount&aggrPeriodDuration=P1D"
    ),
}


def run(kind: str, others: int, requests: int, pg_database: str) -> None:
    """Measure one database kind."""
    url = fresh_database(kind, pg_database)
    city_id, key = seed_city(url)
    points, seconds = load(url, city_id, others)
    emit(
        benchmark="hub_temporal_load",
        db=kind,
        points=points,
        entities=others + 1,
        seconds=round(seconds, 1),
        points_per_s=round(points / seconds),
    )
    with served(url, workers=1) as base:
        headers = {"X-API-Key": key, "NGSILD-Tenant": "astana"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for name, query in QUERIES.items():
                figures = timed(client, f"/ngsi-ld/v1/temporal/entities/{TARGET}?{query}", requests)
                emit(
                    benchmark=f"hub_temporal_query_{name}",
                    db=kind,
                    points=HOURS,
                    entities=others + 1,
                    **figures,
                )


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="both", choices=("postgresql", "sqlite", "both"))
    parser.add_argument("--others", type=int, default=20, help="Other sensors, a year each.")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--pg-database", default="qala_bench")
    args = parser.parse_args()
    for kind in ("postgresql", "sqlite") if args.db == "both" else (args.db,):
        run(kind, args.others, args.requests, args.pg_database)


if __name__ == "__main__":
    main()
