"""Benchmark: NGSI-LD GET entity and query-by-type-with-q with 100,000 entities, served by
``qala serve`` (2 workers) and loaded with wrk, on PostgreSQL and SQLite.

    .venv/bin/python benchmarks/hub_entities.py [--db postgresql|sqlite|both] [--entities N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import emit, fresh_database, seed_city, served, wrk

DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"


def load_entities(url: str, city_id: int, count: int) -> float:
    """Insert ``count`` sensor entities in stored form; returns seconds taken."""
    from sqlalchemy import insert, select

    from qala.core.db import Database
    from qala.hub.models import HubEntity, HubEntityType
    from qala.hub.ngsild.model import now_iso

    database = Database.from_url(url)
    rng = random.Random(7)
    stamp = now_iso()
    started = time.perf_counter()
    with database.session() as db:
        for start in range(0, count, 5000):
            rows = []
            for n in range(start, min(start + 5000, count)):
                lon, lat = 71.35 + rng.random() * 0.2, 51.08 + rng.random() * 0.12
                data = {
                    "id": f"urn:ngsi-ld:Sensor:{n}",
                    "type": [DEFAULT_VOCAB + "Sensor"],
                    "createdAt": stamp,
                    "modifiedAt": stamp,
                    "attrs": {
                        DEFAULT_VOCAB + "temperature": [
                            {
                                "type": "Property",
                                "value": round(rng.uniform(-30, 40), 1),
                                "unitCode": "CEL",
                                "createdAt": stamp,
                                "modifiedAt": stamp,
                            }
                        ],
                        DEFAULT_VOCAB + "district": [
                            {
                                "type": "Property",
                                "value": f"d{n % 8}",
                                "createdAt": stamp,
                                "modifiedAt": stamp,
                            }
                        ],
                        "https://uri.etsi.org/ngsi-ld/location": [
                            {
                                "type": "GeoProperty",
                                "value": {"type": "Point", "coordinates": [lon, lat]},
                                "createdAt": stamp,
                                "modifiedAt": stamp,
                            }
                        ],
                    },
                }
                rows.append(
                    {
                        "city_id": city_id,
                        "entity_id": data["id"],
                        "data": data,
                        "min_lon": lon,
                        "max_lon": lon,
                        "min_lat": lat,
                        "max_lat": lat,
                    }
                )
            db.execute(insert(HubEntity), rows)
            pks = (
                db.execute(
                    select(HubEntity.id).where(
                        HubEntity.city_id == city_id,
                        HubEntity.entity_id.in_([r["entity_id"] for r in rows]),
                    )
                )
                .scalars()
                .all()
            )
            db.execute(
                insert(HubEntityType),
                [
                    {"city_id": city_id, "entity_pk": pk, "type": DEFAULT_VOCAB + "Sensor"}
                    for pk in pks
                ],
            )
        db.commit()
    database.engine.dispose()
    return time.perf_counter() - started


GET_SCRIPT = """
math.randomseed(os.time())
wrk.headers["X-API-Key"] = "{key}"
wrk.headers["NGSILD-Tenant"] = "astana"
request = function()
  return wrk.format("GET", "/ngsi-ld/v1/entities/urn:ngsi-ld:Sensor:" .. math.random(0, {last}))
end
"""

QUERY_SCRIPT = """
wrk.headers["X-API-Key"] = "{key}"
wrk.headers["NGSILD-Tenant"] = "astana"
wrk.path = "/ngsi-ld/v1/entities?type=Sensor&q=temperature%3E35%3Bdistrict%3D%3D%22d3%22&limit=100"
"""


def run(kind: str, count: int, seconds: int) -> None:
    """Measure one database kind."""
    url = fresh_database(kind)
    city_id, key = seed_city(url)
    load_seconds = load_entities(url, city_id, count)
    emit(benchmark="hub_entities_load", db=kind, entities=count, seconds=round(load_seconds, 1))
    with served(url) as base:
        wrk(base + "/healthz", seconds=2, connections=8, script="")  # warm up
        figures = wrk(
            base, seconds=seconds, connections=32, script=GET_SCRIPT.format(key=key, last=count - 1)
        )
        emit(benchmark="hub_get_entity", db=kind, entities=count, connections=32, **figures)
        figures = wrk(base, seconds=seconds, connections=8, script=QUERY_SCRIPT.format(key=key))
        emit(benchmark="hub_query_type_q", db=kind, entities=count, connections=8, **figures)


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="both", choices=("postgresql", "sqlite", "both"))
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    for kind in ("postgresql", "sqlite") if args.db == "both" else (args.db,):
        run(kind, args.entities, args.seconds)


if __name__ == "__main__":
    main()
