"""Benchmark: HTTP batch ingestion in data points/s (one data point = one attribute value),
served by ``qala serve`` (2 workers on PostgreSQL, 1 on SQLite), three ways:

* ``upsert`` — NGSI-LD ``POST /entityOperations/upsert?options=update`` with many entities
  (every attribute with a new ``observedAt``: entity state and history both move);
* ``temporal`` — NGSI-LD ``POST /temporal/entities`` (create or append) with many instances;
* ``iot`` — IoT Agent ``POST /iot/json?k=&i=`` with an array of measures (multimeasure).

Client processes build fresh bodies for every request (new timestamps, so nothing is a
duplicate) and report requests and points acknowledged with 2xx.

    .venv/bin/python benchmarks/hub_http_ingest.py [--db postgresql|sqlite|both]
        [--seconds N] [--clients N] [--entities N] [--attrs N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import emit, fresh_database, seed_city, served

APIKEY = "bench-http"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"


def _stamp(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def upsert_body(client: int, round_: int, entities: int, attrs: int) -> tuple[str, bytes, int]:
    """Many meters, each attribute observed now."""
    import orjson

    base = 1_700_000_000_000 + round_ * 1000 + client
    body = [
        {
            "id": f"urn:ngsi-ld:Meter:c{client}-{n}",
            "type": "Meter",
            **{
                f"reading{k}": {
                    "type": "Property",
                    "value": round_ + k + n * 0.01,
                    "observedAt": _stamp(base + n % 1000),
                }
                for k in range(attrs)
            },
        }
        for n in range(entities)
    ]
    return (
        "/ngsi-ld/v1/entityOperations/upsert?options=update",
        orjson.dumps(body),
        entities * attrs,
    )


def temporal_body(client: int, round_: int, entities: int, attrs: int) -> tuple[str, bytes, int]:
    """One meter's attributes, ``entities`` instances each (a backfill)."""
    import orjson

    base = 1_700_000_000_000 + (round_ * 2 + client) * entities * 1000
    body: dict[str, Any] = {
        "id": f"urn:ngsi-ld:Meter:t{client}-{round_ % 50}",
        "type": "Meter",
        **{
            f"reading{k}": [
                {"type": "Property", "value": n + k, "observedAt": _stamp(base + n * 1000)}
                for n in range(entities)
            ]
            for k in range(attrs)
        },
    }
    return "/ngsi-ld/v1/temporal/entities", orjson.dumps(body), entities * attrs


def iot_body(client: int, round_: int, entities: int, attrs: int) -> tuple[str, bytes, int]:
    """A device sending ``entities`` stored measures at once."""
    import orjson

    base = 1_700_000_000_000 + (round_ * 2 + client) * entities * 1000
    body = [
        {**{f"r{k}": n + k for k in range(attrs)}, "TimeInstant": _stamp(base + n * 1000)}
        for n in range(entities)
    ]
    path = f"/iot/json?k={APIKEY}&i=dev-{client}-{round_ % 50}"
    return path, orjson.dumps(body), entities * attrs


BODIES = {"upsert": upsert_body, "temporal": temporal_body, "iot": iot_body}


def client_loop(
    base: str,
    key: str,
    op: str,
    client: int,
    seconds: float,
    entities: int,
    attrs: int,
    results: Any,
) -> None:
    """Post bodies for ``seconds``; record (points, latencies) of 2xx answers."""
    import httpx

    headers = {
        "Content-Type": "application/json",
        "Link": f'<{CORE}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"',
    }
    if op != "iot":
        headers["X-Api-Key"] = key
    points, latencies, errors = 0, [], 0
    with httpx.Client(base_url=base, timeout=120) as http:
        started, round_ = time.monotonic(), 0
        while time.monotonic() - started < seconds:
            path, body, count = BODIES[op](client, round_, entities, attrs)
            sent = time.perf_counter()
            response = http.post(path, content=body, headers=headers)
            if response.status_code < 300:
                latencies.append((time.perf_counter() - sent) * 1000)
                points += count
            else:
                errors += 1
                if errors == 1:
                    print(op, response.status_code, response.text[:300], file=sys.stderr)
            round_ += 1
    results[client] = (points, latencies, errors, time.monotonic() - started)


def provision_iot(base: str, key: str, attrs: int) -> None:
    import httpx

    group = {
        "apikey": APIKEY,
        "entity_type": "Meter",
        "attributes": [
            {"object_id": f"r{k}", "name": f"reading{k}", "type": "Number"} for k in range(attrs)
        ],
    }
    response = httpx.post(
        f"{base}/iot/services",
        json={"services": [group]},
        headers={"X-Api-Key": key, "fiware-service": "astana"},
    )
    response.raise_for_status()


def run(kind: str, op: str, args: argparse.Namespace) -> None:
    url = fresh_database(kind, "qala_bench_http")
    _city_id, key = seed_city(url)
    # SQLite has one writer at a time: the embedded deployment runs one worker.
    with served(url, workers=2 if kind == "postgresql" else 1) as base:
        if op == "iot":
            provision_iot(base, key, args.attrs)
        results = multiprocessing.Manager().dict()
        clients = [
            multiprocessing.Process(
                target=client_loop,
                args=(base, key, op, n, args.seconds, args.entities, args.attrs, results),
            )
            for n in range(args.clients)
        ]
        for process in clients:
            process.start()
        for process in clients:
            process.join()
    points = sum(r[0] for r in results.values())
    seconds = max(r[3] for r in results.values())
    latencies = sorted(x for r in results.values() for x in r[1])
    emit(
        benchmark="hub_http_ingest",
        db=kind,
        operation=op,
        clients=args.clients,
        workers=2 if kind == "postgresql" else 1,
        points_per_request=args.entities * args.attrs,
        seconds=round(seconds, 1),
        points_per_s=round(points / seconds),
        requests=len(latencies),
        errors=sum(r[2] for r in results.values()),
        request_p50_ms=round(statistics.median(latencies)) if latencies else None,
        request_p99_ms=round(latencies[max(0, int(len(latencies) * 0.99) - 1)])
        if latencies
        else None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="both", choices=("postgresql", "sqlite", "both"))
    parser.add_argument("--op", default="all", choices=("upsert", "temporal", "iot", "all"))
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--entities", type=int, default=500, help="Entities (or instances).")
    parser.add_argument("--attrs", type=int, default=10)
    args = parser.parse_args()
    for kind in ("postgresql", "sqlite") if args.db == "both" else (args.db,):
        for op in BODIES if args.op == "all" else (args.op,):
            run(kind, op, args)


if __name__ == "__main__":
    main()
